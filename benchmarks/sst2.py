"""Benchmark: the default pipeline (`embbert` config) on full SST-2, against the issue's targets.

    ./run python -m benchmarks.sst2            # runs pipelines.full with defaults, then summarises
    ./run python -m benchmarks.sst2 --reuse    # only summarise an existing run

Writes benchmarks/results/sst2.json and sst2.md (committed) and copies the run's plots beside them.
Everything quoted is measured in this one run, on this machine.
"""
from __future__ import annotations

import json
import os
import platform
import shutil
import subprocess
import sys
import time

from absl import app, flags

from benchmarks import write_results

FLAGS = flags.FLAGS
flags.DEFINE_string("run_dir", "runs/benchmark_sst2", "Where the pipeline run goes (not committed).")
flags.DEFINE_string("results_dir", "benchmarks/results", "Where the summary goes (committed).")
flags.DEFINE_boolean("reuse", False, "Summarise an existing run instead of running the pipeline.")
flags.DEFINE_integer("seed", 0, "Seed passed to the pipeline.")
flags.DEFINE_multi_string("extra", [], "Extra flags for pipelines.full, e.g. --extra=--epochs=6.")

TARGETS = {  # issue 2's, with issue 12's hour for the default recipe
    "tflm_accuracy": (">=", 0.800),
    "float_to_int8_drop_pt": ("<=", 0.5),
    "tflm_litert_agreement": (">=", 0.995),
    "l256_flash_plus_arena_bytes": ("<=", 600_000),
    "pipeline_minutes": ("<=", 60.0),
}


def _check(value, rule):
    op, bound = rule
    return value >= bound if op == ">=" else value <= bound


def summarise(report: dict, minutes: float, minutes_from: str = "this benchmark's wall clock") -> dict:
    ev = report["evaluation"]
    acc = {k: ev["metrics"][k]["accuracy"] for k in ("float", "tflm", "litert")}
    l256 = [m for m in report["memory"]["measured"] if m["sequence_length"] == 256 and m["config"] == "embbert"]
    own = report["memory"]["measured"][0]
    values = {
        "tflm_accuracy": acc["tflm"],
        "float_to_int8_drop_pt": round(100 * (acc["float"] - acc["tflm"]), 2),
        "tflm_litert_agreement": ev["agreement"]["TFLM vs LiteRT"]["argmax_agreement"],
        "l256_flash_plus_arena_bytes": l256[0]["total_bytes"] if l256 else None,
        "pipeline_minutes": round(minutes, 1),
    }
    return {
        "task": "sst2",
        "split": ev["split"],
        "n": ev["n"],
        "seed": report["seed"],
        "config": report["model"]["name"],
        "recipe": report.get("recipe", {}).get("name", "scratch"),
        "sequence_length": report["sequence_length"],
        "accuracy": {"tfidf_logreg": report["baseline"]["accuracy"], **acc,
                     "validation_ptq_tflm": report["quantize"]["validation"].get("ptq"),
                     "validation_qat_tflm": report["quantize"]["validation"].get("qat")},
        "shipped": report["quantize"]["shipped"],
        "memory": {"own_length": own, "l256": l256[0] if l256 else None},
        "values": values,
        "targets": {k: {"rule": f"{op} {bound}", "value": values[k],
                        "met": None if values[k] is None else _check(values[k], (op, bound))}
                    for k, (op, bound) in TARGETS.items()},
        "timings_s": report["timings"],
        "minutes_from": minutes_from,
        "machine": f"{platform.machine()}, {os.cpu_count()} cores, {platform.python_version()}",
        "versions": report["versions"],
    }


def markdown(s: dict) -> str:
    a = s["accuracy"]
    lines = [
        f"# SST-2 benchmark: default `pipelines.full` (recipe `{s['recipe']}`, `{s['config']}` config)", "",
        f"Measured in one run on {s['machine']}; seed {s['seed']}, sequence length {s['sequence_length']}, "
        f"{s['n']} validation sentences; minutes from {s['minutes_from']}.", "",
        "| model | runtime | accuracy |", "|---|---|---|",
        f"| TF-IDF + logistic regression | scikit-learn | {100 * a['tfidf_logreg']:.2f} |",
        f"| EmbBERT float | Keras | {100 * a['float']:.2f} |",
        f"| EmbBERT int8 ({s['shipped'].upper()}) | TFLM reference | {100 * a['tflm']:.2f} |",
        f"| EmbBERT int8, same flatbuffer | LiteRT | {100 * a['litert']:.2f} |", "",
        "| target (issues 2, 12) | rule | measured | met |", "|---|---|---|---|",
    ]
    for k, t in s["targets"].items():
        met = "–" if t["met"] is None else ("yes" if t["met"] else "**no**")
        lines.append(f"| {k} | {t['rule']} | {t['value']} | {met} |")
    m = s["memory"]
    lines += ["", "| memory | L | .tflite (flash) | arena (RAM) | total |", "|---|---|---|---|---|"]
    for key in ("own_length", "l256"):
        if m[key]:
            r = m[key]
            lines.append(f"| {r['config']} | {r['sequence_length']} | {r['tflite_bytes']:,} | {r['arena_bytes']:,} | "
                         f"{r['total_bytes']:,} |")
    lines += ["", f"Stage times (s): {s['timings_s']}", "", "![memory](sst2_memory.png)",
              "![training](sst2_training.png)", ""]
    return "\n".join(lines)


def main(argv):
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    os.chdir(root)
    started = time.time()
    if not FLAGS.reuse:
        cmd = [sys.executable, "-m", "pipelines.full", "--task", "sst2", "--output_dir", FLAGS.run_dir,
               "--seed", str(FLAGS.seed), *FLAGS.extra]
        print("[benchmark]", " ".join(cmd), flush=True)
        subprocess.run(cmd, check=True)
    minutes = (time.time() - started) / 60
    with open(os.path.join(FLAGS.run_dir, "report.json")) as f:
        report = json.load(f)
    minutes_from = "this benchmark's wall clock"
    if FLAGS.reuse:
        minutes, minutes_from = sum(report["timings"].values()) / 60, "the run's stage times, summed"
    summary = summarise(report, minutes, minutes_from)
    write_results(FLAGS.results_dir, "sst2", summary, markdown(summary))
    for name in ("memory", "training"):
        shutil.copyfile(os.path.join(FLAGS.run_dir, f"{name}.png"), os.path.join(FLAGS.results_dir, f"sst2_{name}.png"))


if __name__ == "__main__":
    app.run(main)
