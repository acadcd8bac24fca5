"""The same int8 flatbuffer on LiteRT (ai-edge-litert), TFLite's own runtime: what the TFLM results are
compared with."""
from __future__ import annotations

import numpy as np
from tqdm import tqdm

from embbert_tf.micro import dequantize


class LiteRT:
    """The same int8 flatbuffer on LiteRT (ai-edge-litert), TFLite's own runtime, for comparison."""

    def __init__(self, model: bytes):
        from ai_edge_litert import interpreter as litert

        self._it = litert.Interpreter(model_content=model, num_threads=1)
        self._it.allocate_tensors()
        self._in = self._it.get_input_details()[0]["index"]
        out = self._it.get_output_details()[0]
        self._out = out["index"]
        self.output_scale, self.output_zero = out["quantization"]

    def run(self, ids: np.ndarray, progress: str | None = None) -> tuple[np.ndarray, np.ndarray]:
        raw = []
        for x in tqdm(ids, desc=progress, leave=False, disable=progress is None, unit="ex"):
            self._it.set_tensor(self._in, np.asarray(x, np.int32)[None])
            self._it.invoke()
            raw.append(self._it.get_tensor(self._out)[0].copy())
        raw = np.stack(raw)
        return raw, dequantize(raw, self.output_scale, self.output_zero)
