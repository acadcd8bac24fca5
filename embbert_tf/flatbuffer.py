"""Reading, auditing and re-scheduling `.tflite` flatbuffers for TFLite-Micro.

The audit is the single place that knows which int8 kernels TFLM has: each op of the model is checked
with the types of its tensors against `TFLM_KERNELS`, taken from TFLM's kernel sources
(tensorflow/lite/micro/kernels/*.cc type checks). The C++ op resolver is generated from the same list.
"""
from __future__ import annotations

import collections
import copy
import dataclasses
import itertools

import flatbuffers
import numpy as np
from tensorflow.lite.python import schema_py_generated as fb

from embbert_tf.errors import UserError

OP_NAMES = {v: k for k, v in vars(fb.BuiltinOperator).items() if not k.startswith("_")}
TYPE_NAMES = {v: k for k, v in vars(fb.TensorType).items() if not k.startswith("_")}
_TYPE_BYTES = {"FLOAT32": 4, "INT32": 4, "INT8": 1, "UINT8": 1, "INT16": 2, "INT64": 8, "BOOL": 1, "FLOAT16": 2}

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


# --- operator re-scheduling ---------------------------------------------------------------------


def _tensor_bytes(t) -> int:
    shape = t.shape if t.shape is not None else []
    return int(np.prod(shape, dtype=np.int64)) * _TYPE_BYTES.get(TYPE_NAMES[t.type], 4)


class Schedule:
    """The operator graph of a one-subgraph model, for trying execution orders.

    TFLM plans activations by liveness in execution order, so the order decides the arena. The converter
    runs EmbBERT's conv branch before its attention branch: the conv output is then alive while the two
    L×L attention tensors are. Orders here are topological by construction, so every op still reads the
    same inputs and outputs are bit-identical; only the peak of live activations changes.
    """

    def __init__(self, data: bytes):
        self.model = read(data)
        sg = self.model.subgraphs[0]
        self.ops = list(sg.operators)
        buffers = self.model.buffers
        self.constant = {i for i, t in enumerate(sg.tensors)
                         if buffers[t.buffer].data is not None and len(buffers[t.buffer].data)}
        self.size = [_tensor_bytes(t) for t in sg.tensors]
        self.inputs = [sorted({i for i in op.inputs if i >= 0 and i not in self.constant}) for op in self.ops]
        self.graph_inputs = {int(i) for i in sg.inputs}
        self.graph_outputs = {int(i) for i in sg.outputs}
        producer = {o: k for k, op in enumerate(self.ops) for o in op.outputs}
        self.deps = [{producer[i] for i in ins if i in producer} for ins in self.inputs]
        self.users = [[] for _ in self.ops]
        for k, deps in enumerate(self.deps):
            for d in deps:
                self.users[d].append(k)

    def profile(self, order: list[int]) -> tuple[int, ...]:
        """Live activation bytes at each op of `order` (its inputs and outputs coexist), largest first.

        Compared as tuples, a lower profile has a lower peak, or the same peak and a lower next-highest
        step, ... so improving one layer counts even while another layer holds the peak."""
        last = {}
        for pos, k in enumerate(order):
            for i in self.inputs[k]:
                last[i] = pos
        live = sum(self.size[i] for i in self.graph_inputs)
        steps = []
        for pos, k in enumerate(order):
            live += sum(self.size[o] for o in self.ops[k].outputs)
            steps.append(live)
            live -= sum(self.size[i] for i in self.inputs[k] if last[i] == pos and i not in self.graph_outputs
                        and i not in self.graph_inputs)
        return tuple(sorted(steps, reverse=True))

    def depth_first(self, rank: list[int]) -> list[int]:
        """A topological order that finishes a branch before it starts another; where several ops become
        ready together, the one with the lowest rank runs first."""
        waiting = [len(d) for d in self.deps]
        stack = sorted((k for k, n in enumerate(waiting) if n == 0), key=lambda k: -rank[k])
        order = []
        while stack:
            k = stack.pop()
            order.append(k)
            stack.extend(sorted((u for u in self.users[k] if not _release(waiting, u)), key=lambda u: -rank[u]))
        return order

    def candidates(self, passes: int = 2, keep: int = 3) -> list[list[int]]:
        """The original order, then the best depth-first orders found by trying, fork by fork, every order
        of the branches that leave it (coordinate descent on the simulated peak)."""
        rank = list(range(len(self.ops)))
        best = self.depth_first(rank)
        seen = {tuple(best): self.profile(best)}
        forks = [k for k, users in enumerate(self.users) if len(users) > 1]
        for _ in range(passes):
            for fork in forks:
                users = self.users[fork]
                slots = sorted(rank[u] for u in users)
                for perm in _branch_orders(sorted(users, key=lambda u: rank[u])):
                    trial = list(rank)
                    for slot, u in zip(slots, perm):
                        trial[u] = slot
                    order = self.depth_first(trial)
                    profile = seen.setdefault(tuple(order), self.profile(order))
                    if profile < seen[tuple(best)]:
                        best, rank = order, trial
        original = list(range(len(self.ops)))
        ranked = sorted(seen, key=seen.get)[:keep]
        return [original] + [list(o) for o in ranked if list(o) != original]

    def apply(self, order: list[int]) -> bytes:
        self.model.subgraphs[0].operators = [self.ops[k] for k in order]
        data = pack(self.model)
        self.model.subgraphs[0].operators = self.ops
        return data


def _branch_orders(users: list[int]):
    """Every order of up to 5 branches; for wider forks, each branch moved to the front."""
    if len(users) <= 5:
        return itertools.permutations(users)
    return ([u, *(v for v in users if v != u)] for u in users)


def _release(waiting: list[int], k: int) -> int:
    waiting[k] -= 1
    return waiting[k]


def _opcode(model: fb.ModelT, name: str) -> int:
    """Index of builtin op `name` in the model's operator codes, added if missing."""
    code = getattr(fb.BuiltinOperator, name)
    for k, c in enumerate(model.operatorCodes):
        if max(c.builtinCode, c.deprecatedBuiltinCode) == code:
            return k
    new = fb.OperatorCodeT()
    new.builtinCode, new.deprecatedBuiltinCode, new.version = code, min(code, 127), 1
    model.operatorCodes.append(new)
    return len(model.operatorCodes) - 1


def _constant_int32(model: fb.ModelT, values, scalar: bool = False) -> int:
    sg = model.subgraphs[0]
    buffer = fb.BufferT()
    buffer.data = np.asarray(values, np.int32).view(np.uint8)
    model.buffers.append(buffer)
    tensor = fb.TensorT()
    tensor.shape = np.array([] if scalar else [len(values)], np.int32)
    tensor.type, tensor.buffer, tensor.name = fb.TensorType.INT32, len(model.buffers) - 1, b""
    sg.tensors.append(tensor)
    return len(sg.tensors) - 1


def _activation_like(model: fb.ModelT, index: int, shape, reuse: bool = False) -> int:
    """A new activation tensor with the type and quantization of tensor `index`, of another shape (or, with
    `reuse`, tensor `index` itself reshaped)."""
    sg = model.subgraphs[0]
    tensor = sg.tensors[index] if reuse else copy.copy(sg.tensors[index])
    tensor.shape, tensor.shapeSignature = np.array(shape, np.int32), None
    if reuse:
        return index
    tensor.name, tensor.buffer = b"", 0
    sg.tensors.append(tensor)
    return len(sg.tensors) - 1


def chunk_attention(data: bytes, chunks: int) -> bytes:
    """Compute every attention in `chunks` blocks of query rows: the two L×L int8 tensors (scores and
    probabilities) shrink to L/chunks × L, which is what holds TFLM's arena peak at long sequences.

    The pattern is EmbBERT's: S = BATCH_MATMUL(Q, x̂) -> ADD(S, mask) -> SOFTMAX -> BATCH_MATMUL(P, x̂ᵀ).
    SPLIT cuts Q into blocks, each block runs the same four ops on fewer rows, and CONCATENATION joins the
    blocks with the quantization of the original output. Every query row is computed exactly as before, so the
    outputs are bit-identical; only already-used kernels (plus CONCATENATION's copy) run."""
    if chunks <= 1:
        return data
    model = read(data)
    sg = model.subgraphs[0]
    ops = list(sg.operators)
    name = lambda op: op_name(model, op)  # noqa: E731
    producer = {int(o): op for op in ops for o in op.outputs}
    users = collections.defaultdict(list)
    for op in ops:
        for i in op.inputs:
            users[int(i)].append(op)
    replace = {}  # id(final BATCH_MATMUL) -> new ops; the other three ops of the pattern are dropped
    dropped = set()
    for softmax in (op for op in ops if name(op) == "SOFTMAX"):
        add = producer.get(int(softmax.inputs[0]))
        if add is None or name(add) != "ADD":
            continue
        scores = next((producer[int(i)] for i in add.inputs if int(i) in producer
                       and name(producer[int(i)]) == "BATCH_MATMUL"), None)
        after = users[int(softmax.outputs[0])]
        if scores is None or len(after) != 1 or name(after[0]) != "BATCH_MATMUL" or \
                len(users[int(scores.outputs[0])]) != 1 or len(users[int(add.outputs[0])]) != 1:
            continue
        context = after[0]
        s_out, mask = int(scores.outputs[0]), [int(i) for i in add.inputs if int(i) != int(scores.outputs[0])][0]
        q, keys = (int(i) for i in scores.inputs)
        rows = int(sg.tensors[s_out].shape[1])
        if rows % chunks or sg.tensors[mask].shape[-2] != 1:
            continue  # the mask must broadcast over query rows
        size = rows // chunks
        q_shape, c_shape = list(sg.tensors[q].shape), list(sg.tensors[int(context.outputs[0])].shape)
        # One SPLIT: Q is freed at once and each block of it as soon as its scores are made.
        q_blocks = [_activation_like(model, q, [q_shape[0], size, *q_shape[2:]]) for _ in range(chunks)]
        split = fb.OperatorT()
        split.opcodeIndex = _opcode(model, "SPLIT")
        split.inputs = np.array([_constant_int32(model, [1], scalar=True), q], np.int32)
        split.outputs = np.array(q_blocks, np.int32)
        split_options = fb.SplitOptionsT()
        split_options.numSplits = chunks
        split.builtinOptionsType, split.builtinOptions = fb.BuiltinOptions.SplitOptions, split_options
        s_shape = [1, size, int(sg.tensors[s_out].shape[2])]
        pieces, new_ops = [], [split]
        for c, q_c in enumerate(q_blocks):
            # The first block takes over the replaced ops' tensors: TFLM rejects tensors no op uses.
            s_c, m_c, p_c = (_activation_like(model, int(t), s_shape, reuse=c == 0)
                             for t in (s_out, add.outputs[0], softmax.outputs[0]))
            ctx_c = _activation_like(model, int(context.outputs[0]), [c_shape[0], size, *c_shape[2:]])
            chain = []
            for template, ins, out in ((scores, [q_c, keys], s_c),
                                       (add, [s_c if int(i) == s_out else mask for i in add.inputs], m_c),
                                       (softmax, [m_c], p_c),
                                       (context, [p_c, int(context.inputs[1])], ctx_c)):
                op = copy.copy(template)
                op.inputs, op.outputs = np.array(ins, np.int32), np.array([out], np.int32)
                chain.append(op)
            new_ops += chain
            pieces.append(ctx_c)
        concat = fb.OperatorT()
        concat.opcodeIndex = _opcode(model, "CONCATENATION")
        concat.inputs, concat.outputs = np.array(pieces, np.int32), np.array(context.outputs, np.int32)
        options = fb.ConcatenationOptionsT()
        options.axis = 1
        concat.builtinOptionsType, concat.builtinOptions = fb.BuiltinOptions.ConcatenationOptions, options
        replace[id(context)] = new_ops + [concat]
        dropped |= {id(scores), id(add), id(softmax)}
    if not replace:
        return data
    sg.operators = [new for op in ops if id(op) not in dropped for new in replace.get(id(op), [op])]
    return pack(model)


def strip_names(data: bytes) -> bytes:
    """Drop the names of internal tensors (graph inputs and outputs keep theirs): about 13 kB of flash for
    EmbBERT that TFLM never reads."""
    model = read(data)
    sg = model.subgraphs[0]
    keep = {int(i) for i in sg.inputs} | {int(i) for i in sg.outputs}
    for i, tensor in enumerate(sg.tensors):
        if i not in keep:
            tensor.name = b""
    return pack(model)


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
