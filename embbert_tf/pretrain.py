"""Masked-LM (+ optional next-sentence) pre-training of the EmbBERT backbone, as plain model.fit.

The corpus is tokenized once into a flat id stream (cached as .npy). Training examples are cut from it on
the fly: `[CLS] A [SEP]` of L tokens, or with NSP `[CLS] A [SEP] B [SEP]` where B continues A (label 0,
"IsNext") or is taken from elsewhere (label 1), as in the reference code. Masking is tensorflow-text's
`mask_language_model`: 15 % of tokens, 80 % [MASK] / 10 % random / 10 % kept, special tokens never.
The MLM head (Linear d -> V with bias, not tied) only sees the masked positions, which keeps its
d×V matmul at 15 % of the sequence.

`pretrain_backbone(output_dir, PretrainSettings(...))` runs it into a folder: vocab.txt (the vocabulary every model
fine-tuned from this backbone uses), config.json, backbone.weights.h5 (after every epoch), history.csv,
TensorBoard logs, a per-epoch checkpoint for resuming, and metrics.json (held-out MLM loss/accuracy,
steps, tokens, time). `load_backbone` copies such a backbone into a classifier.
"""
from __future__ import annotations

import dataclasses
import gzip
import json
import math
import os
import platform
import time
from typing import Iterator

import numpy as np
import tensorflow as tf
import tensorflow_text as text
import tf_keras as keras

from embbert_tf import artifacts, data, layers
from embbert_tf.config import CLS_ID, MASK_ID, PAD_ID, SEP_ID, SPECIAL_TOKENS, EmbBERTConfig
from embbert_tf.errors import UserError
from embbert_tf.model import encoder
from embbert_tf.tokenizer import Tokenizer

MASK_RATE = 0.15
BACKBONE = "backbone.weights.h5"


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
    nsp = keras.layers.Dense(2, name="nsp")(layers.FirstToken(name="pool")(states))
    return keras.Model({"input_ids": ids, "masked_positions": positions}, {"mlm": mlm, "nsp": nsp},
                       name=f"embbert_{config.name}_pretraining")


def compile_pretraining(model: keras.Model, learning_rate: float, weight_decay: float) -> keras.Model:
    from embbert_tf.train import make_optimizer

    loss = keras.losses.SparseCategoricalCrossentropy(from_logits=True)
    model.compile(optimizer=make_optimizer(learning_rate, weight_decay), loss={"mlm": loss, "nsp": loss},
                  weighted_metrics={"mlm": ["accuracy"], "nsp": ["accuracy"]})
    return model


@dataclasses.dataclass(kw_only=True)
class PretrainSettings:
    """How `pretrain` trains.

    Args:
        config, config_overrides: the model configuration (see `embbert_tf.config.PRESETS`).
        corpus, validation_corpus: .txt (a paragraph per line) or .jsonl[.gz] files with a "text" field;
            default: the Wikipedia sample in the data folder.
        sequence_length: tokens per pre-training sequence.
        steps, steps_per_epoch: optimizer steps in all, and between checkpoints / held-out scores.
        eval_batches: held-out batches (fixed masks) scored after every epoch.
        batch_size, learning_rate (constant, as the reference), weight_decay: AdamW training.
        nsp: add next-sentence prediction (the reference code does).
        strategy: "default" (one device), "mirrored" (all local GPUs) or "multi_worker" (TF_CONFIG).
        vocab: a vocab.txt to use instead of learning one from `vocab_chars` characters of the corpus.
        corpus_chars: use only this many characters of the corpus.
        seed, resume, verbose: as in fine-tuning.
    """

    config: str = "embbert"
    config_overrides: dict = dataclasses.field(default_factory=dict)
    corpus: list[str] | None = None
    validation_corpus: list[str] | None = None
    sequence_length: int = 128
    batch_size: int = 32
    steps: int = 100_000
    steps_per_epoch: int = 1000
    eval_batches: int = 20
    learning_rate: float = 2e-4
    weight_decay: float = 0.05
    nsp: bool = True
    strategy: str = "default"
    seed: int = 0
    vocab: str | None = None
    vocab_chars: int = 30_000_000
    corpus_chars: int | None = None
    resume: bool = False
    verbose: int = 1


def make_strategy(name: str):
    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multi_worker":
        return tf.distribute.MultiWorkerMirroredStrategy()
    return tf.distribute.get_strategy()


def _worker_index() -> int:
    task = json.loads(os.environ.get("TF_CONFIG", "{}")).get("task", {})
    return int(task.get("index", 0))


def export_backbone(model, config, path: str) -> None:
    from embbert_tf.model import build_backbone, copy_weights

    backbone = build_backbone(config, 8)
    copy_weights(model, backbone)
    backbone.save_weights(path)


def load_backbone(directory: str, target) -> dict:
    """Copy a pre-trained backbone (a `pretrain` output folder) into `target` by layer name; returns the
    folder's config.json."""
    from embbert_tf.model import build_backbone, copy_weights

    info = artifacts.read_json(os.path.join(directory, artifacts.RUN_CONFIG))
    backbone = build_backbone(EmbBERTConfig.from_dict(info["model"]), 8)
    path = os.path.join(directory, BACKBONE)
    if not os.path.exists(path):
        raise UserError(f"{directory} has no {BACKBONE}; run pipelines.pretrain or pass --from_scratch")
    backbone.load_weights(path)
    copied = copy_weights(backbone, target)
    if "embedder" not in copied:
        raise UserError(f"the backbone in {directory} does not fit this model; use the same --config")
    return info


def pretrain_backbone(output_dir: str, settings: PretrainSettings = PretrainSettings(), *,
             data_dir: str | None = None) -> dict:
    """Pre-train a backbone into `output_dir` (resumable); returns metrics.json's content."""
    from embbert_tf import train
    from embbert_tf.config import get_config
    from embbert_tf.tokenizer import run_vocabulary

    s = settings
    config = get_config(s.config, **s.config_overrides)
    if not 8 <= s.sequence_length <= config.max_sequence_length:
        raise UserError(f"--pretrain_seq_len must be between 8 and config {config.name}'s "
                        f"{config.max_sequence_length}")
    train.set_seed(s.seed)
    folder = data.resolve_data_dir(data_dir)
    corpus = list(s.corpus or [os.path.join(folder or "", "wikipedia_en", "train.jsonl.gz")])
    validation_corpus = list(s.validation_corpus or [os.path.join(folder or "", "wikipedia_en", "validation.jsonl.gz")])
    os.makedirs(output_dir, exist_ok=True)
    tokenizer = run_vocabulary(output_dir, lambda: read_texts(corpus, s.vocab_chars), config.vocab_size,
                               vocab=s.vocab, resume=s.resume, stage="pretrain",
                               source=f"{s.vocab_chars / 1e6:.0f} M characters of {', '.join(corpus)}")

    started = time.time()
    suffix = f"{s.corpus_chars}" if s.corpus_chars else "all"
    train_stream = tokenize_corpus(tokenizer, corpus, os.path.join(output_dir, f"corpus_train_{suffix}.npy"),
                                   s.corpus_chars)
    val_stream = tokenize_corpus(tokenizer, validation_corpus, os.path.join(output_dir, "corpus_validation.npy"),
                                 5_000_000)
    print(f"[pretrain] corpus: {len(train_stream):,} training tokens, {len(val_stream):,} held-out tokens "
          f"({time.time() - started:.0f} s to tokenize)")

    length = s.sequence_length
    info = {"model": config.to_dict(), "vocab_size": tokenizer.vocab_size, "seq_len": length,
            "batch_size": s.batch_size, "steps": s.steps, "learning_rate": s.learning_rate,
            "weight_decay": s.weight_decay, "nsp": s.nsp, "strategy": s.strategy, "seed": s.seed, "corpus": corpus,
            "validation_corpus": validation_corpus, "train_tokens": int(len(train_stream))}
    artifacts.write_json(os.path.join(output_dir, artifacts.RUN_CONFIG), info)

    strat = make_strategy(s.strategy)
    train_ds = dataset(train_stream, length, s.batch_size, tokenizer.vocab_size, s.nsp, s.seed + 1000 * _worker_index())
    # Held-out batches are drawn once, so every evaluation scores the same masks.
    held_out = list(dataset(val_stream, length, s.batch_size, tokenizer.vocab_size, s.nsp, s.seed + 7)
                    .take(s.eval_batches))
    val_ds = tf.data.Dataset.from_tensor_slices(tuple(
        {k: tf.concat([b[i][k] for b in held_out], 0) for k in held_out[0][i]} for i in range(3))).batch(s.batch_size)
    with strat.scope():
        model = build_pretraining_model(config, length)
        compile_pretraining(model, s.learning_rate, s.weight_decay)

    metrics_path = os.path.join(output_dir, "metrics.json")
    before = artifacts.read_json(metrics_path).get("wall_seconds", 0) if s.resume and os.path.exists(metrics_path) else 0
    hardware = (f"{platform.machine()}, {os.cpu_count()} cores, {len(tf.config.list_physical_devices('GPU'))} GPU, "
                f"strategy {s.strategy} ({strat.num_replicas_in_sync} replicas)")

    def write_metrics() -> dict:
        history = train.read_history(output_dir)
        last = history[-1] if history else {}
        metrics = {
            "epochs": len(history), "steps": len(history) * s.steps_per_epoch,
            "tokens": len(history) * s.steps_per_epoch * s.batch_size * length,
            "wall_seconds": round(before + time.time() - started, 1),
            "held_out_mlm_loss": last.get("val_mlm_loss"), "held_out_mlm_accuracy": last.get("val_mlm_accuracy"),
            "held_out_nsp_accuracy": last.get("val_nsp_accuracy") if s.nsp else None,
            "hardware": hardware,
        }
        artifacts.write_json(metrics_path, metrics)
        return metrics

    class Export(keras.callbacks.Callback):
        """After every epoch: the backbone and the metrics so far, so a stopped run has both."""

        def on_epoch_end(self, epoch, logs=None):
            export_backbone(self.model, config, os.path.join(output_dir, BACKBONE))
            write_metrics()

    epochs = max(1, s.steps // s.steps_per_epoch)
    if train.has_backup(output_dir) and not s.resume:
        raise UserError(f"{output_dir} holds an interrupted pre-training; pass --resume to continue it")
    started = time.time()
    model.fit(train_ds, epochs=epochs, steps_per_epoch=s.steps_per_epoch, validation_data=val_ds, verbose=s.verbose,
              callbacks=[keras.callbacks.BackupAndRestore(os.path.join(output_dir, train.BACKUP_DIR)),
                         keras.callbacks.CSVLogger(os.path.join(output_dir, train.HISTORY), append=True),
                         keras.callbacks.TensorBoard(os.path.join(output_dir, "tensorboard"), update_freq=100),
                         Export()])
    metrics = write_metrics()
    print(f"[pretrain] {metrics['steps']} steps; held-out MLM accuracy {metrics['held_out_mlm_accuracy']}")
    return metrics
