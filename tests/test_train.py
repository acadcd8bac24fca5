"""Fine-tuning with model.fit: best epoch by the task metric, per-epoch checkpoints, resume."""

import numpy as np
import pytest
import tf_keras as keras

from embbert_tf import train
from embbert_tf.config import get_config
from embbert_tf.errors import UserError
from embbert_tf.model import build_classifier
from conftest import random_ids


class Interrupt(keras.callbacks.Callback):
    def __init__(self, after_epoch):
        super().__init__()
        self.after_epoch = after_epoch

    def on_epoch_end(self, epoch, logs=None):
        if epoch == self.after_epoch:
            raise KeyboardInterrupt("simulated interruption")


def _setup(seed=0):
    train.set_seed(seed)
    config = get_config("test")
    rng = np.random.default_rng(seed)
    ids = random_ids(rng, 256, 16, config.vocab_size)
    labels = (ids[:, 1] % 2).astype(np.int64)
    model = build_classifier(config, 2, 16)
    train.compile_for_task(model, False, 1e-3, 0.05)
    return model, ids, labels


def _fit(model, ids, labels, directory, epochs, resume, extra=()):
    return train.fit(model, ids, labels, ids[:64], labels[:64], directory=directory, metric="accuracy",
                     regression=False, epochs=epochs, batch_size=32, seed=0, resume=resume, verbose=0,
                     extra_callbacks=extra)


def test_keeps_best_epoch_and_logs_validation_metric(tmp_path):
    model, ids, labels = _setup()
    result = _fit(model, ids, labels, str(tmp_path), 3, False)
    history = result["history"]
    assert [h["epoch"] for h in history] == [0, 1, 2]
    scores = [h["val_accuracy"] for h in history]
    assert result["best_score"] == max(scores) and result["best_epoch"] == int(np.argmax(scores))
    pred = model.predict(ids[:64], verbose=0).argmax(1)
    assert (pred == labels[:64]).mean() == pytest.approx(result["best_score"])


def test_interrupted_run_resumes_where_it_stopped(tmp_path):
    model, ids, labels = _setup()
    with pytest.raises(KeyboardInterrupt):
        _fit(model, ids, labels, str(tmp_path), 4, False, [Interrupt(after_epoch=1)])
    assert train.has_backup(str(tmp_path))
    model2, _, _ = _setup(seed=1)  # fresh weights: resume must restore them
    with pytest.raises(UserError, match="--resume"):
        _fit(model2, ids, labels, str(tmp_path), 4, False)
    result = _fit(model2, ids, labels, str(tmp_path), 4, True)
    assert [h["epoch"] for h in result["history"]] == [0, 1, 2, 3]  # epochs 0-1 before, 2-3 after
    assert not train.has_backup(str(tmp_path))  # a finished run leaves no checkpoint behind


def test_cosine_schedule_warms_up_and_decays():
    sched = train.learning_rate_schedule(1e-3, "cosine", 100)
    assert float(sched(0)) == 0.0
    assert float(sched(6)) == pytest.approx(1e-3)
    assert float(sched(100)) == pytest.approx(0.0, abs=1e-9)
    assert train.learning_rate_schedule(1e-4) == 1e-4


def test_early_stopping_ends_a_run_that_stopped_improving(tmp_path):
    model, ids, labels = _setup()
    train.compile_for_task(model, False, 0.0, 0.0)  # learning rate 0: the validation metric never improves
    result = _fit(model, ids, labels, str(tmp_path), 20, False, train.early_stopping("accuracy", 2))
    assert [h["epoch"] for h in result["history"]] == [0, 1, 2]  # the first epoch, then 2 without gain
    assert result["best_epoch"] == 0
    assert train.early_stopping("accuracy", 0) == ()


def test_early_stopping_waits_for_min_epochs(tmp_path):
    model, ids, labels = _setup()
    train.compile_for_task(model, False, 0.0, 0.0)
    result = _fit(model, ids, labels, str(tmp_path), 20, False, train.early_stopping("accuracy", 2, min_epochs=4))
    assert len(result["history"]) == 4 + 1 + 2  # epochs 0-3 not watched; epoch 4 sets the mark, 2 more without gain


class RawWeights(keras.callbacks.Callback):
    """Records the weights after the last training step and as training goes on after the epoch's scoring."""

    def on_train_batch_end(self, batch, logs=None):
        self.stepped = [v.numpy() for v in self.model.trainable_variables]

    def on_epoch_end(self, epoch, logs=None):
        self.after_scoring = [v.numpy() for v in self.model.trainable_variables]


def test_weight_averaging_keeps_the_averaged_weights_and_trains_on_the_raw_ones(tmp_path):
    model, ids, labels = _setup()
    model.compile(optimizer=train.make_optimizer(1e-2, 0.05, ema=0.9),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    raw = RawWeights()
    result = _fit(model, ids, labels, str(tmp_path), 1, False, [raw])
    for stepped, after in zip(raw.stepped, raw.after_scoring):  # scoring put the raw weights back
        np.testing.assert_array_equal(stepped, after)
    kept = [v.numpy() for v in model.trainable_variables]  # fit loaded the kept (averaged) weights
    assert any(not np.allclose(k, s) for k, s in zip(kept, raw.stepped))
    pred = model.predict(ids[:64], verbose=0).argmax(1)
    assert (pred == labels[:64]).mean() == pytest.approx(result["best_score"])
