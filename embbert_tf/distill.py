"""Distillation, student side: train an EmbBERT classifier on the teacher's logits over the transfer set.

The loss is Tang et al.'s: mean squared error between the student's and the teacher's logits, plus
`gold_weight` times the usual loss on the texts that have a gold label (the original training texts).
Training runs on length buckets (each batch as wide as its longest text) with a model built for any
length; its weights load unchanged into the fixed-length model that is quantized and converted.

Example:

>>> import numpy as np
>>> loss = DistillationLoss(num_classes=2, gold_weight=0.5)
>>> y = np.array([[2.0, -2.0, 0.0]], "float32")   # teacher logits, then the gold label (-1: none)
>>> float(loss(y, np.array([[2.0, -2.0]], "float32"))) < 0.02
True
"""
from __future__ import annotations

import os

import numpy as np
import tensorflow as tf
import tf_keras as keras

from embbert_tf.augment import student_text
from embbert_tf.tokenizer import Tokenizer


@keras.utils.register_keras_serializable("embbert")
class DistillationLoss(keras.losses.Loss):
    """y_true = [teacher logits (C), gold (1)]: MSE to the teacher's logits + gold_weight × the task loss
    where gold is given (class id >= 0, or a finite score for regression)."""

    def __init__(self, num_classes: int, gold_weight: float = 0.0, name="distillation", **kwargs):
        super().__init__(name=name, **kwargs)
        self.num_classes, self.gold_weight = num_classes, gold_weight

    def call(self, y_true, y_pred):
        teacher, gold = y_true[:, : self.num_classes], y_true[:, self.num_classes]
        loss = tf.reduce_mean(tf.square(y_pred - teacher), axis=-1)
        if self.gold_weight:
            if self.num_classes == 1:
                has = tf.math.is_finite(gold)
                task = tf.square(y_pred[:, 0] - tf.where(has, gold, 0.0))
            else:
                has = gold >= 0
                task = keras.losses.sparse_categorical_crossentropy(
                    tf.cast(tf.maximum(gold, 0.0), tf.int32), y_pred, from_logits=True)
            loss += self.gold_weight * tf.where(has, task, 0.0)
        return loss

    def get_config(self):
        return {**super().get_config(), "num_classes": self.num_classes, "gold_weight": self.gold_weight}


def targets(logits: np.ndarray, gold: np.ndarray) -> np.ndarray:
    """The packed y_true of DistillationLoss."""
    return np.concatenate([logits, np.asarray(gold, np.float32)[:, None]], axis=1).astype(np.float32)


def encode_transfer(tokenizer: Tokenizer, texts: list[list[str]], sequence_length: int) -> np.ndarray:
    """Student ids for the transfer set (a masked word becomes one unknown word)."""
    columns = [[student_text(t) for t in col] for col in texts]
    ids, _ = tokenizer.encode_columns(columns, sequence_length)
    return ids


def bucketed_dataset(ids: np.ndarray, y: np.ndarray, batch_size: int, seed: int, pool: int = 50,
                     multiple: int = 8) -> tf.data.Dataset:
    """Batches of similar-length texts, each cut to its longest row (rounded up to `multiple`), in a fresh
    seeded order every epoch; shapes (None, None), so one graph serves every width."""
    lengths = (ids != 0).sum(1)
    n, width = len(ids), ids.shape[1]
    state = {"epoch": 0}

    def batches():
        rng = np.random.default_rng(seed + state["epoch"])
        state["epoch"] += 1
        perm, size = rng.permutation(n), pool * batch_size
        order = np.concatenate([c[np.argsort(lengths[c], kind="stable")]
                                for c in (perm[s: s + size] for s in range(0, n, size))])
        groups = [order[s: s + batch_size] for s in range(0, n, batch_size)]
        for g in rng.permutation(len(groups)):
            rows = groups[g]
            w = int(min(width, -(-lengths[rows].max() // multiple) * multiple))
            yield ids[rows, :w], y[rows]

    spec = (tf.TensorSpec((None, None), tf.int32), tf.TensorSpec((None, y.shape[1]), tf.float32))
    return tf.data.Dataset.from_generator(batches, output_signature=spec).prefetch(4)


def teacher_token_table(vocab: list[str], teacher_dir: str, reduced: int) -> np.ndarray:
    """A (len(vocab), reduced) token table from the teacher's WordPiece embeddings: each of our tokens gets
    the mean of the teacher's vectors for its pieces (a "##" continuation looked up as one, where the
    teacher has it), projected onto their top `reduced` principal components and scaled to the random
    initialisation's size (unit variance per entry). Pre-trained lexical knowledge in 8192 x 16 numbers.
    """
    from safetensors.numpy import load_file

    from embbert_tf import teacher

    tok = teacher.TeacherTokenizer(teacher_dir)
    weights = load_file(os.path.join(teacher_dir, "model.safetensors"))
    table = next(v for k, v in weights.items() if k.endswith("embeddings.word_embeddings.weight"))
    table = table.astype(np.float32)
    teacher_vocab = tok.tokenizer.get_vocab()
    words = [t[2:] if t.startswith("##") else t for t in vocab]
    pieces = tok.pieces(words)
    rows = np.zeros((len(vocab), table.shape[1]), np.float32)
    for i, (token, ids) in enumerate(zip(vocab, pieces)):
        if token in teacher_vocab:  # specials, whole words and "##" pieces the teacher also has
            ids = [teacher_vocab[token]]
        if ids:
            rows[i] = table[ids].mean(0)
    centred = rows - rows.mean(0)
    _, _, vt = np.linalg.svd(centred, full_matrices=False)
    projected = centred @ vt[:reduced].T
    return (projected / projected.std()).astype(np.float32)
