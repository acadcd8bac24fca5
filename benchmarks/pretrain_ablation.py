"""Benchmark: pre-training ablations, side by side at the same data, seed and budget (one CPU thread each).

- block form: does masked-LM learn with the reference block (no identity residual) and with the paper's skip
  connection (`--residual`)?
- next-sentence prediction: the residual block with and without the NSP loss (the reference code adds it).

    ./run python -m benchmarks.pretrain_ablation [--work_dir runs/pretrain_ablation]

Finished runs in --work_dir are read back, not repeated. Results: benchmarks/results/pretrain_ablation.{json,md,png}.
The SST-2 side of these ablations (fine-tuning each backbone) is a `benchmarks.tasks` row:
`--label nsp_off --extra=--pretrained=runs/pretrain_ablation/r1_nonsp`.
"""
from __future__ import annotations

import json
import os

from absl import app, flags

from benchmarks import write_results
from embbert_tf import train
from pipelines import common  # noqa: F401  (defines --vocab and the shared flags)

FLAGS = flags.FLAGS
flags.DEFINE_string("work_dir", "runs/pretrain_ablation", "Where the two pre-training runs go.")
flags.DEFINE_integer("bench_steps", 3000, "Optimizer steps per run.")
flags.DEFINE_integer("bench_seed", 0, "Seed of both runs.")
flags.DEFINE_string("results_dir", "benchmarks/results", "Where pretrain_ablation.* go.")
flags.DEFINE_list("variants", None, "Variants to (re)run; the others keep their committed results. Default: all.")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SETTINGS = {"sequence_length": 64, "batch_size": 32, "steps_per_epoch": 250, "eval_batches": 5, "learning_rate": 1e-3,
            "corpus_chars": 30_000_000}
# key: (label, config overrides, NSP)
VARIANTS = {"r0": ("reference block (no residual), MLM + NSP", {}, True),
            "r1": ("identity residual (--residual), MLM + NSP", {"residual": True}, True),
            "r1_nonsp": ("identity residual (--residual), MLM only (--nonsp)", {"residual": True}, False)}


def main(argv):
    os.chdir(ROOT)
    os.environ.setdefault("TF_NUM_INTRAOP_THREADS", "1")
    from embbert_tf.pretrain import PretrainSettings, pretrain_backbone  # noqa: E402

    results = {"settings": {**SETTINGS, "steps": FLAGS.bench_steps, "seed": FLAGS.bench_seed, "config": "embbert"},
               "runs": {}}
    committed = os.path.join(FLAGS.results_dir, "pretrain_ablation.json")
    previous = json.load(open(committed))["runs"] if os.path.exists(committed) else {}
    for key, (label, overrides, nsp) in VARIANTS.items():
        if FLAGS.variants and key not in FLAGS.variants and key in previous:
            results["runs"][key] = {**previous[key], "label": label}
            continue
        out = os.path.join(FLAGS.work_dir, key)
        path = os.path.join(out, "metrics.json")
        if not (os.path.exists(path) and json.load(open(path))["steps"] >= FLAGS.bench_steps):
            pretrain_backbone(out, PretrainSettings(config="embbert", vocab=FLAGS.vocab or "models/pretrained/vocab.txt",
                                           steps=FLAGS.bench_steps, seed=FLAGS.bench_seed, config_overrides=overrides,
                                           nsp=nsp, resume=train.has_backup(out), verbose=2, **SETTINGS))
        history = train.read_history(out)
        results["runs"][key] = {"label": label, **json.load(open(path)),
                                "held_out_mlm_accuracy_by_epoch": [h["val_mlm_accuracy"] for h in history],
                                "held_out_mlm_loss_by_epoch": [h["val_mlm_loss"] for h in history]}
    per = SETTINGS["steps_per_epoch"]
    runs = results["runs"]
    lines = ["# Pre-training ablations: block form and next-sentence prediction", "",
             f"`embbert` config, Wikipedia sample, L = {SETTINGS['sequence_length']}, batch {SETTINGS['batch_size']}, "
             f"AdamW lr {SETTINGS['learning_rate']:g} constant, {FLAGS.bench_steps} steps, seed "
             f"{FLAGS.bench_seed}; held-out MLM accuracy on {SETTINGS['eval_batches']} fixed batches of held-out "
             "text (with NSP the batches are sentence pairs, half of them random, as in training).", "",
             "| run | held-out MLM accuracy | held-out MLM loss | held-out NSP accuracy | wall s |",
             "|---|---|---|---|---|"]
    for r in runs.values():
        nsp = f"{100 * r['held_out_nsp_accuracy']:.1f} %" if r.get("held_out_nsp_accuracy") is not None else "–"
        lines.append(f"| {r['label']} | {100 * r['held_out_mlm_accuracy']:.1f} % | {r['held_out_mlm_loss']:.3f} | "
                     f"{nsp} | {r['wall_seconds']:.0f} |")
    lines += ["", "Block form: predicting the most frequent word-pieces (the unigram plateau) scores about 5 %. The "
              "reference block, whose output replaces its input, stays there for the whole budget; with the "
              "identity residual the same model leaves it within the first 500 steps. (A longer reference-block "
              "run, L = 128, lr 5e-4, was still at 4.7 % after 3,000 steps.)", "",
              "Wall seconds are one CPU thread per run, with whatever else shared the machine at the time: a record "
              "of cost, not a speed comparison."]
    if "r1_nonsp" in runs:
        on, off = runs["r1"], runs["r1_nonsp"]
        lines += ["", f"NSP: at the same {FLAGS.bench_steps} steps, masked-LM reaches "
                      f"{100 * off['held_out_mlm_accuracy']:.1f} % without the NSP loss and "
                      f"{100 * on['held_out_mlm_accuracy']:.1f} % with it; NSP itself reaches "
                      f"{100 * on['held_out_nsp_accuracy']:.1f} % (chance 50 %). What each backbone gives on SST-2 "
                      "is in `tasks_overview.md` (labels nsp_on and nsp_off)."]
    lines.append("")
    write_results(FLAGS.results_dir, "pretrain_ablation", results, "\n".join(lines))

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 3.5))
    for r in results["runs"].values():
        acc = r["held_out_mlm_accuracy_by_epoch"]
        ax.plot([per * (i + 1) for i in range(len(acc))], [100 * a for a in acc], marker="o", label=r["label"])
    ax.set_xlabel("step")
    ax.set_ylabel("held-out MLM accuracy (%)")
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(os.path.join(FLAGS.results_dir, "pretrain_ablation.png"), dpi=120)


if __name__ == "__main__":
    app.run(main)
