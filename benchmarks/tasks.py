"""Benchmark: every staged task through the full pipeline, float and int8-on-TFLM, beside the paper.

    ./run python -m benchmarks.tasks                          # all staged tasks, default settings
    ./run python -m benchmarks.tasks --tasks sst2,rte --seeds 0,1,2
    ./run python -m benchmarks.tasks --label scratch --extra=--from_scratch   # an ablation row

Each (task, seed) runs `pipelines.full` into runs/tasks/<label>/<task>_s<seed>/ (kept, so an interrupted
benchmark resumes where it stopped) and the table is rebuilt from every finished run with that label:
benchmarks/results/tasks_<label>.json and .md, with the paper's EmbBERT and EmbBERT-Q numbers (spec §6,
the authors' result files) and the TF-IDF baseline.
"""
from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys

from absl import app, flags

from benchmarks import write_results

FLAGS = flags.FLAGS
flags.DEFINE_list("tasks", ["sst2", "cola", "mrpc", "stsb", "rte", "imdb", "emotion", "cyberbullying", "limit",
                            "nlu"], "Tasks to run.")
flags.DEFINE_list("seeds", ["0"], "Seeds; each is one run.")
flags.DEFINE_string("label", "default", "Name of this configuration (ablations get their own).")
flags.DEFINE_multi_string("extra", [], "Extra flags for pipelines.full, e.g. --extra=--nsp=false.")
flags.DEFINE_string("results_dir", "benchmarks/results", "Where the table goes.")
flags.DEFINE_boolean("table_only", False, "Only rebuild the table from finished runs.")

# Spec §6: the authors' result files (mean over their runs), in %. GLUE metric per task as in spec §4.4.
PAPER = {
    "sst2": ("accuracy", 79.33, 80.96), "cola": ("mcc", 12.37, 10.66), "mrpc": ("f1_weighted", 69.19, 67.99),
    "stsb": ("spearman", 49.25, 49.28), "rte": ("accuracy", 45.49, 49.28),
    "imdb": ("accuracy", 84.10, 84.01), "emotion": ("accuracy", 89.58, 89.90),
    "cyberbullying": ("accuracy", 83.97, 86.60), "limit": ("accuracy", 76.36, 74.10), "nlu": ("accuracy", 88.16, 94.05),
}
TINYNLP = ("imdb", "emotion", "cyberbullying", "limit", "nlu")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_dir(label, task, seed):
    return os.path.join("runs", "tasks", label, f"{task}_s{seed}")


def collect(label, tasks):
    rows = {}
    for task in tasks:
        metric = PAPER[task][0]
        reports = []
        base = os.path.join("runs", "tasks", label)
        for name in sorted(os.listdir(base)) if os.path.isdir(base) else []:
            path = os.path.join(base, name, "report.json")
            if name.rsplit("_s", 1)[0] == task and os.path.exists(path):
                with open(path) as f:
                    reports.append(json.load(f))
        if not reports:
            continue
        ev = [r["evaluation"] for r in reports]
        vals = {k: [100 * e["metrics"][k][metric] for e in ev] for k in ("float", "tflm")}
        rows[task] = {
            "metric": metric, "split": ev[0]["split"], "n": ev[0]["n"], "runs": len(reports),
            "seeds": [r["seed"] for r in reports],
            "float": statistics.mean(vals["float"]), "tflm": statistics.mean(vals["tflm"]),
            "tflm_std": statistics.stdev(vals["tflm"]) if len(reports) > 1 else None,
            "drop": statistics.mean(vals["float"]) - statistics.mean(vals["tflm"]),
            "baseline": statistics.mean(100 * r["baseline"][metric] for r in reports),
            "paper_fp32": PAPER[task][1], "paper_q": PAPER[task][2],
            "memory_bytes": reports[0]["memory"]["measured"][0]["total_bytes"],
            "sequence_length": reports[0]["sequence_length"],
            "pretrained": reports[0].get("pretrained"),
        }
    tiny = [t for t in TINYNLP if t in rows]
    summary = {}
    if len(tiny) == len(TINYNLP):
        summary["tinynlp_avg"] = {k: statistics.mean(rows[t][k] for t in tiny) for k in ("float", "tflm", "paper_fp32", "paper_q")}
    return {"label": label, "rows": rows, "summary": summary}


def markdown(result):
    lines = [f"# Tasks benchmark ({result['label']})", "",
             "Metric per task as the paper scores it (accuracy; MCC for CoLA; weighted F1 for MRPC; Spearman for "
             "STS-B), in %, on the split the paper reports. int8 = the shipped fully-int8 model on the TFLM "
             "reference interpreter. Paper: the authors' EmbBERT fp32 and EmbBERT-Q (8-bit weights) results.", "",
             "| task | metric | split (n) | runs | TF-IDF | float | **int8 TFLM** | drop | paper fp32 | paper Q | flash+arena |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for task, r in result["rows"].items():
        std = f" ± {r['tflm_std']:.2f}" if r["tflm_std"] is not None else ""
        lines.append(f"| {task} | {r['metric']} | {r['split']} ({r['n']}) | {r['runs']} | {r['baseline']:.2f} | "
                     f"{r['float']:.2f} | **{r['tflm']:.2f}**{std} | {r['drop']:.2f} | {r['paper_fp32']:.2f} | "
                     f"{r['paper_q']:.2f} | {r['memory_bytes'] / 1000:.0f} kB |")
    if result["summary"].get("tinynlp_avg"):
        a = result["summary"]["tinynlp_avg"]
        lines += ["", f"TinyNLP average of the staged tasks: float {a['float']:.2f}, int8 TFLM {a['tflm']:.2f}; "
                      f"paper fp32 {a['paper_fp32']:.2f}, paper Q {a['paper_q']:.2f}."]
    return "\n".join(lines) + "\n"


def main(argv):
    os.chdir(ROOT)
    if not FLAGS.table_only:
        for task in FLAGS.tasks:
            for seed in FLAGS.seeds:
                out = run_dir(FLAGS.label, task, seed)
                if os.path.exists(os.path.join(out, "report.json")):
                    continue
                resume = ["--resume"] if os.path.exists(os.path.join(out, "config.json")) else []
                cmd = [sys.executable, "-m", "pipelines.full", "--task", task, "--seed", seed, "--output_dir", out,
                       "--measure_l256=false", *resume, *FLAGS.extra]
                print("[tasks]", " ".join(cmd), flush=True)
                subprocess.run(cmd, check=True)
    result = collect(FLAGS.label, FLAGS.tasks)
    write_results(FLAGS.results_dir, f"tasks_{FLAGS.label}", result, markdown(result))


if __name__ == "__main__":
    app.run(main)
