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

import dataclasses
import os
import time

import numpy as np
import tensorflow as tf
import tf_keras as keras

from embbert_tf import artifacts, data, transfer
from embbert_tf.augment import student_text
from embbert_tf.config import TRUNCATION
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


def encode_transfer(tokenizer: Tokenizer, texts: list[list[str]], sequence_length: int) -> tuple[np.ndarray, float]:
    """Student ids for the transfer set (a masked word becomes one unknown word), and the share of its texts
    longer than `sequence_length`."""
    columns = [[student_text(t) for t in col] for col in texts]
    ids, lengths = tokenizer.encode_columns(columns, sequence_length)
    return ids, float((lengths > sequence_length).mean())


def bucketed_dataset(ids: np.ndarray, y: np.ndarray, batch_size: int, seed: int, pool: int = 50,
                     multiple: int = 8, first_epoch: int = 0) -> tf.data.Dataset:
    """Batches of similar-length texts, each cut to its longest row (rounded up to `multiple`), in a fresh
    seeded order every epoch; shapes (None, None), so one graph serves every width. A resumed run passes
    the epochs already done as `first_epoch`, so it sees the orders an uninterrupted run would."""
    lengths = (ids != 0).sum(1)
    n, width = len(ids), ids.shape[1]
    state = {"epoch": first_epoch}

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


@dataclasses.dataclass(kw_only=True)
class StudentSettings:
    """How `train_student` trains the student on the teacher's logits.

    Args:
        config, config_overrides: the student's configuration (see `embbert_tf.config.PRESETS`).
        seed: the data's seed (selection split, transfer set); `student_seed` (default `seed`) the
            student's initialisation and batch order, so several students can learn from one teacher.
        sequence_length: tokens per input; None: what 99.9 % of the training texts need.
        truncation: what a longer text keeps: "head" or "head+tail" (`tokenizer.Tokenizer`).
        epochs, patience: at most `epochs` over the transfer set; stop after `patience` without a better
            selection score.
        batch_size, learning_rate, lr_schedule ("constant" or "cosine": warm-up, then decay to 0 over
            `epochs`), weight_decay: AdamW training on length buckets.
        gold_weight: weight of the gold-label loss beside the MSE to the teacher's logits (Tang et al.: 0).
        ema: momentum of a moving average of the weights, updated every step, that is scored and kept
            instead of the weights themselves (weight averaging); 0: none.
        init_embeddings: "random", or "teacher" (the teacher's WordPiece embeddings averaged over each of our
            tokens' pieces, PCA to the table's width; `teacher_dir` names the teacher, default the installed one).
        resume, verbose: as in fine-tuning.
    """

    config: str = "embbert"
    config_overrides: dict = dataclasses.field(default_factory=dict)
    seed: int = 0
    student_seed: int | None = None
    sequence_length: int | None = None
    truncation: str = TRUNCATION
    epochs: int = 10
    patience: int = 3
    batch_size: int = 256
    learning_rate: float = 1e-3
    lr_schedule: str = "constant"
    weight_decay: float = 0.05
    gold_weight: float = 0.0
    ema: float = 0.0
    init_embeddings: str = "random"
    teacher_dir: str | None = None
    resume: bool = False
    verbose: int = 1


def train_student(output_dir: str, task: data.Task, settings: StudentSettings = StudentSettings(), *,
                  data_dir: str | None = None) -> dict:
    """Train the student on the labelled transfer set in `output_dir` (`transfer.teacher_stage`), writing
    the run directory as fine-tuning does; returns its `artifacts.RunInfo`."""
    from embbert_tf import train
    from embbert_tf.config import get_config
    from embbert_tf.finetune import run_info, sequence_length_for
    from embbert_tf.model import build_classifier
    from embbert_tf.tokenizer import run_vocabulary

    s = settings
    config = get_config(s.config, **s.config_overrides)
    student_seed = s.seed if s.student_seed is None else s.student_seed
    train.set_seed(student_seed)
    task_data = data.load_task(task, data_dir, s.seed)
    labelled, logits = transfer.load_labelled(output_dir)
    # The vocabulary is learned from every real text of the transfer set (the training split and the
    # unlabelled in-domain text; augmented copies add no new words).
    real = labelled.origin != transfer.ORIGINS.index("augmented")
    vocab_texts = [t for col in labelled.texts for t, keep in zip(col, real) if keep]
    started = time.time()
    tokenizer = run_vocabulary(output_dir, lambda: vocab_texts, config.vocab_size, resume=s.resume, stage="distill",
                               source=f"{len(vocab_texts)} texts", truncation=s.truncation)
    vocab_seconds = time.time() - started
    length = sequence_length_for(tokenizer, task_data.train.texts, s.sequence_length, config)
    ids, truncated = encode_transfer(tokenizer, labelled.texts, length)
    y = targets(logits, labelled.gold)
    val = tokenizer.encode_split(task_data.validation, length)
    print(f"[distill] student {config.name}: {len(ids)} transfer texts, selection {len(val.ids)}, "
          f"sequence length {length} ({truncated:.2%} of transfer texts longer, cut: {s.truncation})")
    info = run_info(task, config, task_data, sequence_length=length, seed=s.seed, student_seed=student_seed,
                    vocab_size=tokenizer.vocab_size,
                    training={"epochs": s.epochs, "patience": s.patience, "batch_size": s.batch_size,
                              "learning_rate": s.learning_rate, "lr_schedule": s.lr_schedule,
                              "weight_decay": s.weight_decay, "optimizer": "AdamW",
                              "vocab_seconds": round(vocab_seconds, 1),
                              "loss": f"MSE to the teacher's logits + {s.gold_weight} x gold-label loss",
                              "init_embeddings": s.init_embeddings, "ema": s.ema},
                    train_examples=len(ids), train_truncated=truncated, validation=val, truncation=s.truncation)
    info.data["train"]["source"] = f"transfer set ({len(ids)} texts: {task_data.train.source}, augmented, in-domain)"
    info.save(output_dir)
    model = build_classifier(config, task.num_classes, None)  # any width: trained on length buckets
    if s.init_embeddings == "teacher":
        from embbert_tf import teacher

        table = teacher_token_table(tokenizer.vocab, s.teacher_dir or teacher.pretrained_dir(), config.reduced)
        embedder = model.get_layer("embedder")
        embedder.token_table.assign(np.pad(table, ((0, config.vocab_size - len(table)), (0, 0))))
        print("[distill] token table initialised from the teacher's WordPiece embeddings")
    steps = s.epochs * -(-len(ids) // s.batch_size)  # bucketed_dataset's batches: ceil(n / batch) an epoch
    model.compile(optimizer=train.make_optimizer(train.learning_rate_schedule(s.learning_rate, s.lr_schedule, steps),
                                                 s.weight_decay, s.ema),
                  loss=DistillationLoss(task.num_classes, s.gold_weight))
    float_dir = os.path.join(output_dir, artifacts.FLOAT_DIR)
    done = len(train.read_history(float_dir)) if s.resume and train.has_backup(float_dir) else 0
    dataset = bucketed_dataset(ids, y, s.batch_size, student_seed, first_epoch=done)
    started = time.time()
    result = train.fit(model, None, None, val.ids, val.labels, directory=float_dir,
                       metric=task.metric, regression=task.is_regression, epochs=s.epochs, batch_size=s.batch_size,
                       seed=student_seed, resume=s.resume, dataset=dataset, verbose=s.verbose,
                       extra_callbacks=train.early_stopping(task.metric, s.patience, 0))
    result["seconds"] = round(time.time() - started, 1)
    artifacts.write_json(os.path.join(output_dir, artifacts.FLOAT_DIR, artifacts.STAGE_RESULT),
                         {k: v for k, v in result.items() if k != "history"})
    print(f"[distill] best epoch {result['best_epoch'] + 1}: selection {task.metric} {result['best_score']:.4f}")
    return info
