"""Masked-LM pre-training of an EmbBERT backbone, on one device or many (tf.distribute).

    python -m pipelines.pretrain --config embbert --output_dir runs/pretrain            # Wikipedia sample
    python -m pipelines.pretrain --corpus a.txt --corpus b.jsonl.gz --strategy mirrored   # own text, all GPUs

Writes into --output_dir: vocab.txt (the vocabulary every model fine-tuned from this backbone uses),
config.json, backbone.weights.h5 (after every epoch), history.csv, TensorBoard logs in tensorboard/, a
per-epoch checkpoint for --resume, and metrics.json (held-out MLM loss/accuracy, steps, tokens, time):
embbert_tf/pretrain.py.
"""
from __future__ import annotations

from absl import flags

from pipelines import common

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


def main(argv):
    from embbert_tf.pretrain import PretrainSettings, pretrain_backbone

    F = FLAGS
    settings = PretrainSettings(
        config=F.config, config_overrides=common.config_overrides(), corpus=F.corpus,
        validation_corpus=F.validation_corpus, sequence_length=F.pretrain_seq_len, batch_size=F.batch_size,
        steps=F.steps, steps_per_epoch=F.steps_per_epoch, eval_batches=F.eval_batches,
        learning_rate=F.pretrain_learning_rate, weight_decay=F.weight_decay, nsp=F.nsp, strategy=F.strategy,
        seed=F.seed, vocab=F.vocab, vocab_chars=F.vocab_chars, corpus_chars=F.corpus_chars, resume=F.resume)
    pretrain_backbone(F.output_dir or "runs/pretrain", settings, data_dir=F.data_dir)


if __name__ == "__main__":
    common.run_main(main)
