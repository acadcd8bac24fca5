"""Benchmark: what the distillation teacher costs on this machine's CPU (TensorFlow backend).

    ./run python -m benchmarks.teacher_cost [--run runs/sst2_distill]

Times teacher fine-tuning (batch 32, length buckets) on a sample of SST-2's training split and labelling
a sample of a built transfer set, after a warm-up, and extrapolates to a full epoch and a full transfer
set: the numbers that decide which distillation recipe fits `pipelines.full`'s hour. Results in
benchmarks/results/teacher_cost.{json,md}.
"""
from __future__ import annotations

import os
import time

from absl import app, flags

from benchmarks import write_results

FLAGS = flags.FLAGS
flags.DEFINE_string("run", "runs/sst2_distill", "A distillation run whose transfer set is labelled.")
flags.DEFINE_integer("train_examples", 6400, "Fine-tuning examples timed.")
flags.DEFINE_integer("label_examples", 20000, "Transfer texts labelled in the timing.")
flags.DEFINE_string("data_dir", None, "Data folder; default $EMBBERT_DATA_DIR.")
flags.DEFINE_string("results_dir", "benchmarks/results", "Where the results go.")


def main(argv):
    import keras
    import numpy as np

    from embbert_tf import data, teacher, transfer

    folder = teacher.pretrained_dir()
    tok = teacher.TeacherTokenizer(folder)
    task_data = data.load_task(data.get_task("sst2"), FLAGS.data_dir, 0)
    texts = transfer.TransferSet.load(os.path.join(FLAGS.run, transfer.TRANSFER_DIR))
    model = teacher.build_teacher(teacher.read_config(folder), 2)
    teacher.load_pretrained(model, folder)
    ids, seg, _ = tok.encode(task_data.train.texts, 128)
    rng = np.random.default_rng(0)
    idx = rng.permutation(len(ids))[: FLAGS.train_examples]
    model.compile(optimizer=keras.optimizers.AdamW(5e-5),
                  loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    warm = idx[:640]
    model.fit(teacher.LengthBuckets(ids[warm], seg[warm], task_data.train.labels[warm], batch_size=32, seed=1),
              epochs=1, verbose=0)
    started = time.perf_counter()
    model.fit(teacher.LengthBuckets(ids[idx], seg[idx], task_data.train.labels[idx], batch_size=32, seed=0),
              epochs=1, verbose=0)
    fit_rate = len(idx) / (time.perf_counter() - started)
    sample = rng.permutation(len(texts))[: FLAGS.label_examples]
    tids, tseg, _ = tok.encode([[texts.texts[0][i] for i in sample]], 128)
    teacher.predict(model, tids[:512], tseg[:512])
    started = time.perf_counter()
    teacher.predict(model, tids, tseg, batch_size=256)
    label_rate = len(tids) / (time.perf_counter() - started)
    result = {"fine_tune_examples_per_second": fit_rate, "label_texts_per_second": label_rate,
              "sst2_epoch_minutes": len(ids) / fit_rate / 60, "transfer_texts": len(texts),
              "transfer_label_minutes": len(texts) / label_rate / 60, "cpus": os.cpu_count(),
              "load_average_before": os.getloadavg(), "backend": keras.backend.backend()}
    md = (f"# Distillation teacher on this CPU\n\nall-MiniLM-L6-v2, Keras 3 on {result['backend']}, "
          f"{result['cpus']} CPUs (load average before: {result['load_average_before'][0]:.2f}).\n\n"
          f"| stage | rate | full size |\n|---|---|---|\n"
          f"| fine-tuning (batch 32, length buckets) | {fit_rate:.0f} examples/s | one SST-2 epoch ({len(ids):,}): "
          f"{result['sst2_epoch_minutes']:.1f} min |\n"
          f"| labelling (batch 256, length buckets) | {label_rate:.0f} texts/s | the SST-2 transfer set "
          f"({len(texts):,}): {result['transfer_label_minutes']:.1f} min |\n\n"
          "The lent H200 did the same fine-tuning epoch in 69 s and the labelling in 31 s "
          "(benchmarks/results/tasks_distill.md).\n")
    write_results(FLAGS.results_dir, "teacher_cost", result, md)


if __name__ == "__main__":
    app.run(main)
