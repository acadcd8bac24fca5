"""Evaluate a saved int8 model on the TFLM reference interpreter (embbert_tf/evaluation.py).

    python -m pipelines.evaluate --model runs/sst2 --task sst2 --split validation

Prints the metrics as one JSON object on the last line of stdout:
    {"task": "sst2", "split": "validation", "n": 872, "accuracy": ..., "mcc": ..., "f1_weighted": ...}
"""
from __future__ import annotations

import json

from absl import flags

from pipelines import common
from embbert_tf.errors import UserError

FLAGS = flags.FLAGS
common.define_model_flags()
flags.DEFINE_string("split", None, "Split to evaluate (train, validation, test, holdout); default: the task's "
                    "reported split.")


def main(argv):
    from embbert_tf.evaluation import evaluate

    if not FLAGS.model:
        raise UserError("--model is required: the run directory of a trained model")
    result = evaluate(FLAGS.model, common.task() if FLAGS["task"].present else None, FLAGS.data_dir, FLAGS.split,
                      FLAGS.eval_limit, workers=FLAGS.eval_workers)
    print(json.dumps(result))


if __name__ == "__main__":
    common.run_main(main)
