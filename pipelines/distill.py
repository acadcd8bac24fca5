"""Text to a distilled, quantized, evaluated EmbBERT: the pre-trained teacher labels a transfer set, the
student learns from its logits, then int8 and TFLM exactly as `pipelines.full`.

    python -m pipelines.distill --task sst2 --in_domain 250000 --output_dir runs/sst2_distill

Stages (each resumes with --resume): teacher (fine-tune all-MiniLM-L6-v2 on the task, build and label
the transfer set: embbert_tf/transfer.py; `pipelines.teacher` runs it alone, also on a GPU machine), student
(EmbBERT on the teacher's logits, best epoch by the task metric on the selection split:
embbert_tf/distill.py), quantize, evaluate, export, report. The teacher never reaches the device.
"""
from __future__ import annotations

import time

from absl import flags

from pipelines import common

FLAGS = flags.FLAGS
common.define_teacher_flags()
common.define_finish_flags()
flags.DEFINE_integer("student_epochs", 10, "Student epochs over the transfer set (at most, with --patience).")
flags.DEFINE_integer("student_batch_size", 256, "Student batch size (batches are length buckets).")
flags.DEFINE_float("student_learning_rate", 1e-3, "Student AdamW peak learning rate.")
flags.DEFINE_integer("student_seed", None, "Seed of the student's initialisation and batch order (default: --seed, "
                     "which also fixes the selection split and the transfer set, so seeds share one teacher).")
flags.DEFINE_enum("init_embeddings", "random", ["random", "teacher"], "The student's token table: random, or "
                  "the teacher's WordPiece embeddings averaged over each of our tokens' pieces, PCA to its width.")
flags.DEFINE_float("gold_weight", 0.0, "Weight of the gold-label loss beside the MSE to the teacher's logits, on "
                   "the texts that have a gold label (Tang et al.: 0).")


def main(argv):
    from embbert_tf import artifacts, transfer

    F = FLAGS
    out = common.output_dir()
    task = common.task()
    timings = {}
    started = time.time()
    teacher = transfer.teacher_stage(task, out, **common.teacher_settings())
    timings["teacher"] = round(time.time() - started, 1)
    started = time.time()
    trained = artifacts.training_seconds(out) if F.resume else None
    if trained is not None:
        timings["student"] = trained  # a resumed run whose model was trained: what the training took, not 0
    else:
        from embbert_tf.distill import StudentSettings, train_student

        settings = StudentSettings(
            config=F.config, config_overrides=common.config_overrides(), seed=F.seed, student_seed=F.student_seed,
            sequence_length=F.sequence_length, epochs=F.student_epochs, patience=F.patience,
            batch_size=F.student_batch_size, learning_rate=F.student_learning_rate, weight_decay=F.weight_decay,
            gold_weight=F.gold_weight, init_embeddings=F.init_embeddings, teacher_dir=F.teacher_dir,
            resume=F.resume)
        train_student(out, task, settings, data_dir=F.data_dir)
        timings["student"] = round(time.time() - started, 1)
    common.finish(out, timings, extra={"teacher": teacher})


if __name__ == "__main__":
    common.run_main(main)
