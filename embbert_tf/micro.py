"""Running int8 models on the x86 TFLite-Micro reference interpreter (LiteRT, for comparison: litert.py).

TFLM reports problems as text on the C-level stderr and a bare RuntimeError; the helpers here capture
that text and turn it into one-line errors. The smallest arena is found by bisection, since the Python
interpreter has no arena_used_bytes(). TFLM runs one example at a time on one core, so a long evaluation
is spread over processes, each with its own interpreter.
"""
from __future__ import annotations

import concurrent.futures
import multiprocessing
import os
import re

import numpy as np
from tqdm import tqdm

from embbert_tf import flatbuffer
from embbert_tf.errors import UserError
from embbert_tf.quiet import capture_fd

ARENA_ALIGN = 16
LARGE_ARENA = 64 << 20
CHUNK = 256  # examples per task handed to a worker process


def default_workers() -> int:
    """The CPUs this process may use."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def processes(examples: int, workers: int) -> int:
    """How many processes TFLM.run uses: a worker takes seconds to start (it imports the parent's main
    module), so sets of three chunks or fewer (768 examples) stay in the calling process."""
    chunks = -(-examples // CHUNK)
    return min(workers, chunks) if chunks >= 4 else 1


def dequantize(raw: np.ndarray, scale: float, zero_point: int) -> np.ndarray:
    """int8 outputs -> the float logits they stand for."""
    return (raw.astype(np.float32) - zero_point) * scale


def _runtime():
    try:
        from tflite_micro.python.tflite_micro import runtime
    except ImportError:  # the wheel exists for Linux only
        raise UserError("the TFLM interpreter (`pip install tflite-micro`, Linux x86-64/aarch64) is missing") from None
    return runtime


def _tflm_message(log: str) -> str:
    lines = [l.strip() for l in log.splitlines() if l.strip()]
    for key in ("missing", "Didn't find op", "not supported", "failed", "Failed"):
        for l in lines:
            if key in l:
                return l
    return lines[-1] if lines else "no message"


def _load(model: bytes, arena_size: int):
    """-> (interpreter or None, TFLM's message when it failed)."""
    with capture_fd(2) as log:
        try:
            return _runtime().Interpreter.from_bytes(model, arena_size=arena_size), None
        except RuntimeError:
            pass
    return None, _tflm_message(log[0])


class TFLM:
    """A TFLM interpreter for one model and arena size."""

    def __init__(self, model: bytes, arena_size: int | None = None):
        flatbuffer.read(model)  # malformed bytes: a clear error, not a crash inside TFLM
        self.model = model
        self.arena_size = arena_size or LARGE_ARENA
        self._it, message = _load(model, self.arena_size)
        if self._it is None:
            # A short arena shows up as many different TFLM messages ("Too many buffers", a kernel that
            # failed to prepare, ...). It was the arena if the same model loads in a large one.
            if self.arena_size < LARGE_ARENA and _load(model, LARGE_ARENA)[0] is not None:
                raise UserError(
                    f"tensor arena of {self.arena_size} bytes is too small for this model (TFLM: {message}); "
                    "give it the arena measured by minimal_arena() or more"
                )
            raise UserError(f"TFLM cannot load the model: {message}")
        details = self._it.get_output_details(0)
        q = details["quantization_parameters"]
        self.output_scale, self.output_zero = float(q["scales"][0]), int(q["zero_points"][0])

    def invoke_raw(self, ids: np.ndarray) -> np.ndarray:
        """One example (L,) int32 -> raw int8 outputs (C,)."""
        self._it.set_input(np.asarray(ids, np.int32)[None], 0)
        with capture_fd(2) as log:
            try:
                self._it.invoke()
                error = None
            except RuntimeError as e:
                error = e
        if error is not None:
            raise UserError(f"TFLM invoke failed: {_tflm_message(log[0])}")
        return self._it.get_output(0)[0].copy()

    def dequantize(self, raw: np.ndarray) -> np.ndarray:
        return dequantize(raw, self.output_scale, self.output_zero)

    def run(self, ids: np.ndarray, progress: str | None = None, workers: int = 1) -> tuple[np.ndarray, np.ndarray]:
        """(N, L) ids -> (raw int8 (N, C), dequantized float (N, C)). Chunks of the examples run in
        processes(N, workers) processes; the outputs are the same."""
        ids = np.asarray(ids, np.int32)
        n = processes(len(ids), workers)
        if n > 1:
            raw = self._run_parallel(ids, progress, n)
        else:
            raw = self.invoke_all(tqdm(ids, desc=progress, leave=False, disable=progress is None, unit="ex"))
        return raw, self.dequantize(raw)

    def invoke_all(self, ids) -> np.ndarray:
        """Examples one by one -> raw int8 outputs (N, C)."""
        return np.stack([self.invoke_raw(x) for x in ids])

    def _run_parallel(self, ids: np.ndarray, progress: str | None, workers: int) -> np.ndarray:
        chunks = [ids[i:i + CHUNK] for i in range(0, len(ids), CHUNK)]
        # spawn, not fork: the parent usually holds TensorFlow's thread pools, which fork can deadlock.
        with concurrent.futures.ProcessPoolExecutor(workers, multiprocessing.get_context("spawn"),
                                                    _worker_start, (self.model, self.arena_size)) as pool, \
                tqdm(total=len(ids), desc=progress, leave=False, disable=progress is None, unit="ex") as bar:
            futures = [pool.submit(_worker_run, chunk) for chunk in chunks]
            raw = []
            for chunk, future in zip(chunks, futures):
                try:
                    raw.append(future.result())
                except concurrent.futures.process.BrokenProcessPool:
                    raise UserError("a TFLM worker process died; run with one worker (--eval_workers=1) to see "
                                    "TFLM's message") from None
                bar.update(len(chunk))
        return np.concatenate(raw)

    def allocations(self) -> dict:
        """TFLM's RecordingMicroAllocator summary for this arena (after one invoke)."""
        with capture_fd(2) as log, capture_fd(1) as out:
            self._it.print_allocations()
        text = log[0] + out[0]
        found = {k: re.search(rf"Arena allocation {k} (\d+) bytes", text) for k in ("total", "head", "tail")}
        summary = {k: int(m.group(1)) for k, m in found.items() if m}
        lines = [l.replace("[RecordingMicroAllocator] ", "").strip() for l in text.splitlines() if l.strip()]
        return {**summary, "lines": lines}


_WORKER: TFLM | None = None  # the interpreter of a worker process


def _worker_start(model: bytes, arena_size: int):
    global _WORKER
    _WORKER = TFLM(model, arena_size)


def _worker_run(ids: np.ndarray) -> np.ndarray:
    return _WORKER.invoke_all(ids)


def _runs(model: bytes, arena: int, ids: np.ndarray) -> bool:
    it, _ = _load(model, arena)
    if it is None:
        return False
    it.set_input(np.asarray(ids, np.int32)[None], 0)
    with capture_fd(2):
        try:
            it.invoke()
            return True
        except RuntimeError:
            return False


def minimal_arena(model: bytes, ids: np.ndarray) -> int:
    """The smallest arena (to 16 bytes) in which TFLM allocates and invokes the model on `ids`."""
    TFLM(model).invoke_raw(ids)  # a model TFLM cannot run at all fails here, with its reason
    lo, hi = 0, LARGE_ARENA
    while hi - lo > ARENA_ALIGN:
        mid = (lo + hi) // 2 // ARENA_ALIGN * ARENA_ALIGN
        if _runs(model, mid, ids):
            hi = mid
        else:
            lo = mid
    return hi
