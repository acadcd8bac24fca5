"""Masked-LM pre-training of an EmbBERT backbone, on one device or many (tf.distribute).

    python -m pipelines.pretrain --config embbert --output_dir runs/pretrain            # Wikipedia sample
    python -m pipelines.pretrain --corpus a.txt --corpus b.jsonl.gz --strategy mirrored   # own text, all GPUs

Writes into --output_dir: vocab.txt (the vocabulary every model fine-tuned from this backbone uses),
config.json, backbone.weights.h5 (after every epoch), history.csv, TensorBoard logs in tensorboard/, a
per-epoch checkpoint for --resume, and metrics.json (held-out MLM loss/accuracy, steps, tokens, time).
"""
from __future__ import annotations

import json
import os
import platform
import time

from absl import flags

from pipelines import common
from embbert_tf import artifacts, data as D
from embbert_tf.config import get_config
from embbert_tf.errors import UserError

FLAGS = flags.FLAGS
flags.DEFINE_multi_string("corpus", None, "Training text: .txt (a paragraph per line) or .jsonl[.gz] with a "
                          "'text' field. Default: <data_dir>/wikipedia_en/train.jsonl.gz.")
flags.DEFINE_multi_string("validation_corpus", None, "Held-out text; default <data_dir>/wikipedia_en/validation.jsonl.gz.")
flags.DEFINE_integer("pretrain_seq_len", 128, "Tokens per pre-training sequence.")
flags.DEFINE_integer("steps", 100_000, "Total optimizer steps.")
flags.DEFINE_integer("steps_per_epoch", 1000, "Steps between checkpoints, held-out evaluation and logs.")
flags.DEFINE_integer("eval_batches", 20, "Held-out batches (fixed masks) scored after every epoch.")
flags.DEFINE_float("pretrain_learning_rate", 2e-4, "AdamW learning rate (constant, as the reference).")
flags.DEFINE_boolean("nsp", True, "Add next-sentence prediction (the reference code does).")
flags.DEFINE_enum("strategy", "default", ["default", "mirrored", "multi_worker"],
                  "tf.distribute strategy: one device, all local GPUs (MirroredStrategy), or several hosts "
                  "(MultiWorkerMirroredStrategy, configured by TF_CONFIG).")
flags.DEFINE_integer("vocab_chars", 30_000_000, "Characters of the corpus used to learn the vocabulary.")
flags.DEFINE_integer("corpus_chars", None, "Use only this many characters of the corpus (quick runs).")

BACKBONE = "backbone.weights.h5"


def make_strategy(name: str):
    import tensorflow as tf

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
    """Copy a pre-trained backbone (from pipelines.pretrain's output) into `target` by layer name."""
    from embbert_tf.model import build_backbone, copy_weights

    info = artifacts.read_json(os.path.join(directory, "config.json"))
    from embbert_tf.config import EmbBERTConfig

    config = EmbBERTConfig.from_dict(info["model"])
    backbone = build_backbone(config, 8)
    path = os.path.join(directory, BACKBONE)
    if not os.path.exists(path):
        raise UserError(f"{directory} has no {BACKBONE}; run pipelines.pretrain or pass --from_scratch")
    backbone.load_weights(path)
    copied = copy_weights(backbone, target)
    if "embedder" not in copied:
        raise UserError(f"the backbone in {directory} does not fit this model; use the same --config")
    return info


def run(output_dir: str, config_name: str = "embbert", data_dir: str | None = None, corpus=None,
        validation_corpus=None, seq_len: int = 128, batch_size: int = 32, steps: int = 100_000,
        steps_per_epoch: int = 1000, eval_batches: int = 20, learning_rate: float = 2e-4,
        weight_decay: float = 0.05, nsp: bool = True, strategy: str = "default", seed: int = 0,
        resume: bool = False, vocab: str | None = None, vocab_chars: int = 30_000_000,
        corpus_chars: int | None = None, config_overrides: dict | None = None, verbose: int = 1) -> dict:
    config = get_config(config_name, **(config_overrides or {}))
    if not 8 <= seq_len <= config.max_len:
        raise UserError(f"--pretrain_seq_len must be between 8 and config {config.name}'s {config.max_len}")
    import tf_keras as keras  # TensorFlow: imported once the flags are checked

    from embbert_tf import pretrain as P, train as T
    from embbert_tf.tokenizer import Tokenizer, vocabulary_note

    T.set_seed(seed)
    folder = D.resolve_data_dir(data_dir)
    corpus = list(corpus or [os.path.join(folder or "", "wikipedia_en", "train.jsonl.gz")])
    validation_corpus = list(validation_corpus or [os.path.join(folder or "", "wikipedia_en", "validation.jsonl.gz")])
    os.makedirs(output_dir, exist_ok=True)

    if vocab:
        tokenizer = Tokenizer.load(vocab)
    elif os.path.exists(os.path.join(output_dir, "vocab.txt")) and resume:
        tokenizer = Tokenizer.load(output_dir)
    else:
        print(f"[pretrain] learning a WordPiece vocabulary of at most {config.vocab_size} entries from "
              f"{vocab_chars / 1e6:.0f} M characters of {', '.join(corpus)}")
        tokenizer = Tokenizer.learn(P.read_texts(corpus, vocab_chars), config.vocab_size)
        print(f"[pretrain] {vocabulary_note(tokenizer.vocab_size, config.vocab_size)}")
    if tokenizer.vocab_size > config.vocab_size:
        raise UserError(f"vocabulary of {tokenizer.vocab_size} does not fit config {config.name} ({config.vocab_size})")
    tokenizer.save(output_dir)

    started = time.time()
    suffix = f"{corpus_chars}" if corpus_chars else "all"
    train_stream = P.tokenize_corpus(tokenizer, corpus, os.path.join(output_dir, f"corpus_train_{suffix}.npy"), corpus_chars)
    val_stream = P.tokenize_corpus(tokenizer, validation_corpus, os.path.join(output_dir, "corpus_validation.npy"),
                                   5_000_000)
    print(f"[pretrain] corpus: {len(train_stream):,} training tokens, {len(val_stream):,} held-out tokens "
          f"({time.time() - started:.0f} s to tokenize)")

    info = {"model": config.to_dict(), "vocab_size": tokenizer.vocab_size, "seq_len": seq_len,
            "batch_size": batch_size, "steps": steps, "learning_rate": learning_rate, "weight_decay": weight_decay,
            "nsp": nsp, "strategy": strategy, "seed": seed, "corpus": corpus, "validation_corpus": validation_corpus,
            "train_tokens": int(len(train_stream))}
    artifacts.write_json(os.path.join(output_dir, "config.json"), info)

    strat = make_strategy(strategy)
    train_ds = P.dataset(train_stream, seq_len, batch_size, tokenizer.vocab_size, nsp, seed + 1000 * _worker_index())
    # Held-out batches are drawn once, so every evaluation scores the same masks.
    held_out = list(P.dataset(val_stream, seq_len, batch_size, tokenizer.vocab_size, nsp, seed + 7).take(eval_batches))
    import tensorflow as tf

    val_ds = tf.data.Dataset.from_tensor_slices(tuple(
        {k: tf.concat([b[i][k] for b in held_out], 0) for k in held_out[0][i]} for i in range(3))).batch(batch_size)
    with strat.scope():
        model = P.build_pretraining_model(config, seq_len)
        P.compile_pretraining(model, learning_rate, weight_decay)

    metrics_path = os.path.join(output_dir, "metrics.json")
    before = artifacts.read_json(metrics_path).get("wall_seconds", 0) if resume and os.path.exists(metrics_path) else 0
    hardware = (f"{platform.machine()}, {os.cpu_count()} cores, {len(tf.config.list_physical_devices('GPU'))} GPU, "
                f"strategy {strategy} ({strat.num_replicas_in_sync} replicas)")

    def write_metrics() -> dict:
        history = T.read_history(output_dir)
        last = history[-1] if history else {}
        metrics = {
            "epochs": len(history), "steps": len(history) * steps_per_epoch,
            "tokens": len(history) * steps_per_epoch * batch_size * seq_len,
            "wall_seconds": round(before + time.time() - started, 1),
            "held_out_mlm_loss": last.get("val_mlm_loss"), "held_out_mlm_accuracy": last.get("val_mlm_accuracy"),
            "held_out_nsp_accuracy": last.get("val_nsp_accuracy") if nsp else None,
            "hardware": hardware,
        }
        artifacts.write_json(metrics_path, metrics)
        return metrics

    class Export(keras.callbacks.Callback):
        """After every epoch: the backbone and the metrics so far, so a stopped run has both."""

        def on_epoch_end(self, epoch, logs=None):
            export_backbone(self.model, config, os.path.join(output_dir, BACKBONE))
            write_metrics()

    epochs = max(1, steps // steps_per_epoch)
    if T.has_backup(output_dir) and not resume:
        raise UserError(f"{output_dir} holds an interrupted pre-training; pass --resume to continue it")
    started = time.time()
    model.fit(train_ds, epochs=epochs, steps_per_epoch=steps_per_epoch, validation_data=val_ds, verbose=verbose,
              callbacks=[keras.callbacks.BackupAndRestore(os.path.join(output_dir, T.BACKUP_DIR)),
                         keras.callbacks.CSVLogger(os.path.join(output_dir, T.HISTORY), append=True),
                         keras.callbacks.TensorBoard(os.path.join(output_dir, "tensorboard"), update_freq=100),
                         Export()])
    metrics = write_metrics()
    print(f"[pretrain] {metrics['steps']} steps; held-out MLM accuracy {metrics['held_out_mlm_accuracy']}")
    return metrics


def main(argv):
    F = FLAGS
    run(F.output_dir or "runs/pretrain", F.config, F.data_dir, F.corpus, F.validation_corpus, F.pretrain_seq_len,
        F.batch_size, F.steps, F.steps_per_epoch, F.eval_batches, F.pretrain_learning_rate, F.weight_decay, F.nsp,
        F.strategy, F.seed, F.resume, F.vocab, F.vocab_chars, F.corpus_chars, common.config_overrides())


if __name__ == "__main__":
    common.run_main(main)
