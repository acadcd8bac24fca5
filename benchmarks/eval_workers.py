"""Benchmark: TFLM evaluation in one process versus worker processes (`--eval_workers`).

    ./run python -m benchmarks.eval_workers [--model models/sst2] [--repeats 3]

Runs the int8 model on the TFLM reference interpreter over SST-2 validation (872 sentences) and over the
same sentences four times (3,488), alternating one process and every CPU, `--repeats` times each, and
quotes median wall time per example and the ratio. Outputs must be byte-equal between the two. Run it on an
idle machine: another job on the same cores measures contention, not the speed-up. Results:
benchmarks/results/eval_workers.json and eval_workers.md.
"""
from __future__ import annotations

import os
import platform
import statistics
import time

import numpy as np
from absl import app, flags

from benchmarks import write_results
from embbert_tf import artifacts, data, micro

FLAGS = flags.FLAGS
flags.DEFINE_string("model", "models/sst2", "Run directory or shipped model folder.")
flags.DEFINE_integer("repeats", 3, "Timed runs per setting (medians are quoted).")
flags.DEFINE_string("results_dir", "benchmarks/results", "Where eval_workers.json / .md go.")


def timed(tflm, ids, workers):
    start = time.perf_counter()
    raw, _ = tflm.run(ids, workers=workers)
    return time.perf_counter() - start, raw


def main(argv):
    del argv
    load_before = os.getloadavg()  # another job on these cores would show here
    run = artifacts.Run(FLAGS.model)
    split = data.load_split(data.get_task(run.task), "validation", None)
    ids = run.tokenizer().encode_split(split, run.sequence_length).ids
    tflm = micro.TFLM(run.tflite())
    cpus = micro.default_workers()
    rows = []
    for name, batch in (("validation", ids), ("validation x4", np.concatenate([ids] * 4))):
        seconds = {1: [], cpus: []}
        outputs = {}
        for _ in range(FLAGS.repeats):
            for workers in seconds:  # alternate, so drift in machine load hits both settings alike
                s, outputs[workers] = timed(tflm, batch, workers)
                seconds[workers].append(s)
        one, many = statistics.median(seconds[1]), statistics.median(seconds[cpus])
        rows.append({"set": name, "examples": len(batch), "processes": micro.processes(len(batch), cpus),
                     "seconds_one_process": seconds[1], "seconds_workers": seconds[cpus],
                     "median_ms_per_example_one": 1000 * one / len(batch),
                     "median_ms_per_example_workers": 1000 * many / len(batch),
                     "speedup": one / many,
                     "byte_equal": bool(np.array_equal(outputs[1], outputs[cpus]))})
    results = {"model": FLAGS.model, "task": run.task, "sequence_length": run.sequence_length, "cpus": cpus,
               "repeats": FLAGS.repeats, "machine": f"{platform.machine()}, {os.cpu_count()} CPUs",
               "load_average_before": load_before, "load_average_after": os.getloadavg(), "rows": rows}
    lines = [f"# TFLM evaluation: one process vs worker processes ({run.task}, L={run.sequence_length})", "",
             f"Model `{FLAGS.model}` on the TFLM reference interpreter (Python `tflite_micro` runtime), "
             f"{cpus} CPUs available; median of {FLAGS.repeats} runs per setting, the settings alternated. "
             "Wall time includes starting the worker processes.", "",
             "| examples | processes | ms/example, 1 process | ms/example, workers | speed-up | outputs byte-equal |",
             "|---:|---:|---:|---:|---:|:---:|"]
    for r in rows:
        lines.append(f"| {r['examples']:,} | {r['processes']} | {r['median_ms_per_example_one']:.2f} | "
                     f"{r['median_ms_per_example_workers']:.2f} | {r['speedup']:.2f}× | "
                     f"{'yes' if r['byte_equal'] else 'NO'} |")
    write_results(FLAGS.results_dir, "eval_workers", results, "\n".join(lines) + "\n")


if __name__ == "__main__":
    app.run(main)
