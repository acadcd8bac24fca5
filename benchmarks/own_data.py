"""Benchmark: the staged NLU data through `--task FOLDER` against the built-in `nlu` task, same seed.

    ./run python -m benchmarks.own_data [--config nano --epochs 4]

Writes NLU's train and test splits in the folder layout (text, label) to a temporary folder, runs
`pipelines.full` on both with the same settings, and puts their numbers side by side in
benchmarks/results/own_data.{json,md}: the two paths should agree to the last digit.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile

from absl import app, flags

from benchmarks import write_results

FLAGS = flags.FLAGS
flags.DEFINE_string("config", "nano", "Model config for both runs.")
flags.DEFINE_integer("epochs", 4, "Fine-tuning epochs for both runs.")
flags.DEFINE_integer("seed", 0, "Seed for both runs.")
flags.DEFINE_string("data_dir", None, "Data folder; default $EMBBERT_DATA_DIR.")
flags.DEFINE_string("results_dir", "benchmarks/results", "Where the results go.")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main(argv):
    import pandas as pd

    data_dir = FLAGS.data_dir or os.environ["EMBBERT_DATA_DIR"]
    work = tempfile.mkdtemp(prefix="own_data_")
    folder = os.path.join(work, "nlu_folder")
    os.makedirs(folder)
    for split in ("train", "test"):
        frame = pd.read_json(os.path.join(data_dir, "nlu_evaluation_data", f"{split}.jsonl"), lines=True, dtype=False)
        frame.rename(columns={"answer_from_anno": "text", "scenario": "label"})[["text", "label"]].to_json(
            os.path.join(folder, f"{split}.jsonl"), orient="records", lines=True)
    reports = {}
    for name, task in (("built-in nlu", "nlu"), ("folder", folder)):
        out = os.path.join(work, name.replace(" ", "_"))
        cmd = [sys.executable, "-m", "pipelines.full", "--task", task, "--recipe", "scratch", "--config", FLAGS.config,
               "--epochs", str(FLAGS.epochs), "--seed", str(FLAGS.seed), "--data_dir", data_dir, "--output_dir", out,
               "--qat_epochs", "0", "--measure_l256=false", "--arduino=none"]
        print("[own_data]", " ".join(cmd), flush=True)
        subprocess.run(cmd, check=True, cwd=ROOT)
        with open(os.path.join(out, "report.json")) as f:
            reports[name] = json.load(f)
    rows = {name: {"selection_best": r["finetune"]["best_score"], "best_epoch": r["finetune"]["best_epoch"] + 1,
                   "vocab_size": r["vocab_size"], "float": r["evaluation"]["metrics"]["float"]["accuracy"],
                   "tflm": r["evaluation"]["metrics"]["tflm"]["accuracy"], "n": r["evaluation"]["n"],
                   "train_examples": r["data"]["train"]["examples"]} for name, r in reports.items()}
    same = rows["built-in nlu"] == rows["folder"]
    md = ["# Your own data: NLU as a folder against the built-in task", "",
          f"`pipelines.full` on the staged NLU data, once as `--task nlu` and once as a folder of `train.jsonl` / "
          f"`test.jsonl` (columns text, label), config {FLAGS.config}, {FLAGS.epochs} epochs, seed {FLAGS.seed}, "
          "PTQ. Accuracy in % on the test split.", "",
          "| path | train examples | vocabulary | best epoch | selection | float | **int8 TFLM** |",
          "|---|---|---|---|---|---|---|"]
    for name, r in rows.items():
        md.append(f"| {name} | {r['train_examples']} | {r['vocab_size']} | {r['best_epoch']} | "
                  f"{100 * r['selection_best']:.2f} | {100 * r['float']:.2f} | **{100 * r['tflm']:.2f}** |")
    md += ["", "The two paths agree exactly." if same else "The two paths DIFFER."]
    write_results(FLAGS.results_dir, "own_data", {"rows": rows, "identical": same, "config": FLAGS.config,
                                                  "epochs": FLAGS.epochs, "seed": FLAGS.seed}, "\n".join(md) + "\n")


if __name__ == "__main__":
    app.run(main)
