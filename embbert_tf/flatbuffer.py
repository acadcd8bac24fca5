"""The `.tflite` flatbuffer format: reading it into TFLite's object API (with one-line errors for damaged
files), op and type names, and packing it back the way the converter does (16-byte aligned buffers,
shared quantization tables). What TFLM can run is `tflm_kernels`; edits to the graph are `graph_edits`
and `op_order`.
"""
from __future__ import annotations

import flatbuffers
import numpy as np
from tensorflow.lite.python import schema_py_generated as fb

from embbert_tf.errors import UserError

OP_NAMES = {v: k for k, v in vars(fb.BuiltinOperator).items() if not k.startswith("_")}
TYPE_NAMES = {v: k for k, v in vars(fb.TensorType).items() if not k.startswith("_")}
_TYPE_BYTES = {"FLOAT32": 4, "INT32": 4, "INT8": 1, "UINT8": 1, "INT16": 2, "INT64": 8, "BOOL": 1, "FLOAT16": 2}


def read(data: bytes, source: str = "model") -> fb.ModelT:
    """Parse a .tflite flatbuffer; a malformed one is a UserError, not a crash deep in TFLite."""
    if len(data) < 8 or data[4:8] != b"TFL3":
        raise UserError(f"{source} is not a TFLite flatbuffer (no TFL3 identifier); re-export the model")
    try:
        return fb.ModelT.InitFromObj(fb.Model.GetRootAsModel(data, 0))
    except Exception as e:  # flatbuffers raises bare struct/index errors on truncation
        import struct

        if isinstance(e, (struct.error, IndexError)):
            what = (f"its tables point past the end of its {len(data):,} bytes, so the file was cut short or "
                    "overwritten")
        else:
            what = f"reading its tables failed ({str(e).strip() or type(e).__name__})"
        raise UserError(f"{source} is a damaged TFLite flatbuffer: {what}; re-export the model") from None


def op_name(model: fb.ModelT, op) -> str:
    code = model.operatorCodes[op.opcodeIndex]
    return OP_NAMES.get(max(code.builtinCode, code.deprecatedBuiltinCode), f"OP_{code.builtinCode}")


def tensor_bytes(t) -> int:
    shape = t.shape if t.shape is not None else []
    return int(np.prod(shape, dtype=np.int64)) * _TYPE_BYTES.get(TYPE_NAMES[t.type], 4)


class _AlignedBuffer(fb.BufferT):
    """A BufferT that packs its bytes 16-byte aligned, as the converter does (TFLM reads int32 biases
    and int8 weights in place; the stock object API would align them to 1 byte)."""

    def Pack(self, builder):
        data = None
        if self.data is not None and len(self.data):
            payload = np.asarray(self.data, np.uint8).tobytes()
            builder.StartVector(1, len(payload), 16)
            builder.head -= len(payload)
            builder.Bytes[builder.head : builder.head + len(payload)] = payload
            data = builder.EndVector()
        fb.BufferStart(builder)
        if data is not None:
            fb.BufferAddData(builder, data)
        fb.BufferAddOffset(builder, self.offset)
        fb.BufferAddSize(builder, self.size)
        return fb.BufferEnd(builder)


class _SharedQuantization:
    """Packs identical quantization parameters once; tensors then point at the same table (valid flatbuffer
    sharing, read the same by TFLM and LiteRT), which saves flash on every model."""

    def __init__(self, params, cache: dict):
        self.params = params.params if isinstance(params, _SharedQuantization) else params
        q = self.params
        arrays = (q.scale, q.zeroPoint, q.min, q.max)
        self.key = tuple(None if a is None else tuple(np.asarray(a).tolist()) for a in arrays) + (
            q.quantizedDimension, q.detailsType)
        self.cache = cache

    def Pack(self, builder):
        if self.params.details is not None:
            return self.params.Pack(builder)
        if self.key not in self.cache:
            self.cache[self.key] = self.params.Pack(builder)
        return self.cache[self.key]


def pack(model: fb.ModelT) -> bytes:
    cache = {}
    for sg in model.subgraphs:
        for t in sg.tensors:
            if t.quantization is not None:
                t.quantization = _SharedQuantization(t.quantization, cache)
    for i, b in enumerate(model.buffers):
        aligned = _AlignedBuffer()
        aligned.data, aligned.offset, aligned.size = b.data, b.offset, b.size
        model.buffers[i] = aligned
    builder = flatbuffers.Builder(1024)
    builder.Finish(model.Pack(builder), file_identifier=b"TFL3")
    return bytes(builder.Output())
