"""Masked-LM (+ optional next-sentence) pre-training of the EmbBERT backbone, as plain model.fit.

The corpus is tokenized once into a flat id stream (cached as .npy). Training examples are cut from it on
the fly: `[CLS] A [SEP]` of L tokens, or with NSP `[CLS] A [SEP] B [SEP]` where B continues A (label 0,
"IsNext") or is taken from elsewhere (label 1), as in the reference code. Masking is tensorflow-text's
`mask_language_model`: 15 % of tokens, 80 % [MASK] / 10 % random / 10 % kept, special tokens never.
The MLM head (Linear d -> V with bias, not tied) only sees the masked positions, which keeps its
d×V matmul at 15 % of the sequence.
"""
from __future__ import annotations

import gzip
import json
import math
import os
from typing import Iterator

import numpy as np
import tensorflow as tf
import tensorflow_text as text
import tf_keras as keras

from embbert_tf import layers as L
from embbert_tf.config import CLS_ID, MASK_ID, PAD_ID, SEP_ID, SPECIAL_TOKENS, EmbBERTConfig
from embbert_tf.errors import UserError
from embbert_tf.model import encoder
from embbert_tf.tokenizer import Tokenizer

MASK_RATE = 0.15


def max_predictions(length: int) -> int:
    return int(math.ceil(MASK_RATE * length))


# --- corpus ---------------------------------------------------------------------------------------


def read_texts(paths: list[str], limit_chars: int | None = None) -> Iterator[str]:
    """Paragraphs from .jsonl(.gz) files with a "text" field (one paragraph per line) or plain .txt."""
    total = 0
    for path in paths:
        if not os.path.exists(path):
            raise UserError(f"pre-training text {path} does not exist; pass files with --corpus")
        opener = gzip.open if path.endswith(".gz") else open
        with opener(path, "rt", encoding="utf-8") as f:
            for line in f:
                if path.endswith((".jsonl", ".jsonl.gz")):
                    try:
                        paragraphs = json.loads(line)["text"].split("\n")
                    except (ValueError, KeyError):
                        raise UserError(f"{path}: a line is not JSON with a 'text' field; fix or remove it") from None
                else:
                    paragraphs = [line]
                for p in paragraphs:
                    p = p.strip()
                    if p:
                        yield p
                        total += len(p)
                        if limit_chars and total >= limit_chars:
                            return


def tokenize_corpus(tokenizer: Tokenizer, paths: list[str], cache: str | None = None,
                    limit_chars: int | None = None, batch: int = 2048) -> np.ndarray:
    """All paragraphs as one stream of word-piece ids (uint16). No separators: a [SEP] inside a training
    span would start segment 2 there."""
    if cache and os.path.exists(cache):
        return np.load(cache, mmap_mode="r")
    chunks, buffer = [], []
    for paragraph in read_texts(paths, limit_chars):
        buffer.append(paragraph)
        if len(buffer) == batch:
            chunks.extend(np.asarray(p, np.uint16) for p in tokenizer.tokenize(buffer) if p)
            buffer = []
    if buffer:
        chunks.extend(np.asarray(p, np.uint16) for p in tokenizer.tokenize(buffer) if p)
    if not chunks:
        raise UserError(f"no text found in {', '.join(paths)}")
    stream = np.concatenate(chunks).astype(np.uint16)
    if cache:
        os.makedirs(os.path.dirname(cache) or ".", exist_ok=True)
        np.save(cache, stream)
    return stream


# --- examples -------------------------------------------------------------------------------------


def examples(stream: np.ndarray, length: int, nsp: bool, seed: int) -> Iterator[tuple[np.ndarray, int]]:
    """Endless (ids of `length`, nsp label) from random places in the stream."""
    rng = np.random.default_rng(seed)
    body = length - (3 if nsp else 2)
    n = len(stream) - body - 1
    if n <= 0:
        raise UserError(f"the pre-training corpus has {len(stream)} tokens, fewer than one sequence of {length}")
    while True:
        start = int(rng.integers(0, n))
        if not nsp:
            ids = [CLS_ID, *stream[start : start + body], SEP_ID]
            yield np.asarray(ids, np.int32), 0
            continue
        a = int(rng.integers(max(1, body // 4), body - max(1, body // 4) + 1))
        first = stream[start : start + a]
        if rng.random() < 0.5:
            second, label = stream[start + a : start + body], 0
        else:
            other = int(rng.integers(0, n))
            second, label = stream[other : other + body - a], 1
        yield np.asarray([CLS_ID, *first, SEP_ID, *second, SEP_ID], np.int32), label


def dataset(stream: np.ndarray, length: int, batch_size: int, vocab_size: int, nsp: bool, seed: int) -> tf.data.Dataset:
    """Batches of ({input_ids, masked_positions}, {mlm labels + weights, nsp label})."""
    predictions = max_predictions(length)
    ds = tf.data.Dataset.from_generator(
        lambda: examples(stream, length, nsp, seed),
        output_signature=(tf.TensorSpec((length,), tf.int32), tf.TensorSpec((), tf.int32)),
    ).batch(batch_size, drop_remainder=True)
    selector = text.RandomItemSelector(max_selections_per_batch=predictions, selection_rate=MASK_RATE,
                                       unselectable_ids=list(range(len(SPECIAL_TOKENS))))
    chooser = text.MaskValuesChooser(vocab_size, MASK_ID, mask_token_rate=0.8, random_token_rate=0.1)

    def mask(ids, nsp_label):
        ragged = tf.RaggedTensor.from_tensor(ids)
        masked, positions, targets = text.mask_language_model(ragged, selector, chooser)
        weights = tf.ones_like(targets, tf.float32)
        features = {"input_ids": masked.to_tensor(shape=[batch_size, length], default_value=PAD_ID),
                    "masked_positions": positions.to_tensor(shape=[batch_size, predictions])}
        labels = {"mlm": targets.to_tensor(shape=[batch_size, predictions]), "nsp": nsp_label}
        sample_weights = {"mlm": weights.to_tensor(shape=[batch_size, predictions]),
                          "nsp": tf.ones_like(nsp_label, tf.float32) if nsp else tf.zeros_like(nsp_label, tf.float32)}
        return features, labels, sample_weights

    options = tf.data.Options()
    # The generator cannot be split by file; multi-worker runs seed each worker differently instead.
    options.experimental_distribute.auto_shard_policy = tf.data.experimental.AutoShardPolicy.OFF
    return ds.map(mask, num_parallel_calls=tf.data.AUTOTUNE).prefetch(tf.data.AUTOTUNE).with_options(options)


# --- model ----------------------------------------------------------------------------------------


@keras.utils.register_keras_serializable("embbert")
class GatherPositions(keras.layers.Layer):
    """[states (B, L, d), positions (B, P)] -> (B, P, d)."""

    def call(self, inputs):
        states, positions = inputs
        return tf.gather(states, positions, batch_dims=1)


def build_pretraining_model(config: EmbBERTConfig, length: int) -> keras.Model:
    """Encoder + MLM head on the masked positions + NSP head on position 0 (always built; its loss weight
    is 0 when NSP is off, so one model serves both)."""
    ids = keras.Input((length,), dtype="int32", name="input_ids")
    positions = keras.Input((max_predictions(length),), dtype="int32", name="masked_positions")
    states, _ = encoder(ids, config)
    picked = GatherPositions(name="gather_masked")([states, positions])
    mlm = keras.layers.Dense(config.vocab_size, name="mlm")(picked)
    nsp = keras.layers.Dense(2, name="nsp")(L.FirstToken(name="pool")(states))
    return keras.Model({"input_ids": ids, "masked_positions": positions}, {"mlm": mlm, "nsp": nsp},
                       name=f"embbert_{config.name}_pretraining")


def compile_pretraining(model: keras.Model, learning_rate: float, weight_decay: float) -> keras.Model:
    from embbert_tf.train import make_optimizer

    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    model.compile(optimizer=make_optimizer(learning_rate, weight_decay), loss={"mlm": loss, "nsp": loss},
                  weighted_metrics={"mlm": ["accuracy"], "nsp": ["accuracy"]})
    return model
