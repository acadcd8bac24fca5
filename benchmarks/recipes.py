"""Benchmark: `pipelines.full`'s recipes (embbert_tf/recipes.py) on one task, cost against accuracy.

    ./run python -m benchmarks.recipes --recipes distill-fast,scratch --seeds 0,1
    ./run python -m benchmarks.recipes --recipes distill-fast --seeds 0,1 --share_teacher  # seed 1: student only
    ./run python -m benchmarks.recipes --table_only

Each (recipe, seed) runs `pipelines.full --recipe R --seed S` into runs/recipes/<task>_<R>_s<S>/ (kept, so
an interrupted benchmark resumes), and the table is rebuilt from every finished run there and every run
the committed JSON already holds (runs are not committed):
benchmarks/results/<task>_recipes.json, .md and .png (accuracy against minutes). Minutes are the run's stage
times summed (teacher, labelling, training, quantization, evaluation, export). The recipe that should be
the default is the best by the int8 score on the **selection** split among those whose median run takes
at most --budget_minutes; the reported split only reports. Recipes with no run here are listed from the
task tables they were measured in (`tasks_scratch.json`, `tasks_distill.json`), marked as such.
"""
from __future__ import annotations

import glob
import json
import os
import platform
import statistics
import subprocess
import sys

from absl import app, flags

from benchmarks import write_results

FLAGS = flags.FLAGS
flags.DEFINE_string("task", "sst2", "The task.")
flags.DEFINE_list("recipes", [], "Recipes to run (default: none, only rebuild the table).")
flags.DEFINE_list("seeds", ["0"], "Seeds; each is one run.")
flags.DEFINE_multi_string("extra", [], "Extra flags for pipelines.full.")
flags.DEFINE_float("budget_minutes", 60.0, "The default recipe has to finish within this many minutes.")
flags.DEFINE_string("runs_dir", "runs/recipes", "Where the runs go (not committed).")
flags.DEFINE_string("results_dir", "benchmarks/results", "Where the table goes.")
flags.DEFINE_boolean("table_only", False, "Only rebuild the table from finished runs.")
flags.DEFINE_boolean("share_teacher", False, "Distilling recipes: the seeds after the first reuse the first seed's "
                     "teacher and transfer set (--seed FIRST --student_seed SEED), so the seeds measure the student; "
                     "each run is still priced with the teacher's cost.")
flags.DEFINE_multi_string("note", [], "RUN=TEXT: a note on a run for its row (e.g. that it shared the cores); "
                          "kept in the JSON, so later rebuilds keep it.")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# Where recipes not run here were measured: the task tables' rows (their runs are not kept).
TABLES = {"scratch": "tasks_scratch.json", "distill-full": "tasks_distill.json"}


def run_dir(recipe: str, seed) -> str:
    return os.path.join(FLAGS.runs_dir, f"{FLAGS.task}_{recipe}_s{seed}")


def minutes(r: dict) -> tuple[float, bool]:
    """A run's stage times summed, and whether it reused another run's teacher: then what that teacher's
    stage (or its fine-tuning) cost is added, so every run is priced as if it had done it all."""
    seconds, teacher = sum(r["timings"].values()), r.get("teacher")
    if not teacher:
        return round(seconds / 60, 1), False
    spent = r["timings"].get("teacher", 0.0)
    cost = max(spent, teacher["seconds"])  # the whole stage reused: its result (and cost) is the first run's
    if cost < teacher["finetune"]["seconds"] + teacher["label_seconds"]:
        cost += teacher["finetune"]["seconds"]  # only the fine-tuned teacher reused; this run labelled
    return round((seconds - spent + cost) / 60, 1), cost > spent + 60


def run_row(path: str) -> dict:
    """One finished run's numbers, in %."""
    with open(os.path.join(path, "report.json")) as f:
        r = json.load(f)
    metric, q, ft = r["metric"], r["quantize"], r["finetune"]
    teacher = r.get("teacher")
    cost, shared = minutes(r)
    settings = f"batch {ft['batch_size']}, lr {ft['learning_rate']} {ft['lr_schedule']}, best epoch " \
               f"{ft['best_epoch'] + 1} of {ft['epochs']}"
    if teacher:
        t = teacher["transfer"]
        on = teacher["finetune"].get("examples")
        settings = (f"teacher {teacher['finetune']['epochs']} epoch(s) on {on or 'all'} texts, {t['copies']} copies, in-domain "
                    f"{t['in_domain']:,}; student {settings}")
        if ft.get("init_embeddings") == "teacher":
            settings += ", token table from the teacher"
        if ft.get("ema"):
            settings += f", weights averaged (EMA {ft['ema']})"
        if r.get("student_seed", r["seed"]) != r["seed"]:
            settings += f"; the teacher and transfer set of seed {r['seed']}"
    return {
        # The folder names the recipe (<task>_<recipe>_s<seed>): a run of a recipe's earlier values is renamed
        # a trial, so it stays in the runs table without counting as the recipe today.
        "recipe": os.path.basename(path).removeprefix(f"{FLAGS.task}_").rsplit("_s", 1)[0],
        "seed": r.get("student_seed", r["seed"]), "teacher_seed": r["seed"] if teacher else None,
        "run": os.path.basename(path), "metric": metric, "settings": settings,
        "minutes": cost, "teacher_shared": shared, "timings_s": r["timings"],
        "selection_int8": round(100 * q["validation"][q["shipped"]], 2),
        "float": round(100 * r["evaluation"]["metrics"]["float"][metric], 2),
        "int8": round(100 * r["evaluation"]["metrics"]["tflm"][metric], 2),
        "tfidf": round(100 * r["baseline"][metric], 2),
        "teacher": round(100 * teacher["evaluation"][metric], 2) if teacher else None,
        "transfer_texts": teacher["transfer"]["examples"] if teacher else None,
        "split": r["evaluation"]["split"], "n": r["evaluation"]["n"],
        "flash_arena_bytes": r["device"]["total_bytes"],
    }


def summarise(recipe: str, rows: list[dict]) -> dict:
    int8 = [r["int8"] for r in rows]
    return {
        "recipe": recipe, "source": "runs here", "seeds": sorted(r["seed"] for r in rows),
        "minutes": round(statistics.median(r["minutes"] for r in rows), 1),
        "selection_int8": round(statistics.mean(r["selection_int8"] for r in rows), 2),
        "int8": round(statistics.mean(int8), 2), "int8_std": round(statistics.stdev(int8), 2) if len(int8) > 1 else None,
        "float": round(statistics.mean(r["float"] for r in rows), 2),
        "tfidf": rows[0]["tfidf"], "teacher": rows[0]["teacher"], "transfer_texts": rows[0]["transfer_texts"],
        "flash_arena_bytes": rows[0]["flash_arena_bytes"],
    }


def from_table(recipe: str) -> dict | None:
    """A recipe measured in a task table instead of here: its row there, with the cost that table gives."""
    from embbert_tf import recipes

    path = os.path.join(FLAGS.results_dir, TABLES.get(recipe, ""))
    if recipe not in TABLES or not os.path.exists(path):
        return None
    with open(path) as f:
        row = json.load(f)["rows"].get(FLAGS.task)
    if not row:
        return None
    cost = recipes.RECIPES[recipe].get("sst2") or {}
    return {"recipe": recipe, "source": TABLES[recipe], "seeds": row["seeds"],
            "minutes": cost.get("minutes") if FLAGS.task == "sst2" else round(row["pipeline_seconds"] / 60, 1),
            "selection_int8": None, "int8": round(row["tflm"], 2),
            "int8_std": round(row["tflm_std"], 2) if row.get("tflm_std") is not None else None,
            "float": round(row["float"], 2), "tfidf": round(row["baseline"], 2),
            "teacher": round(row["teacher"]["score"], 2) if row.get("teacher") else None,
            "transfer_texts": (row.get("teacher") or {}).get("transfer_examples"),
            "flash_arena_bytes": row["memory_bytes"], "cost_note": cost.get("measured")}


def collect() -> dict:
    from embbert_tf import recipes

    runs = [run_row(os.path.dirname(p)) for p in sorted(glob.glob(os.path.join(FLAGS.runs_dir, f"{FLAGS.task}_*",
                                                                                 "report.json")))]
    path = os.path.join(FLAGS.results_dir, f"{FLAGS.task}_recipes.json")
    previous = json.load(open(path))["runs"] if os.path.exists(path) else []
    here = {r["run"] for r in runs}
    runs += [r for r in previous if r["run"] not in here]  # runs are not committed: keep those measured before
    runs.sort(key=lambda r: r["run"])
    table = []
    for name in recipes.RECIPES:
        mine = [r for r in runs if r["recipe"] == name]
        row = summarise(name, mine) if mine else from_table(name)
        if row:
            table.append({**row, "description": recipes.RECIPES[name]["description"]})
    notes = {r["run"]: r["note"] for r in previous if r.get("note")}
    notes.update(n.split("=", 1) for n in FLAGS.note)
    for r in runs:
        r["note"] = notes.get(r["run"], "")
    within = [r for r in table if r["minutes"] is not None and r["minutes"] <= FLAGS.budget_minutes]
    unscored = [r["recipe"] for r in within if r["selection_int8"] is None]
    # A recipe in the budget without a selection score could be the best: then nothing is picked.
    best = max(within, key=lambda r: r["selection_int8"])["recipe"] if within and not unscored else None
    return {"task": FLAGS.task, "budget_minutes": FLAGS.budget_minutes, "default": recipes.DEFAULT,
            "best_within_budget": best, "recipes": table, "runs": runs,
            "machine": f"{platform.machine()}, {os.cpu_count()} cores"}


def _count(n) -> str:
    return "–" if n is None else f"{n:,}"


def markdown(res: dict) -> str:
    lines = [f"# `pipelines.full` recipes on {res['task']}: cost against accuracy", "",
             f"Int8 on the TFLM reference, in %. Minutes: the run's stages summed, on {res['machine']} "
             "(each run alone on the machine unless its row says otherwise). Selection: the shipped int8 model "
             "on the selection split (held-out training sentences), which picks the default; int8: the "
             "reported split.", "",
             "| recipe | what it does | seeds | minutes | selection int8 | float | **int8 TFLM** | teacher | "
             "TF-IDF + LR | transfer texts | source |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in res["recipes"]:
        std = f" ± {r['int8_std']:.2f}" if r.get("int8_std") is not None else ""
        sel = f"{r['selection_int8']:.2f}" if r["selection_int8"] is not None else "–"
        lines.append(f"| `{r['recipe']}` | {r['description']} | {', '.join(map(str, r['seeds']))} | "
                     f"{r['minutes']} | {sel} | {r['float']:.2f} | **{r['int8']:.2f}**{std} | "
                     f"{r['teacher'] if r['teacher'] is not None else '–'} | {r['tfidf']:.2f} | "
                     f"{_count(r['transfer_texts'])} | {r['source']} |")
    notes = [f"`{r['recipe']}`: minutes {r['cost_note']}" for r in res["recipes"] if r.get("cost_note")]
    lines += [""] + [f"- {n}." for n in notes]
    best = res["best_within_budget"]
    lines += ["", f"Best by the selection split within {res['budget_minutes']:.0f} minutes: "
              f"**{best or 'undetermined (a recipe in the budget has no selection score)'}**"
              f"; `pipelines.full`'s default: **{res['default']}**."
              + ("" if best in (None, res["default"]) else " **They differ: change recipes.DEFAULT.**")]
    unscored = [r["recipe"] for r in res["recipes"] if r["selection_int8"] is None]
    if unscored:
        lines += ["", f"No selection score for {', '.join(f'`{n}`' for n in unscored)}: measured in a task table "
                  "that keeps only the reported split's score, so not in the choice; run it here "
                  f"(`--recipes {','.join(unscored)}`) to put it in."]
    if res["runs"]:
        lines += ["", "## Runs", "", "Every run in the runs folder, recipes and the trials that chose them. A run "
                  "that reused another's teacher (†) is priced with that teacher's cost added.", "",
                  "| run | seed | settings | minutes | stage seconds | selection int8 | float | int8 TFLM | note |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for r in res["runs"]:
            shared = " †" if r["teacher_shared"] else ""
            lines.append(f"| {r['run']} | {r['seed']} | {r['settings']} | {r['minutes']}{shared} | {r['timings_s']} | "
                         f"{r['selection_int8']:.2f} | {r['float']:.2f} | {r['int8']:.2f} | {r['note']} |")
    lines += ["", f"![recipes]({res['task']}_recipes.png)", ""]
    return "\n".join(lines)


def plot(res: dict, path: str) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(6, 4))
    for r in res["recipes"]:
        if r["minutes"] is None:
            continue
        ax.errorbar(r["minutes"], r["int8"], yerr=r.get("int8_std") or 0, fmt="o", capsize=3)
        ax.annotate(r["recipe"], (r["minutes"], r["int8"]), textcoords="offset points", xytext=(6, -10), fontsize=8)
    tfidf = res["recipes"][0]["tfidf"] if res["recipes"] else None
    if tfidf is not None:
        ax.axhline(tfidf, color="grey", linestyle="--", label=f"TF-IDF + LR {tfidf:.1f}")
    ax.axvline(res["budget_minutes"], color="red", linestyle=":", label=f"{res['budget_minutes']:.0f}-minute budget")
    ax.set_xscale("log")
    ax.set_xlabel("minutes on a 2-core CPU (log)")
    ax.set_ylabel(f"int8 on TFLM, {res['task']} (%)")
    ax.set_title("pipelines.full recipes: cost vs accuracy")
    ax.legend(fontsize=8, loc="lower right")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def share_teacher(source: str, out: str) -> None:
    """Copy a finished run's teacher and labelled transfer set into `out`, whose --resume then reuses them."""
    import shutil

    from embbert_tf import transfer

    if not os.path.exists(os.path.join(source, "report.json")):
        raise SystemExit(f"--share_teacher: {source} has not finished; run its seed first")
    for name in (transfer.TEACHER_DIR, transfer.TRANSFER_DIR):
        if not os.path.exists(os.path.join(out, name)):
            shutil.copytree(os.path.join(source, name), os.path.join(out, name),
                            ignore=shutil.ignore_patterns("*.h5", "*.keras"))  # weights: not needed to resume


def main(argv):
    from embbert_tf import recipes

    os.chdir(ROOT)
    if not FLAGS.table_only:
        for recipe in FLAGS.recipes:
            for seed in FLAGS.seeds:
                out = run_dir(recipe, seed)
                if os.path.exists(os.path.join(out, "report.json")):
                    continue
                seeds = ["--seed", str(seed)]
                first = FLAGS.seeds[0]
                if FLAGS.share_teacher and seed != first and recipes.RECIPES[recipe]["train"] == "distill":
                    share_teacher(run_dir(recipe, first), out)
                    seeds = ["--seed", str(first), "--student_seed", str(seed)]
                resume = ["--resume"] if os.path.exists(out) else []
                cmd = [sys.executable, "-m", "pipelines.full", "--task", FLAGS.task, "--recipe", recipe, *seeds,
                       "--output_dir", out, *resume, *FLAGS.extra]
                print("[recipes]", " ".join(cmd), flush=True)
                subprocess.run(cmd, check=True)
    res = collect()
    write_results(FLAGS.results_dir, f"{FLAGS.task}_recipes", res, markdown(res))
    plot(res, os.path.join(FLAGS.results_dir, f"{FLAGS.task}_recipes.png"))


if __name__ == "__main__":
    app.run(main)
