"""Which int8 kernels TFLite-Micro has, and the audit of a model against them.

The audit is the single place that knows them: each op of the model is checked with the types of its
tensors against `TFLM_KERNELS`, taken from TFLM's kernel sources (tensorflow/lite/micro/kernels/*.cc
type checks). The C++ op resolver is generated from the same list (`RESOLVER_METHODS`).
"""
from __future__ import annotations

import collections
import dataclasses

from embbert_tf.flatbuffer import TYPE_NAMES, op_name, read

# Op -> the types TFLM's kernel accepts for the op's main (first) input, in an all-integer model.
# Ops that only move int8 data (RESHAPE, ...) accept any type. Everything else is rejected: GELU, EXP,
# SQRT/SQUARE/LOG in int8, REDUCE_PROD, SELECT, and the QUANTIZE/DEQUANTIZE of float islands.
_INT8 = {"INT8"}
TFLM_KERNELS: dict[str, set[str]] = {
    "FULLY_CONNECTED": _INT8,
    "BATCH_MATMUL": _INT8,
    "SOFTMAX": _INT8,
    "GATHER": {"INT8"},  # params int8, indices int32 (checked below)
    "EMBEDDING_LOOKUP": {"INT32"},  # ids int32, table int8
    "MEAN": _INT8,
    "SUM": _INT8,
    "RSQRT": _INT8,
    "ADD": _INT8,
    "SUB": _INT8,
    "MUL": _INT8,
    "DIV": _INT8,
    "PAD": _INT8,
    "RESHAPE": {"INT8", "INT32"},
    "STRIDED_SLICE": {"INT8", "INT32"},
    "TRANSPOSE": {"INT8", "INT32"},
    "DEPTHWISE_CONV_2D": _INT8,
    "CONV_2D": _INT8,
    "LOGISTIC": _INT8,
    "TANH": _INT8,
    "HARD_SWISH": _INT8,
    "MAX_POOL_2D": _INT8,
    "AVERAGE_POOL_2D": _INT8,
    "CONCATENATION": {"INT8", "INT32"},
    "SPLIT": _INT8,  # checked on its data input (input 0 is the axis)
    "MINIMUM": {"INT8", "INT32"},
    "MAXIMUM": {"INT8", "INT32"},
    "REDUCE_MAX": _INT8,
    "SQUARED_DIFFERENCE": _INT8,
    "EXPAND_DIMS": {"INT8", "INT32"},
    "SQUEEZE": {"INT8", "INT32"},
}

# TFLM's MicroMutableOpResolver method for each op (micro_mutable_op_resolver.h).
RESOLVER_METHODS = {
    name: "Add" + "".join(part.capitalize() for part in name.split("_"))
    for name in TFLM_KERNELS
}
RESOLVER_METHODS.update(
    {"CONV_2D": "AddConv2D", "DEPTHWISE_CONV_2D": "AddDepthwiseConv2D", "MAX_POOL_2D": "AddMaxPool2D",
     "AVERAGE_POOL_2D": "AddAveragePool2D", "BATCH_MATMUL": "AddBatchMatMul", "RSQRT": "AddRsqrt"}
)
# Ops the C++ app runs with kernels of its own (tflm_app/src/, bit-exact with TFLM's reference kernels):
# op -> (registration function, flatbuffer options parser, the C condition of the builds that use ours).
# TFLM's kernel stays one define away (EMBBERT_TFLM_KERNELS, CMake -DEMBBERT_OWN_KERNELS=OFF). LOGISTIC is a
# table lookup (TFLM has no optimized int8 LOGISTIC, CMSIS-NN included); ADD and SUB look each input's
# rescaling up in a table too; MUL runs the model's broadcasts through an elementwise loop (CMSIS-NN's
# vector one where the build has it); MEAN sums rows in a plain loop, except on the Arduino port, whose
# older TFLM rescales the mean differently; DEPTHWISE_CONV_2D reads its windows in place with the DSP
# extension, except on cores with a vector extension (M55), where CMSIS-NN's is faster; FULLY_CONNECTED
# with a 2-D output takes TFLM's own 1x1-convolution path on CMSIS-NN builds for such cores. BATCH_MATMUL
# is ours only where TFLM lacks it, the Arduino port: elsewhere TFLM's (CMSIS-NN's on Arm) is as fast or
# faster.
ARDUINO_PORT = "defined(ARDUINO) || defined(EMBBERT_ARDUINO_PORT)"
OURS = "!defined(EMBBERT_TFLM_KERNELS)"
OWN_KERNELS = {
    "LOGISTIC": ("Register_LOGISTIC", "tflite::ParseLogistic", OURS),
    "MUL": ("Register_MUL", "tflite::ParseMul", OURS),
    "ADD": ("Register_ADD", "tflite::ParseAdd", OURS),
    "SUB": ("Register_SUB", "tflite::ParseSub", OURS),
    "MEAN": ("Register_MEAN", "tflite::ParseReducer", f"{OURS} && !({ARDUINO_PORT})"),
    "DEPTHWISE_CONV_2D": ("Register_DEPTHWISE_CONV_2D", "tflite::ParseDepthwiseConv2D",
                          f"{OURS} && !defined(__ARM_FEATURE_MVE)"),
    "FULLY_CONNECTED": ("Register_FULLY_CONNECTED", "tflite::ParseFullyConnected",
                        f"{OURS} && defined(CMSIS_NN) && !defined(__ARM_FEATURE_MVE) && !({ARDUINO_PORT})"),
    "BATCH_MATMUL": ("Register_BATCH_MATMUL", "ParseBatchMatMul", ARDUINO_PORT),
}


@dataclasses.dataclass
class Audit:
    ops: dict[str, int]  # op -> count, in first-use order
    op_types: list[dict]  # one row per distinct (op, input types, output types)
    tensor_types: dict[str, int]
    float_tensors: list[str]
    problems: list[str]  # empty when TFLM runs every op in int8

    @property
    def fully_int8(self) -> bool:
        return not self.float_tensors and not self.problems


def audit(data: bytes, source: str = "model") -> Audit:
    model = read(data, source)
    if len(model.subgraphs) != 1:
        return Audit({}, [], {}, [], [f"{len(model.subgraphs)} subgraphs; expected 1"])
    sg = model.subgraphs[0]

    def ttype(i):
        return TYPE_NAMES[sg.tensors[i].type] if i >= 0 else None

    ops: dict[str, int] = collections.OrderedDict()
    rows: dict[tuple, dict] = collections.OrderedDict()
    problems = []
    for op in sg.operators:
        name = op_name(model, op)
        ops[name] = ops.get(name, 0) + 1
        ins = tuple(ttype(i) for i in op.inputs if i >= 0)
        outs = tuple(ttype(i) for i in op.outputs)
        key = (name, ins, outs)
        if key not in rows:
            rows[key] = {"op": name, "inputs": list(ins), "outputs": list(outs), "count": 0}
        rows[key]["count"] += 1
    for (name, ins, outs), row in rows.items():
        main = ins[1] if name in ("EMBEDDING_LOOKUP", "SPLIT") else ins[0]
        allowed = TFLM_KERNELS.get(name)
        if allowed is None:
            problems.append(f"{name}: TFLM has no int8 kernel for this op")
        elif name == "EMBEDDING_LOOKUP":
            if ins[0] != "INT32" or ins[1] != "INT8":
                problems.append(f"{name}({', '.join(ins)}): TFLM needs int32 ids and an int8 table")
        elif name == "GATHER" and (ins[0] not in allowed or ins[1] != "INT32"):
            problems.append(f"{name}({', '.join(ins)}): TFLM needs int8 params and int32 indices")
        elif main not in allowed:
            problems.append(f"{name}({', '.join(ins)}): TFLM's kernel does not take {main} input")
    types = collections.Counter(TYPE_NAMES[t.type] for t in sg.tensors)
    floats = [t.name.decode() if isinstance(t.name, bytes) else str(t.name)
              for t in sg.tensors if TYPE_NAMES[t.type] in ("FLOAT32", "FLOAT16")]
    return Audit(dict(ops), list(rows.values()), dict(types), floats, problems)
