"""Distillation, teacher side: fine-tune the pre-trained teacher on the task, build the transfer set and
label it with the teacher's logits.

    python -m pipelines.teacher --task sst2 --output_dir runs/sst2_distill
    KERAS_BACKEND=jax python -m pipelines.teacher ...     # the same on a GPU machine without TensorFlow

Writes <output_dir>/teacher/ and <output_dir>/transfer/ (embbert_tf/transfer.py); resumes where it
stopped. `pipelines.distill` trains the student from them.
"""
from __future__ import annotations

import json

from absl import flags

from pipelines import common

FLAGS = flags.FLAGS
common.define_teacher_flags()


def main(argv):
    from embbert_tf import transfer

    task = common.task()
    result = transfer.teacher_stage(task, common.output_dir(), **common.teacher_settings())
    ev = result["evaluation"]
    print(f"[teacher] {task.name} {ev['split']} {task.metric}: {ev[task.metric]:.4f} "
          f"(selection {result['selection'][task.metric]:.4f}); transfer set {result['transfer']['examples']} "
          f"texts labelled in {result['label_seconds']:.0f} s")
    print(json.dumps({"task": task.name, **{k: result[k] for k in ("evaluation", "selection", "seconds")}}))


if __name__ == "__main__":
    common.run_main(main)
