"""Stage 1: text -> tokenizer -> float EmbBERT classifier, fine-tuned with model.fit.

    python -m pipelines.finetune --task sst2 --output_dir runs/sst2

Writes config.json, vocab.txt and float/ (best weights by the task metric on the selection split,
history, per-epoch checkpoint for --resume) into the run directory (embbert_tf/finetune.py).
"""
from __future__ import annotations

from absl import flags

from pipelines import common

FLAGS = flags.FLAGS
common.define_training_flags()


def main(argv):
    from embbert_tf.finetune import train_classifier

    task = common.task()
    train_classifier(common.output_dir(), task, common.finetune_settings(), data_dir=FLAGS.data_dir)


if __name__ == "__main__":
    common.run_main(main)
