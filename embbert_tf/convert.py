"""Keras EmbBERT -> fully-int8 TFLite flatbuffer for TFLite-Micro.

Batch is fixed at 1 (a dynamic batch brings SHAPE/REDUCE_PROD arithmetic TFLM cannot run), token ids
stay int32 (TFLM's GATHER takes int32 indices), every other tensor is int8, logits come out int8.
"""
from __future__ import annotations

import numpy as np
import tensorflow as tf
import tf_keras as keras

from embbert_tf import graph_edits, micro, op_order
from embbert_tf.quiet import capture_fd



def to_int8_tflite(
    model: keras.Model,
    representative_ids: np.ndarray,
    *,
    per_channel: bool = False,
    reorder: bool = True,
    keep_names: bool = False,
) -> bytes:
    """Convert a float or QAT (tfmot) classifier. `representative_ids` (N, L) calibrates activations;
    for a QAT model the converter uses the trained fake-quant ranges and calibrates the rest. Internal tensor
    names are dropped, and the attention blocking and operator order chosen for the smallest flash + arena,
    unless asked not to; none of this changes an output bit."""
    length = int(representative_ids.shape[1])
    spec = tf.TensorSpec((1, length), tf.int32, name="input_ids")
    fn = tf.function(lambda ids: model(ids, training=False), input_signature=[spec])
    converter = tf.lite.TFLiteConverter.from_concrete_functions([fn.get_concrete_function()], model)
    converter.optimizations = [tf.lite.Optimize.DEFAULT]
    converter.representative_dataset = lambda: ([representative_ids[i : i + 1].astype(np.int32)]
                                                 for i in range(len(representative_ids)))
    converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
    converter.inference_output_type = tf.int8  # the int32 ids input is left as it is
    converter._experimental_disable_per_channel = not per_channel
    with capture_fd(2):  # the MLIR converter prints pages of C++ logging; keep it off the terminal
        data = converter.convert()
    if not keep_names:
        data = graph_edits.strip_names(data)
    if reorder:
        data = smallest_footprint(data, representative_ids[0])
    return data


def smallest_footprint(data: bytes, ids: np.ndarray, chunks=(1, 2, 4, 8)) -> bytes:
    """The attention computed in 1, 2, 4 or 8 blocks of query rows (graph_edits.chunk_attention), each in its
    smallest-arena operator order; the smallest flash + arena wins. Blocks pay off at long sequences, where
    the L×L scores hold the arena peak; each block costs a little flash and per-op arena metadata."""
    length = len(ids)
    best = None
    for c in chunks:
        if length % c or (c > 1 and length // c < 16):
            continue
        arena, candidate = _smallest_arena(graph_edits.chunk_attention(data, c), ids)
        if best is None or len(candidate) + arena < best[0]:
            best = (len(candidate) + arena, candidate)
    return best[1]


def smallest_arena_order(data: bytes, ids: np.ndarray) -> bytes:
    """Re-order operators for the smallest TFLM arena: the converter's order and the best candidate orders
    by simulated liveness are each measured on the TFLM interpreter, and the smallest arena wins."""
    return _smallest_arena(data, ids)[1]


def _smallest_arena(data: bytes, ids: np.ndarray) -> tuple[int, bytes]:
    """(arena, flatbuffer) of smallest_arena_order."""
    schedule = op_order.Schedule(data)
    best = None
    for order in schedule.candidates():
        candidate = schedule.apply(order)
        arena = micro.minimal_arena(candidate, ids)
        if best is None or arena < best[0]:
            best = (arena, candidate)
    return best


def sample_ids(ids: np.ndarray, n: int, seed: int) -> np.ndarray:
    """A seeded sample of rows: the representative data that calibrates the int8 ranges."""
    index = np.random.default_rng(seed).permutation(len(ids))[: min(n, len(ids))]
    return ids[np.sort(index)]
