"""Benchmark: every staged task through the full pipeline, float and int8-on-TFLM, beside the paper.

    ./run python -m benchmarks.tasks                          # all staged tasks, default settings
    ./run python -m benchmarks.tasks --tasks sst2,rte --seeds 0,1,2
    ./run python -m benchmarks.tasks --label scratch --extra=--from_scratch   # an ablation row
    ./run python -m benchmarks.tasks --label distill --program distill --tasks sst2 --extra=--in_domain=250000
    ./run python -m benchmarks.tasks --label distill-fast --recipe distill-fast --tasks limit,nlu --seeds 0,1

Each (task, seed) runs `pipelines.full` into runs/tasks/<label>/<task>_s<seed>/ (kept, so an interrupted
benchmark resumes where it stopped) and the table is rebuilt from every finished run with that label:
benchmarks/results/tasks_<label>.json and .md, with the paper's EmbBERT and EmbBERT-Q numbers (spec §6,
the authors' result files) and the TF-IDF baseline. The committed table keeps each run's scores, so a
later machine adds seeds to a row (`--seeds 1` alone: its own teacher) without re-running seed 0.
"""
from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys

from absl import app, flags

from benchmarks import write_results
from embbert_tf import recipes

FLAGS = flags.FLAGS
flags.DEFINE_list("tasks", ["sst2", "cola", "mrpc", "stsb", "rte", "imdb", "emotion", "cyberbullying", "limit",
                            "nlu"], "Tasks to run (ag_news needs its training split, which is not staged).")
flags.DEFINE_list("seeds", ["0"], "Seeds; each is one run.")
flags.DEFINE_string("label", "default", "Name of this configuration (ablations get their own).")
flags.DEFINE_multi_string("extra", [], "Extra flags for pipelines.full, e.g. --extra=--nsp=false.")
flags.DEFINE_string("results_dir", "benchmarks/results", "Where the table goes.")
flags.DEFINE_boolean("table_only", False, "Only rebuild the table from finished runs.")
flags.DEFINE_enum("program", "full", ["full", "distill"], "pipelines.full --recipe RECIPE, or pipelines.distill (trained "
                  "on a teacher's logits over a transfer set, with its flags' defaults).")
flags.DEFINE_enum("recipe", "scratch", sorted(recipes.RECIPES),
                  "pipelines.full's --recipe (embbert_tf/recipes.py); scratch, the task's labels alone, by default.")

# Spec §6: the authors' result files (mean over their runs), in %. GLUE metric per task as in spec §4.4.
PAPER = {
    "sst2": ("accuracy", 79.33, 80.96), "cola": ("mcc", 12.37, 10.66), "mrpc": ("f1_weighted", 69.19, 67.99),
    "stsb": ("spearman", 49.25, 49.28), "rte": ("accuracy", 45.49, 49.28),
    "imdb": ("accuracy", 84.10, 84.01), "emotion": ("accuracy", 89.58, 89.90),
    "cyberbullying": ("accuracy", 83.97, 86.60), "limit": ("accuracy", 76.36, 74.10), "nlu": ("accuracy", 88.16, 94.05),
    "ag_news": ("accuracy", 90.46, 90.63),
}
# The TinyNLP tasks with a staged training split (AG News has only its test split, Snips none).
TINYNLP = ("imdb", "emotion", "cyberbullying", "limit", "nlu")
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_dir(label, task, seed):
    return os.path.join("runs", "tasks", label, f"{task}_s{seed}")


def scores(report, metric):
    """One run's scores, kept in the committed table so that a later machine can add seeds to a row."""
    m = report["evaluation"]["metrics"]
    teacher = report.get("teacher")
    return {"seed": report["seed"], "student_seed": report.get("student_seed", report["seed"]),
            "float": 100 * m["float"][metric], "tflm": 100 * m["tflm"][metric],
            "baseline": 100 * report["baseline"][metric],
            "teacher": 100 * teacher["evaluation"][metric] if teacher else None}


def earlier_runs(row):
    """A committed row's per-run scores; rows from before they were kept have them only for a single run."""
    if not row:
        return []
    if "per_run" in row:
        return row["per_run"]
    if row["runs"] != 1:
        return []  # a mean of several runs cannot be split back into them
    seed = row["seeds"][0]
    return [{"seed": seed, "student_seed": seed, "float": row["float"], "tflm": row["tflm"],
             "baseline": row["baseline"], "teacher": row["teacher"]["score"] if row.get("teacher") else None}]


def collect(label, tasks, previous=None):
    """One row per task from the finished runs of this label. A task with no run here keeps its row from
    `previous` (the committed table), and a run here joins that row's runs of other seeds, so a fresh clone
    adds rows and seeds without re-running the others."""
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
            if previous and task in previous["rows"]:
                rows[task] = previous["rows"][task]
            continue
        ev = [r["evaluation"] for r in reports]
        runs = [scores(r, metric) for r in reports]
        here = {(s["seed"], s["student_seed"]) for s in runs}
        old = previous["rows"].get(task) if previous else None
        if old and old.get("recipe") == reports[0].get("recipe", {}).get("name"):
            runs += [s for s in earlier_runs(old) if (s["seed"], s["student_seed"]) not in here]
        runs.sort(key=lambda s: (s["seed"], s["student_seed"]))
        vals = {k: [s[k] for s in runs] for k in ("float", "tflm")}
        rows[task] = {
            "metric": metric, "split": ev[0]["split"], "n": ev[0]["n"], "runs": len(runs),
            "seeds": [s["student_seed"] for s in runs],
            "float": statistics.mean(vals["float"]), "tflm": statistics.mean(vals["tflm"]),
            "tflm_std": statistics.stdev(vals["tflm"]) if len(runs) > 1 else None,
            "drop": statistics.mean(vals["float"]) - statistics.mean(vals["tflm"]),
            "baseline": statistics.mean(s["baseline"] for s in runs), "per_run": runs,
            "paper_fp32": PAPER[task][1], "paper_q": PAPER[task][2],
            "memory_bytes": reports[0]["memory"]["measured"][0]["total_bytes"],
            "sequence_length": reports[0]["sequence_length"],
            "pretrained": reports[0].get("pretrained"),
            "model": {k: reports[0]["model"][k] for k in ("name", "residual", "pooling")},
            "backbone": backbone(reports[0].get("pretrained")),
            "epochs": reports[0]["finetune"]["epochs"], "epochs_run": len(reports[0]["history"]["float"]),
            "best_epoch": reports[0]["finetune"]["best_epoch"] + 1, "learning_rate": reports[0]["finetune"]["learning_rate"],
            "int8": reports[0]["quantize"]["shipped"],
            "recipe": reports[0].get("recipe", {}).get("name"),
            "pipeline_seconds": statistics.median(sum(r["timings"].values()) for r in reports),
            # Where the best epoch was picked: a held-out part of train, or (runs before that rule) the
            # reported split itself, which flatters the row.
            "selected_on_reported_split": reports[0]["data"]["validation"]["source"] == ev[0]["source"],
            "teacher": distillation(reports, runs),
        }
    teachers = pending_teachers(label, [t for t in tasks if t not in rows], previous)
    tiny = [t for t in TINYNLP if t in rows]
    summary = {}
    if len(tiny) == len(TINYNLP):
        summary["tinynlp_avg"] = {k: statistics.mean(rows[t][k] for t in tiny) for k in ("float", "tflm", "paper_fp32", "paper_q")}
    return {"label": label, "rows": rows, "summary": summary, **({"teachers_pending": teachers} if teachers else {})}


def pending_teachers(label, tasks, previous=None):
    """Distillation teachers already fine-tuned (and their transfer sets labelled) for tasks whose student
    has no finished run yet: what the student has to learn from, beside the bag of words."""
    out = {}
    for task in tasks:
        path = os.path.join("runs", "tasks", label, f"{task}_s0", "teacher", "result.json")
        if not os.path.exists(path):
            if previous and task in previous.get("teachers_pending", {}):
                out[task] = previous["teachers_pending"][task]
            continue
        with open(path) as f:
            t = json.load(f)
        metric = PAPER[task][0]
        out[task] = {"metric": metric, "split": t["evaluation"]["split"], "n": t["evaluation"]["examples"],
                     "name": t["teacher"], "score": 100 * t["evaluation"][metric],
                     "selection": 100 * t["selection"][metric], "transfer_examples": t["transfer"]["examples"],
                     "teacher_seconds": t["finetune"]["seconds"], "label_seconds": t["label_seconds"],
                     "where": t.get("where")}
    return out


def distillation(reports, runs):
    """The teacher's score (mean over the runs), and the transfer set's size and costs of this machine's
    distilled runs (None where they are not distilled)."""
    teachers = [r["teacher"] for r in reports if r.get("teacher")]
    if not teachers:
        return None
    t = teachers[0]
    return {"name": t["teacher"], "score": statistics.mean(s["teacher"] for s in runs if s["teacher"] is not None),
            "transfer_examples": t["transfer"]["examples"], "by_origin": t["transfer"]["by_origin"],
            "teacher_seconds": t["finetune"]["seconds"], "label_seconds": t["label_seconds"],
            "where": t.get("where"), "student_seconds": statistics.median(r["timings"].get("student", 0) for r in reports)}


def backbone(path):
    """What a pre-trained starting point was: steps, tokens and whether NSP was on (None from scratch)."""
    if not path:
        return None
    with open(os.path.join(path, "config.json")) as f:
        config = json.load(f)
    with open(os.path.join(path, "metrics.json")) as f:
        metrics = json.load(f)
    return {"path": path, "steps": metrics["steps"], "tokens": metrics["tokens"], "nsp": config["nsp"],
            "held_out_mlm_accuracy": metrics["held_out_mlm_accuracy"]}


def describe(row):
    """One line saying how a row's model was made: block, pooling, starting point."""
    m, b, t = row["model"], row["backbone"], row.get("teacher")
    start = (f"pre-trained {b['steps']:,} steps, MLM{' + NSP' if b['nsp'] else ' only'}" if b else "scratch")
    if t:
        start = f"distilled from {t['name']} over {t['transfer_examples']:,} transfer texts"
    return (f"{m['name']}, {'residual' if m['residual'] else 'reference'} block, "
            f"{'position-0' if m['pooling'] == 'cls' else 'mean'} pooling, {start}; {row['epochs']} epochs at lr "
            f"{row['learning_rate']:g}, {row['int8'].upper()}")


def seeds_line(row):
    """Which seeds a row's runs had: distilled runs that share a teacher differ only in the student's seed."""
    runs = row.get("per_run")
    if not runs:
        return f"student seeds {', '.join(str(x) for x in row['seeds'])}, one teacher"
    teachers = sorted({s["seed"] for s in runs})
    if len(teachers) == 1:
        return f"student seeds {', '.join(str(s['student_seed']) for s in runs)}, one teacher (seed {teachers[0]})"
    return "teacher/student seeds " + ", ".join(f"{s['seed']}/{s['student_seed']}" for s in runs)


def selected_on_reported_split(row) -> bool:
    """Rows from before selection moved to held-out training data lack the field: GLUE ones were selected
    on the reported (validation) split."""
    return row.get("selected_on_reported_split", row["split"] == "validation")


def markdown(result):
    lines = [f"# Tasks benchmark ({result['label']})", "",
             "Metric per task as the paper scores it (accuracy; MCC for CoLA; weighted F1 for MRPC; Spearman for "
             "STS-B), in %, on the split the paper reports. int8 = the shipped fully-int8 model on the TFLM "
             "reference interpreter. Paper: the authors' EmbBERT fp32 and EmbBERT-Q (8-bit weights) results.", "",
             "| task | metric | split (n) | runs | epochs (best) | TF-IDF | teacher | float | **int8 TFLM** | drop | "
             "paper fp32 | paper Q | flash+arena |",
             "|---|---|---|---|---|---|---|---|---|---|---|---|---|"]
    for task, r in result["rows"].items():
        std = f" ± {r['tflm_std']:.2f}" if r["tflm_std"] is not None else ""
        flag = " †" if selected_on_reported_split(r) else ""
        teacher = f"{r['teacher']['score']:.2f}" if r.get("teacher") else "–"
        lines.append(f"| {task}{flag} | {r['metric']} | {r['split']} ({r['n']}) | {r['runs']} | "
                     f"{r['epochs_run']}/{r['epochs']} ({r['best_epoch']}) | {r['baseline']:.2f} | {teacher} | "
                     f"{r['float']:.2f} | **{r['tflm']:.2f}**{std} | {r['drop']:.2f} | {r['paper_fp32']:.2f} | "
                     f"{r['paper_q']:.2f} | {r['memory_bytes'] / 1000:.0f} kB |")
    lines += ["", "The best epoch, and PTQ vs QAT, are picked on a selection split, never on the split reported: "
              "the task's own validation split where it is scored on test, else a seeded 10 % of the training "
              "split held out (the reference code's rule; for SST-2, whole sentences with their phrases kept out "
              "of training)."]
    if any(selected_on_reported_split(r) for r in result["rows"].values()):
        lines += ["† An earlier run that picked its best epoch on the reported split itself (GLUE dev), which "
                  "flatters it; not yet re-run under the rule above."]
    rows = result["rows"]
    if rows:
        near = [t for t, r in rows.items() if r["tflm"] >= r["paper_fp32"] - 1.0]
        small_drop = [t for t, r in rows.items() if abs(r["drop"]) <= 0.5]
        beats = [t for t, r in rows.items() if r["tflm"] > r["baseline"]]
        lines += ["", f"The int8 model beats TF-IDF + LR on {len(beats)} of {len(rows)} tasks "
                      f"({', '.join(beats) or 'none'})."]
        distilled = {t: r["teacher"] for t, r in rows.items() if r.get("teacher")}
        for t, d in distilled.items():
            lines += ["", f"{t}: teacher {d['name']} ({d['where'] or 'this machine'}); fine-tuning "
                          f"{d['teacher_seconds']:.0f} s, labelling {d['transfer_examples']:,} transfer texts "
                          f"({', '.join(f'{k} {v:,}' for k, v in d['by_origin'].items())}) {d['label_seconds']:.0f} s; "
                          f"student {d['student_seconds']:.0f} s on this machine's CPU (median a run; "
                          f"{seeds_line(rows[t])})."]
        lines += ["", f"Targets: int8 at most 1 point below the paper's fp32 on {len(near)} of {len(rows)} tasks "
                      f"({', '.join(near) or 'none'}); float → int8 drop at most 0.5 point on {len(small_drop)} of "
                      f"{len(rows)}."]
    pending = result.get("teachers_pending") or {}
    if pending:
        scratch = _read_rows("scratch")
        lines += ["", "## Teachers ready, students still to train", "",
                  "The fine-tuned teacher on the reported split (its best epoch picked on the selection split), "
                  "beside TF-IDF + LR and the int8 model trained on the labels alone (tasks_scratch.md): what "
                  "distillation has to carry over.", "",
                  "| task | metric | split (n) | TF-IDF | scratch int8 | teacher | transfer texts | fine-tuning s | "
                  "labelling s |", "|---|---|---|---|---|---|---|---|---|"]
        for task, t in pending.items():
            base = scratch.get(task)
            tfidf, ours = (f"{base['baseline']:.2f}", f"{base['tflm']:.2f}") if base else ("–", "–")
            lines.append(f"| {task} | {t['metric']} | {t['split']} ({t['n']}) | {tfidf} | {ours} | {t['score']:.2f} | "
                         f"{t['transfer_examples']:,} | {t['teacher_seconds']:.0f} | {t['label_seconds']:.0f} |")
        where = {t["where"] for t in pending.values() if t.get("where")}
        if where:
            lines += ["", f"Teachers: {'; '.join(sorted(where))}; 3 epochs at lr 5e-5, batch 32, length 128, "
                          "transfer set = the training split + 20 augmented draws of each text."]
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
                seeds = ["--seed", seed]
                if FLAGS.program == "distill" or recipes.RECIPES[FLAGS.recipe]["train"] == "distill":
                    # seeds are the student's; all learn from the first seed's teacher
                    seeds = ["--seed", FLAGS.seeds[0], "--student_seed", seed]
                    share_teacher(run_dir(FLAGS.label, task, FLAGS.seeds[0]), out)
                if FLAGS.program == "full":
                    seeds += ["--recipe", FLAGS.recipe]
                cmd = [sys.executable, "-m", f"pipelines.{FLAGS.program}", "--task", task, *seeds, "--output_dir", out,
                       "--measure_l256=false", *resume, *FLAGS.extra]
                print("[tasks]", " ".join(cmd), flush=True)
                subprocess.run(cmd, check=True)
    path = os.path.join(FLAGS.results_dir, f"tasks_{FLAGS.label}.json")
    previous = json.load(open(path)) if os.path.exists(path) else None
    result = collect(FLAGS.label, list(PAPER), previous)  # every task this label has run, not only this call's
    write_results(FLAGS.results_dir, f"tasks_{FLAGS.label}", result, markdown(result))
    overview(FLAGS.results_dir)


def _read_rows(label):
    path = os.path.join(FLAGS.results_dir, f"tasks_{label}.json")
    return json.load(open(path))["rows"] if os.path.exists(path) else {}


def share_teacher(first: str, out: str) -> None:
    """Point a later student seed's run at the first run's teacher and transfer set (read only), so the
    teacher is fine-tuned and the transfer set labelled once per task."""
    from embbert_tf import transfer

    if first == out or not os.path.exists(os.path.join(first, transfer.TEACHER_DIR, "result.json")):
        return
    os.makedirs(out, exist_ok=True)
    for name in (transfer.TEACHER_DIR, transfer.TRANSFER_DIR):
        if not os.path.exists(os.path.join(out, name)):
            os.symlink(os.path.relpath(os.path.join(first, name), out), os.path.join(out, name))


def overview(results_dir):
    """SST-2 across every label (the ablations) and accuracy versus memory: tasks_overview.{json,md,png}."""
    results = []
    for name in sorted(os.listdir(results_dir)):
        if name.startswith("tasks_") and name.endswith(".json") and name != "tasks_overview.json":
            with open(os.path.join(results_dir, name)) as f:
                results.append(json.load(f))
    sst2 = [{"label": r["label"], "setting": describe(r["rows"]["sst2"]), **r["rows"]["sst2"]}
            for r in results if "sst2" in r["rows"]]
    sst2.sort(key=lambda r: -r["tflm"])
    lines = ["# SST-2 across settings (ablations) and accuracy versus memory", "",
             "Every `benchmarks.tasks` label that has an SST-2 run; accuracy on the validation split (872), int8 = "
             "the fully-int8 model on the TFLM reference. Memory = flatbuffer + measured arena at the run's "
             "sequence length.", "",
             "| label | setting | runs | float | **int8 TFLM** | flash+arena |", "|---|---|---|---|---|---|"]
    for r in sst2:
        flag = " †" if selected_on_reported_split(r) else ""
        lines.append(f"| {r['label']}{flag} | {r['setting']} | {r['runs']} | {r['float']:.2f} | **{r['tflm']:.2f}** | "
                     f"{r['memory_bytes'] / 1000:.0f} kB (L={r['sequence_length']}) |")
    if sst2:
        # The baseline is fit on the run's training split, so quote it from a run under the current rule.
        current = [r for r in sst2 if not selected_on_reported_split(r)] or sst2
        lines += ["", f"Beside them: TF-IDF + logistic regression {current[0]['baseline']:.2f}; paper EmbBERT fp32 "
                      f"{PAPER['sst2'][1]:.2f} (1.95 MB), EmbBERT-Q {PAPER['sst2'][2]:.2f} (781 kB). Best epoch "
                      "picked on 10 % of the training sentences held out with their phrases; † marks an earlier "
                      "run that picked it on the validation split reported here.",
                  "", "![accuracy versus memory](tasks_overview.png)"]
    write_results(results_dir, "tasks_overview", {"sst2": sst2}, "\n".join(lines) + "\n")
    if sst2:
        by_label = {r["label"]: r for r in results}
        plot(sst2, by_label.get(recipes.DEFAULT), by_label.get("scratch"), os.path.join(results_dir, "tasks_overview.png"))


def plot(sst2, default, scratch, path):
    """Left: SST-2 int8 against memory, every label, with the configs of one recipe joined. Right: every task,
    int8 with the default recipe (`default`, its label's table) and from scratch, beside TF-IDF + LR."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import matplotlib.ticker

    fig, axes = plt.subplots(1, 2, figsize=(12, 4.5), gridspec_kw={"width_ratios": [1, 1.4]})
    ax = axes[0]
    points = {}  # labels whose points coincide share one annotation
    for r in sst2:
        points.setdefault((round(r["memory_bytes"] / 1000), round(r["tflm"], 2)), []).append(r["label"])
    for (x, y), labels in points.items():
        ax.scatter(x, y, zorder=3)
        below = all(label.startswith("distill") for label in labels)  # apart from the scratch configs beside them
        ax.annotate(", ".join(labels), (x, y), fontsize=8, xytext=(4, -11 if below else 3), textcoords="offset points")
    # The configurations trained with the default recipe (all but config name and PTQ/QAT alike), joined.
    def recipe(r):
        return r["model"]["residual"], r["model"]["pooling"], r["backbone"], r["epochs"], r["learning_rate"]

    scratch_recipe = next((recipe(r) for r in sst2 if r["label"] == "scratch"), None)
    lines = {"configs, scratch": [r for r in sst2 if recipe(r) == scratch_recipe and not r.get("teacher")],
             f"configs, {recipes.DEFAULT} (default)": [r for r in sst2 if r.get("recipe") == recipes.DEFAULT]}
    for (name, configs), color in zip(lines.items(), ("grey", "tab:blue")):
        configs = sorted(configs, key=lambda r: r["memory_bytes"])
        if len(configs) > 1:
            ax.plot([r["memory_bytes"] / 1000 for r in configs], [r["tflm"] for r in configs], color=color, lw=1,
                    zorder=2, label=name)
    if ax.get_legend_handles_labels()[0]:
        ax.legend(fontsize=7, loc="upper left")
    ax.scatter([1950, 781], [PAPER["sst2"][1], PAPER["sst2"][2]], marker="s", color="grey", zorder=3)
    for x, y, t in ((1950, PAPER["sst2"][1], "paper EmbBERT fp32"), (781, PAPER["sst2"][2], "paper EmbBERT-Q")):
        ax.annotate(t, (x, y), fontsize=8, xytext=(4, -10), textcoords="offset points", color="grey")
    ax.set_xscale("log")
    low = min(200, min(r["memory_bytes"] / 1000 for r in sst2) * 0.8)
    ax.set_xticks([t for t in (125, 250, 500, 1000, 2000) if t >= low])
    ax.set_xlim(low, 4000)
    ax.xaxis.set_major_formatter(matplotlib.ticker.ScalarFormatter())
    ax.xaxis.set_minor_formatter(matplotlib.ticker.NullFormatter())
    ax.axhline(sst2[0]["baseline"], ls="--", color="grey", lw=1)
    ax.text(3900, sst2[0]["baseline"], "TF-IDF + LR ", va="bottom", ha="right", fontsize=8, color="grey")
    ax.set_xlabel("memory: flash + arena (kB, log)")
    ax.set_ylabel("SST-2 validation accuracy (%)")
    ax.set_title("SST-2: int8 on TFLM vs memory")
    ax.grid(alpha=0.3)
    ax = axes[1]
    tables = [t for t in (default, scratch) if t]
    if tables:
        tasks = [t for t in PAPER if any(t in table["rows"] for table in tables)]
        ref = {t: next(table["rows"][t] for table in tables if t in table["rows"]) for t in tasks}
        series = [(f"int8 TFLM, {recipes.DEFAULT}", default["rows"] if default else {}, "tflm"),
                  ("int8 TFLM, scratch", scratch["rows"] if scratch else {}, "tflm"),
                  ("TF-IDF + LR", ref, "baseline"), ("paper EmbBERT fp32", ref, "paper_fp32")]
        width = 0.8 / len(series)
        for i, (name, rows, key) in enumerate(series):
            ax.bar([j + (i - 1.5) * width for j in range(len(tasks))],
                   [rows[t][key] if t in rows else float("nan") for t in tasks], width, label=name)
        ax.set_xticks(range(len(tasks)))
        ax.set_xticklabels([f"{t}\n({ref[t]['metric']})" for t in tasks], fontsize=7, rotation=30, ha="right")
        ax.set_ylabel("metric (%)")
        ax.set_title("every task: int8 with the default recipe and from scratch (mean over runs)")
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3, axis="y")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


if __name__ == "__main__":
    app.run(main)
