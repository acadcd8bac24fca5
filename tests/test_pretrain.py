"""Masked-LM pre-training: masking as BERT does it, NSP pairs, tf.distribute, and the hand-over of the
backbone and its vocabulary to fine-tuning."""
import json
import os
import subprocess
import sys

import numpy as np
import tensorflow as tf

from embbert_tf import pretrain
from embbert_tf.config import CLS_ID, MASK_ID, SEP_ID, get_config

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _stream(n=20000, vocab=1000, seed=0):
    return np.random.default_rng(seed).integers(5, vocab, size=n).astype(np.uint16)


def test_masking_follows_bert_80_10_10_and_never_touches_specials():
    tf.random.set_seed(0)
    length, batch = 64, 64
    ds = pretrain.dataset(_stream(), length, batch, 1000, nsp=True, seed=0)
    masked = kept = random = total = 0
    for features, labels, weights in ds.take(20):
        ids = features["input_ids"].numpy()
        pos = features["masked_positions"].numpy()
        target = labels["mlm"].numpy()
        w = weights["mlm"].numpy()
        for b in range(batch):
            for p, t, wt in zip(pos[b], target[b], w[b]):
                if wt == 0:
                    continue
                total += 1
                assert t >= 5  # specials are never selected
                got = ids[b, p]
                masked += got == MASK_ID
                kept += got == t
                random += got not in (MASK_ID, t)
    # tensorflow-text selects ceil(15 % of the selectable tokens) in every row.
    assert total == 20 * batch * int(np.ceil(0.15 * (length - 3)))
    assert 0.76 < masked / total < 0.84 and 0.07 < kept / total < 0.13 and 0.07 < random / total < 0.13


def test_nsp_examples_are_two_segments_with_balanced_labels():
    stream = np.arange(5, 3000, dtype=np.uint16)  # consecutive ids: a continuation is easy to recognise
    gen = pretrain.examples(stream, 32, nsp=True, seed=0)
    labels, continues = [], []
    for _ in range(400):
        ids, label = next(gen)
        assert len(ids) == 32 and ids[0] == CLS_ID and ids[-1] == SEP_ID
        seps = np.flatnonzero(ids == SEP_ID)
        assert len(seps) == 2
        a, b = ids[1:seps[0]], ids[seps[0] + 1:-1]
        labels.append(label)
        continues.append(b[0] == a[-1] + 1)
    labels, continues = np.array(labels), np.array(continues)
    assert 0.4 < labels.mean() < 0.6
    assert continues[labels == 0].all()  # IsNext: B is the text right after A
    assert continues[labels == 1].mean() < 0.05  # random B


def test_mlm_head_only_sees_masked_positions():
    config = get_config("test")
    model = pretrain.build_pretraining_model(config, 32)
    out = model({"input_ids": np.full((2, 32), 7, np.int32), "masked_positions": np.zeros((2, 5), np.int32)})
    assert out["mlm"].shape == (2, 5, config.vocab_size) and out["nsp"].shape == (2, 2)
    # the backbone layers are named as in the classifier, so weights move between them
    from embbert_tf.model import build_classifier, copy_weights

    copied = copy_weights(model, build_classifier(config, 2, 16))
    assert {"embedder", "layer0_norm", "layer1_contract"} <= set(copied)


MIRRORED = r"""
import os, sys, json
import embbert_tf
import tensorflow as tf
cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
import numpy as np, tf_keras as keras
from embbert_tf import pretrain, train
from embbert_tf.config import get_config
config = get_config("test", attention_dropout=0.0)
tf.random.set_seed(0)
stream = np.random.default_rng(0).integers(5, 1000, 20000).astype(np.uint16)
batches = list(pretrain.dataset(stream, 32, 16, 1000, True, 0).take(3))
def losses(strategy):
    train.set_seed(1)
    with strategy.scope():
        model = pretrain.build_pretraining_model(config, 32)
        pretrain.compile_pretraining(model, 1e-3, 0.0)
    out = []
    for f, l, w in batches:
        out.append(model.train_on_batch(f, l, sample_weight=w, return_dict=True)["loss"])
    return out
single = losses(tf.distribute.OneDeviceStrategy("/cpu:0"))
mirrored_strategy = tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
mirrored = losses(mirrored_strategy)
print(json.dumps({"replicas": mirrored_strategy.num_replicas_in_sync, "single": single, "mirrored": mirrored}))
"""


def test_mirrored_strategy_on_two_devices_matches_one_device():
    proc = subprocess.run([sys.executable, "-c", MIRRORED], capture_output=True, text=True, cwd=ROOT,
                          env={**os.environ, "PYTHONPATH": ROOT})
    assert proc.returncode == 0, proc.stderr[-3000:]
    r = json.loads(proc.stdout.strip().splitlines()[-1])
    assert r["replicas"] == 2
    assert r["single"][0] > 1.0
    np.testing.assert_allclose(r["mirrored"], r["single"], rtol=2e-3)
    assert r["single"][2] != r["single"][0]  # the steps really trained


def test_pretrain_pipeline_hands_backbone_and_vocabulary_to_finetuning(data_dir, tmp_path):
    env = {**os.environ, "PYTHONPATH": ROOT}
    pre = tmp_path / "pre"
    proc = subprocess.run([sys.executable, "-m", "pipelines.pretrain", "--config", "test", "--output_dir", str(pre),
                           "--data_dir", data_dir, "--corpus_chars", "400000", "--vocab_chars", "400000",
                           "--steps", "40", "--steps_per_epoch", "20", "--eval_batches", "2",
                           "--pretrain_seq_len", "32", "--batch_size", "16", "--residual"],
                          capture_output=True, text=True, cwd=ROOT, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    metrics = json.loads((pre / "metrics.json").read_text())
    assert metrics["steps"] == 40 and metrics["held_out_mlm_accuracy"] is not None
    assert (pre / "backbone.weights.h5").exists() and (pre / "history.csv").exists()
    assert any((pre / "tensorboard").rglob("*tfevents*"))
    ft = tmp_path / "ft"
    proc = subprocess.run([sys.executable, "-m", "pipelines.finetune", "--task", "sst2", "--config", "test",
                           "--output_dir", str(ft), "--data_dir", data_dir, "--pretrained", str(pre),
                           "--train_limit", "500", "--epochs", "1", "--max_seq_len", "32"],
                          capture_output=True, text=True, cwd=ROOT, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (ft / "vocab.txt").read_text() == (pre / "vocab.txt").read_text()
    info = json.loads((ft / "config.json").read_text())
    assert info["pretrained"] == str(pre) and info["finetune"]["learning_rate"] == 1e-4
    # The backbone was trained with the identity residual; fine-tuning keeps that block form by default.
    assert info["model"]["residual"] is True
