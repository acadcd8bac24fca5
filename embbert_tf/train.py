"""Fine-tuning helpers around plain `model.fit`: optimizer, callbacks, best-epoch selection, resume."""
from __future__ import annotations

import json
import os

import numpy as np
import tensorflow as tf
import tf_keras as keras

from embbert_tf import metrics
from embbert_tf.artifacts import BACKUP_DIR, has_backup
from embbert_tf.artifacts import WEIGHTS as BEST_WEIGHTS
from embbert_tf.errors import UserError

BEST_STATE = "best.json"
HISTORY = "history.csv"


def set_seed(seed: int) -> None:
    """Seed Python, NumPy and TensorFlow, and ask TensorFlow for deterministic kernels."""
    keras.utils.set_random_seed(seed)
    tf.config.experimental.enable_op_determinism()


def learning_rate_schedule(learning_rate: float, schedule: str = "constant", total_steps: int = 0,
                           warmup_fraction: float = 0.06):
    """"constant" (the reference code) or "cosine": linear warm-up, then cosine decay to 0 at the end."""
    if schedule == "constant":
        return learning_rate
    if schedule != "cosine":
        raise ValueError(f"unknown learning-rate schedule {schedule!r}; use 'constant' or 'cosine'")
    if total_steps <= 0:
        raise ValueError("a cosine schedule needs the total number of training steps")
    warmup = int(warmup_fraction * total_steps)
    return keras.optimizers.schedules.CosineDecay(
        0.0, total_steps - warmup, alpha=0.0, warmup_target=learning_rate, warmup_steps=warmup)


def make_optimizer(learning_rate, weight_decay: float, ema: float = 0.0) -> keras.optimizers.Optimizer:
    """AdamW as Hugging Face's Trainer sets it up: no decay on biases and norm gains.

    `learning_rate` is a number or a schedule (learning_rate_schedule). With `ema` (a momentum, e.g. 0.999)
    the optimizer also keeps an exponential moving average of the weights, updated every step; `BestEpoch`
    then scores and keeps the averaged weights."""
    opt = keras.optimizers.AdamW(learning_rate=learning_rate, weight_decay=weight_decay, epsilon=1e-8,
                                 use_ema=ema > 0, ema_momentum=ema)
    opt.exclude_from_weight_decay(var_names=["bias", "gain"])
    return opt


def compile_for_task(model: keras.Model, regression: bool, learning_rate, weight_decay: float):
    if regression:
        loss, keras_metrics = keras.losses.MeanSquaredError(), []
    else:
        loss, keras_metrics = keras.losses.SparseCategoricalCrossentropy(from_logits=True), ["accuracy"]
    model.compile(optimizer=make_optimizer(learning_rate, weight_decay), loss=loss, metrics=keras_metrics)
    return model


class BestEpoch(keras.callbacks.Callback):
    """Scores the validation split with the task metric after every epoch and keeps the best weights.

    The score goes into the epoch logs as `val_<metric>` (so CSVLogger and the report see it). The best
    weights and score are on disk, so a resumed run still knows what it has to beat. When the optimizer keeps
    a moving average of the weights (make_optimizer's `ema`), the averaged weights are the ones scored and
    kept; training goes on from the raw ones.
    """

    def __init__(self, ids, labels, metric: str, regression: bool, directory: str, batch_size=256,
                 score_start=False):
        super().__init__()
        self.ids, self.labels, self.metric, self.regression = ids, labels, metric, regression
        self.directory, self.batch_size, self.score_start = directory, batch_size, score_start
        self.best, self.best_epoch, self.start_score = -np.inf, -1, None
        state = os.path.join(directory, BEST_STATE)
        if os.path.exists(state):
            with open(state) as f:
                s = json.load(f)
            self.best, self.best_epoch = s["score"], s["epoch"]

    def on_train_begin(self, logs=None):
        # Epoch -1 is the model as it starts: for QAT, the calibrated ranges before any training step.
        if self.score_start and self.best_epoch == -1 and self.best == -np.inf:
            self.start_score = self._score(-1)[self.metric]

    def on_epoch_end(self, epoch, logs=None):
        scores = self._score(epoch)
        if logs is not None:
            logs.update({f"val_{k}": v for k, v in scores.items()})

    def _score(self, epoch) -> dict:
        optimizer, raw = getattr(self.model, "optimizer", None), None
        # Epoch -1 (score_start) comes before any step: there is no average yet, the weights are the start.
        if epoch >= 0 and getattr(optimizer, "use_ema", False):
            raw = [v.numpy() for v in self.model.trainable_variables]
            optimizer.finalize_variable_values(self.model.trainable_variables)  # the averages, in place
        try:
            logits = self.model.predict(self.ids, batch_size=self.batch_size, verbose=0)
            scores = metrics.compute(self.labels, logits, self.regression)
            score = scores[self.metric]
            if score > self.best:
                self.best, self.best_epoch = score, epoch
                self.model.save_weights(os.path.join(self.directory, BEST_WEIGHTS))
                with open(os.path.join(self.directory, BEST_STATE), "w") as f:
                    json.dump({"score": score, "epoch": epoch, "metric": self.metric}, f)
        finally:
            for variable, value in zip(self.model.trainable_variables, raw or ()):
                variable.assign(value)
        return scores


def early_stopping(metric: str, patience: int, min_epochs: int = 0) -> tuple:
    """Callbacks for `fit`: stop once `val_<metric>` (logged by BestEpoch) has not improved for `patience`
    epochs, counting from epoch `min_epochs` (a model trained from scratch can sit on a plateau for its
    first epochs); none when patience is 0. The best epoch's weights are kept either way."""
    if patience <= 0:
        return ()
    return (keras.callbacks.EarlyStopping(monitor=f"val_{metric}", mode="max", patience=patience,
                                          start_from_epoch=min_epochs, verbose=1),)


def fit(
    model: keras.Model,
    train_ids: np.ndarray,
    train_labels: np.ndarray,
    val_ids: np.ndarray,
    val_labels: np.ndarray,
    *,
    directory: str,
    metric: str,
    regression: bool,
    epochs: int,
    batch_size: int,
    seed: int,
    resume: bool,
    verbose: int = 1,
    extra_callbacks=(),
    score_start: bool = False,
    dataset: tf.data.Dataset | None = None,
) -> dict:
    """Train with per-epoch checkpoints, keep the best epoch by the task metric, load it into `model`.

    With `score_start`, the model as it starts is a candidate too (best_epoch -1). A `dataset` of
    (ids, targets) batches replaces (train_ids, train_labels), e.g. distillation's length buckets.
    Returns {"history": [per-epoch logs], "best_epoch": ..., "best_score": ..., "start_score": ...}.
    """
    os.makedirs(directory, exist_ok=True)
    backup = os.path.join(directory, BACKUP_DIR)
    started = os.path.exists(os.path.join(directory, HISTORY))
    if started and not resume:
        if has_backup(directory):
            raise UserError(
                f"{directory} holds an interrupted run; pass --resume to continue it, or use a new --output_dir"
            )
        for name in (HISTORY, BEST_STATE, BEST_WEIGHTS):  # a finished run: start over
            if os.path.exists(os.path.join(directory, name)):
                os.remove(os.path.join(directory, name))
    if dataset is None:
        dataset = (
            tf.data.Dataset.from_tensor_slices((train_ids, train_labels))
            .shuffle(len(train_ids), seed=seed, reshuffle_each_iteration=True)
            .batch(batch_size)
            .prefetch(tf.data.AUTOTUNE)
        )
    best = BestEpoch(val_ids, val_labels, metric, regression, directory, score_start=score_start)
    callbacks = [
        best,  # before CSVLogger, so the validation metric reaches the log
        keras.callbacks.CSVLogger(os.path.join(directory, HISTORY), append=True),
        keras.callbacks.BackupAndRestore(backup),  # restores weights, optimizer and epoch on resume
        *extra_callbacks,
    ]
    model.fit(dataset, epochs=epochs, callbacks=callbacks, verbose=verbose)
    if not os.path.exists(os.path.join(directory, BEST_WEIGHTS)):
        raise RuntimeError("training produced no epoch to keep")
    model.load_weights(os.path.join(directory, BEST_WEIGHTS))
    return {"history": read_history(directory), "best_epoch": best.best_epoch, "best_score": best.best,
            "start_score": best.start_score}


def read_history(directory: str) -> list[dict]:
    import csv

    path = os.path.join(directory, HISTORY)
    if not os.path.exists(path):
        return []
    with open(path) as f:
        rows = list(csv.DictReader(f))
    return [{k: (float(v) if v not in ("", None) else None) for k, v in row.items()} for row in rows]
