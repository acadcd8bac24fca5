"""Benchmark: student training throughput on a transfer set, every text padded to L versus length buckets,
and length buckets compiled with XLA (`jit_compile`).

    ./run python -m benchmarks.distill_speed --task sst2

Texts are real: the task's training texts tokenized by a vocabulary learned from them (SST-2's phrases are
short, so padding to L wastes most of each batch). The two settings alternate, `--repeats` times each, and
the medians and their ratio are written to benchmarks/results/distill_speed.{json,md}.
"""
from __future__ import annotations

import os
import statistics
import time

from absl import app, flags

from benchmarks import write_results

FLAGS = flags.FLAGS
flags.DEFINE_string("task", "sst2", "Task whose training texts are used.")
flags.DEFINE_string("config", "embbert", "Student config.")
flags.DEFINE_integer("examples", 8192, "Examples per timed pass.")
flags.DEFINE_integer("batch_size", 256, "Batch size.")
flags.DEFINE_integer("repeats", 3, "Timed passes per setting (alternating).")
flags.DEFINE_string("data_dir", None, "Data folder; default $EMBBERT_DATA_DIR.")
flags.DEFINE_string("results_dir", "benchmarks/results", "Where the results go.")


def main(argv):
    import numpy as np
    import tensorflow as tf

    import embbert_tf  # noqa: F401
    from embbert_tf import data, distill, train
    from embbert_tf.config import get_config
    from embbert_tf.model import build_classifier
    from embbert_tf.tokenizer import Tokenizer, choose_sequence_length

    train.set_seed(0)
    task = data.get_task(FLAGS.task)
    config = get_config(FLAGS.config)
    split = data.load_split(task, "train", FLAGS.data_dir)
    index = np.random.default_rng(0).permutation(len(split))[: FLAGS.examples]
    split = split.subset(np.sort(index))
    tokenizer = Tokenizer.learn(split.texts[0], config.vocab_size)
    ids, lengths = tokenizer.encode_columns(split.texts, 8)
    length = choose_sequence_length(lengths, config.max_sequence_length)
    ids, _ = tokenizer.encode_columns(split.texts, length)
    y = distill.targets(np.random.default_rng(0).standard_normal((len(ids), 2)).astype("float32"),
                        np.full(len(ids), -1))

    def padded():
        return tf.data.Dataset.from_tensor_slices((ids, y)).batch(FLAGS.batch_size).prefetch(4)

    def bucketed():
        return distill.bucketed_dataset(ids, y, FLAGS.batch_size, seed=0)

    settings = {"padded": (length, False, padded), "bucketed": (None, False, bucketed),
                "bucketed_xla": (None, True, bucketed)}
    models = {}
    for name, (L, jit, make) in settings.items():
        model = build_classifier(config, task.num_classes, L)
        model.compile(optimizer=train.make_optimizer(1e-3, 0.05), loss=distill.DistillationLoss(task.num_classes),
                      jit_compile=jit)
        model.fit(make(), epochs=1, verbose=0)  # trace (and compile each width) and warm up
        models[name] = model
    times = {name: [] for name in settings}
    for _ in range(FLAGS.repeats):
        for name, (_, _, make) in settings.items():
            started = time.perf_counter()
            models[name].fit(make(), epochs=1, verbose=0)
            times[name].append(time.perf_counter() - started)
    rate = {k: len(ids) / statistics.median(v) for k, v in times.items()}
    result = {"task": task.name, "config": config.name, "sequence_length": length, "examples": len(ids),
              "batch_size": FLAGS.batch_size, "mean_tokens": float(np.minimum(lengths, length).mean()),
              "seconds": times, "examples_per_second": rate, "speedup": rate["bucketed"] / rate["padded"],
              "speedup_xla": rate["bucketed_xla"] / rate["bucketed"],
              "cpus": os.cpu_count(), "load_average_before": os.getloadavg()}
    md = (f"# Student training throughput: padded to L, length buckets, length buckets with XLA\n\n"
          f"{task.name} training texts ({len(ids)}, {result['mean_tokens']:.1f} tokens on average, L = {length}), "
          f"config {config.name}, batch {FLAGS.batch_size}, {FLAGS.repeats} alternating passes each, medians.\n\n"
          f"| setting | examples/s |\n|---|---|\n"
          f"| every text padded to L={length} | {rate['padded']:.0f} |\n"
          f"| length buckets (width of the batch's longest text) | {rate['bucketed']:.0f} |\n"
          f"| length buckets, compiled with XLA (`jit_compile`) | {rate['bucketed_xla']:.0f} |\n\n"
          f"Speed-up of buckets over padding: **{result['speedup']:.2f}×**; of XLA over buckets alone: "
          f"**{result['speedup_xla']:.2f}×** (load average before: {result['load_average_before'][0]:.2f} on "
          f"{result['cpus']} CPUs).\n")
    write_results(FLAGS.results_dir, "distill_speed", result, md)


if __name__ == "__main__":
    app.run(main)
