"""Text to a trained, quantized, evaluated EmbBERT in one command.

    python -m pipelines.full --task sst2

Stages: fine-tune (float) -> quantize (PTQ and QAT, fully int8) -> evaluate on the TFLM reference, LiteRT
and Keras -> memory accounting -> export (the TFLM C++ application in tflm_app/ and the Arduino library in
arduino/) -> report.json / report.md / plots in --output_dir. With --resume, stages that finished are kept
and an interrupted training continues from its last epoch.
"""
from __future__ import annotations

import time

from absl import flags

from pipelines import common

FLAGS = flags.FLAGS
common.define_training_flags()
common.define_finish_flags()


def main(argv):
    from embbert_tf import artifacts
    from embbert_tf.finetune import train_classifier

    out = common.output_dir()
    task = common.task()
    timings = {}
    started = time.time()
    trained = artifacts.training_seconds(out) if FLAGS.resume else None
    if trained is not None:
        timings["finetune"] = trained  # a resumed run whose model was trained: what the training took, not 0
    else:
        train_classifier(out, task, common.finetune_settings(), data_dir=FLAGS.data_dir)
        timings["finetune"] = round(time.time() - started, 1)
    common.finish(out, timings)


if __name__ == "__main__":
    common.run_main(main)
