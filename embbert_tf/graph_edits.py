"""Edits to an int8 model's graph that change no output bit: attention computed in blocks of query rows,
internal tensor names dropped."""
from __future__ import annotations

import collections
import copy

import numpy as np
from tensorflow.lite.python import schema_py_generated as fb

from embbert_tf.flatbuffer import op_name, pack, read

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
