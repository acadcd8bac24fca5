"""Evaluate a saved int8 model on the TFLM reference interpreter.

    python -m pipelines.evaluate --model runs/sst2 --task sst2 --split validation

Prints the metrics as one JSON object on the last line of stdout:
    {"task": "sst2", "split": "validation", "n": 872, "accuracy": ..., "mcc": ..., "f1_weighted": ...}
"""
from __future__ import annotations

import json
import time

from absl import flags

from pipelines import common
from embbert_tf import artifacts, data as D
from embbert_tf.errors import UserError

FLAGS = flags.FLAGS
flags.DEFINE_string("model", None, "Run directory holding config.json, vocab.txt and model_int8.tflite.")
flags.DEFINE_string("split", None, "Split to evaluate (train, validation, test); default: the task's reported split.")


def load_eval_split(task: D.Task, split: str, data_dir: str | None, seed: int) -> D.Split:
    if split == "holdout" or (split == "validation" and "validation" not in task.splits):
        data = D.load_task(task, data_dir, seed)  # the same seeded hold-outs as in training
        return data.evaluation if split == "holdout" else data.validation
    if split == "validation" and "validation" not in task.splits:
        return D.load_task(task, data_dir, seed).validation  # the same seeded hold-out as in training
    if split not in task.splits:
        raise UserError(f"task {task.name} has no labelled {split!r} split; choose one of {', '.join(task.splits)}")
    return D.load_split(task, split, data_dir)


def evaluate(model_dir: str, task: D.Task | None = None, data_dir: str | None = None, split: str | None = None,
             limit: int | None = None, progress: bool = True) -> dict:
    run = artifacts.Run(model_dir)
    task = task or run.task_spec
    if task.folder and run.info.get("classes") and list(task.classes or []) != run.info["classes"]:
        raise UserError(f"{task.folder}'s training split has the classes {list(task.classes or [])}, the model in "
                        f"{model_dir} was trained on {run.info['classes']}; evaluate it on data with its classes")
    if task.num_classes != run.num_classes:
        raise UserError(f"the model in {model_dir} has {run.num_classes} outputs, task {task.name} needs "
                        f"{task.num_classes}; evaluate it on the task it was trained for ({run.task})")
    split = split or task.eval_split
    examples = load_eval_split(task, split, data_dir, int(run.info["seed"]))
    if limit:
        examples = examples.head(limit)
    from embbert_tf import inputs, metrics as M, micro  # TensorFlow: once the flags and task are checked
    encoded = inputs.encode(run.tokenizer(), examples, run.sequence_length)
    interpreter = micro.TFLM(run.tflite())
    started = time.time()
    _, logits = interpreter.run(encoded.ids, progress="TFLM" if progress else None, workers=common.eval_workers())
    seconds = time.time() - started
    return {"task": task.name, "split": split, "n": len(encoded.ids),
            **M.compute(encoded.labels, logits, task.is_regression),
            "truncated": encoded.truncated, "runtime": "tflm", "ms_per_example": 1000 * seconds / len(encoded.ids)}


def main(argv):
    if not FLAGS.model:
        raise UserError("--model is required: the run directory of a trained model")
    result = evaluate(FLAGS.model, common.task() if FLAGS["task"].present else None, FLAGS.data_dir, FLAGS.split,
                      FLAGS.eval_limit)
    print(json.dumps(result))


if __name__ == "__main__":
    common.run_main(main)
