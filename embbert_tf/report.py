"""report.json, report.md and the plots next to them."""
from __future__ import annotations

import os
import platform

import matplotlib

matplotlib.use("Agg")  # no screen on CI machines
import matplotlib.pyplot as plt  # noqa: E402
from matplotlib.ticker import MaxNLocator  # noqa: E402

from embbert_tf import artifacts  # noqa: E402

PAPER_INT8_BYTES = 781_000  # EmbBERT-Q's reported total (spec §3)


def _pct(x):
    return "–" if x is None else f"{100 * x:.2f}"


def _kb(x):
    return "–" if x is None else f"{x / 1000:.1f} kB"


def _chance(report: dict, metric: str):
    """What a model that ignores its input scores: the majority class's share for accuracy, 0 for MCC and
    Spearman; None where it depends on the class balance in a way the report does not hold (weighted F1)."""
    if metric in ("mcc", "spearman"):
        return 0.0
    if metric == "accuracy":
        return (report.get("evaluation") or {}).get("majority_share")
    return None


def plot_training(report: dict, path: str) -> None:
    metric = report["metric"]
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.8))
    for stage, style in (("float", "-o"), ("qat", "-s")):
        hist = report.get("history", {}).get(stage) or []
        if not hist:
            continue
        offset = 0 if stage == "float" else len(report["history"].get("float") or [])
        epochs = [offset + i + 1 for i in range(len(hist))]
        axes[0].plot(epochs, [h.get("loss") for h in hist], style, label=f"{stage} train loss")
        axes[1].plot(epochs, [h.get(f"val_{metric}") for h in hist], style, label=f"{stage}, selection split")
    baseline = (report.get("baseline") or {}).get(metric)
    if baseline is not None:
        axes[1].axhline(baseline, ls="--", color="grey", lw=1, label="TF-IDF + linear (reported split)")
    chance = _chance(report, metric)
    if chance is not None:
        axes[1].axhline(chance, ls=":", color="black", lw=1, label=f"chance ({chance:.2f})")
    for ax in axes:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_xlabel("epoch")
    axes[0].set_ylabel("loss"), axes[0].legend()
    axes[1].set_ylabel(metric), axes[1].legend(fontsize=8)
    fig.suptitle(f"EmbBERT-{report['model']['name']} on {report['task']}: float fine-tuning, then QAT")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_memory(report: dict, path: str) -> None:
    rows = [(f"{r['config']} L={r['sequence_length']}", r) for r in report["memory"]["measured"]]
    fig, ax = plt.subplots(figsize=(8, 1.2 + 0.8 * len(rows)))
    for y, (label, r) in enumerate(rows):
        parts = [("weights (int8)", r["weights_int8_bytes"], "#4c72b0"),
                 ("flatbuffer overhead", r["tflite_bytes"] - r["weights_int8_bytes"], "#8da0cb"),
                 ("arena: activations", r.get("arena_head_bytes", r["arena_bytes"]), "#dd8452"),
                 ("arena: persistent", r.get("arena_tail_bytes", 0), "#f3b68a")]
        left = 0
        for name, value, color in parts:
            ax.barh(y, value / 1000, left=left / 1000, color=color, label=name if y == 0 else None)
            left += value
        ax.text(left / 1000 + 5, y, f"{left / 1000:.0f} kB", va="center")
    ax.axvline(PAPER_INT8_BYTES / 1000, color="gray", ls="--", label="paper's EmbBERT-Q (781 kB)")
    ax.set_yticks(range(len(rows)), [r[0] for r in rows])
    ax.set_xlabel("kB (flash: flatbuffer, RAM: arena)")
    ax.legend(loc="lower right", fontsize=8)
    ax.set_title("Memory on TFLM: weights vs arena")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def learned_nothing(r: dict) -> str | None:
    """A plain sentence when the float model learned nothing useful (one class for every text, or more than
    10 points below the TF-IDF baseline on the reported split), with the likely cause and the fix; else None."""
    metric, ev = r["metric"], r["evaluation"]
    fix = ("likely too few epochs or training examples; train longer (--epochs, --patience 0), on more "
           "data, or distil a pre-trained teacher into it (pipelines.full --recipe distill-fast)")
    classes = ev.get("float_predicted_classes")
    if classes is not None and len(classes) == 1:
        names = r.get("classes") or []
        name = names[classes[0]] if classes[0] < len(names) else classes[0]
        return f"the float model predicts one class ({name!r}) for every text, so it learned nothing: {fix}"
    score, base = ev["metrics"]["float"][metric], r["baseline"][metric]
    if score < base - 0.10:
        return (f"the float model scores {100 * score:.1f} ({metric}), more than 10 points below the TF-IDF + "
                f"linear baseline's {100 * base:.1f}: {fix}")
    return None


def _plural(n: int, word: str) -> str:
    return f"{n} {word}{'' if n == 1 else 's'}"


def _qat_line(q: dict) -> str:
    n = q.get("qat_epochs", 0)
    line = "No QAT (post-training quantization only)." if not n else (
        f"QAT: {_plural(n, 'epoch')} at lr {q.get('qat_learning_rate')}, {q.get('qat_seconds', 0):.0f} s, kept "
        f"{q.get('qat_kept', 'its best epoch')}.")
    if q.get("shipped"):
        line += f" Shipped: {q['shipped'].upper()}" + (f", since {q['shipped_because']}." if q.get("shipped_because")
                                                       else ".")
    return line


def _recipe_line(recipe: dict | None) -> str:
    if not recipe:
        return ""
    how = "distilled from a teacher" if recipe["train"] == "distill" else "fine-tuned on the labels"
    sized = recipe.get("sized_by")
    return (f" Recipe `{recipe['name']}`: {how}" + "".join(f", --{k}={v}" for k, v in recipe["flags"].items())
            + (f" (sized to texts of {sized['tokens_per_text']} teacher tokens, transfer texts of "
               f"{sized['transfer_tokens_per_text']})" if sized else "") + ".")


def markdown(r: dict) -> str:
    metric, ev = r["metric"], r["evaluation"]
    q = r.get("quantize", {})
    lines = [
        f"# EmbBERT-{r['model']['name']} on {r['task']}",
        "",
        f"Seed {r['seed']}"
        + (f" (student seed {r['student_seed']})" if r.get("student_seed", r["seed"]) != r["seed"] else "")
        + f", sequence length {r['sequence_length']}"
        + (" (a longer text keeps its first quarter and its end)" if r.get("truncation") == "head+tail" else "")
        + f", {r['model']['num_layers']} layers, "
        f"d={r['model']['hidden']}, vocabulary {r['vocab_size']}. Evaluated on the **{ev['split']}** split "
        f"({ev['n']} examples, {ev['source']})."
        + (f" Classes: {', '.join(r['classes'])}." if r.get("classes") else "")
        + _recipe_line(r.get("recipe")),
        "",
        *([f"**Warning: {r['warning']}.**", ""] if r.get("warning") else []),
        "## Accuracy",
        "",
        f"| model | runtime | {' | '.join(ev['metrics_order'])} |",
        "|---|---|" + "---|" * len(ev["metrics_order"]),
    ]
    rows = [("TF-IDF + linear (baseline)", "scikit-learn", "baseline")]
    if r.get("teacher"):
        rows.append((f"teacher {r['teacher']['teacher']} (training only, never on the device)",
                     f"Keras 3 ({r['teacher']['backend']})", "teacher"))
    for label, runtime, key in (*rows,
                                ("EmbBERT float", "Keras", "float"),
                                (f"EmbBERT int8 ({q.get('shipped', '?').upper()})", "TFLM reference", "tflm"),
                                ("EmbBERT int8, same flatbuffer", "LiteRT", "litert")):
        m = {"baseline": r["baseline"], "teacher": (r.get("teacher") or {}).get("evaluation")}.get(key) \
            or ev["metrics"][key]
        lines.append(f"| {label} | {runtime} | " + " | ".join(_pct(m.get(k)) for k in ev["metrics_order"]) + " |")
    lines += ["", f"{metric} on the selection split by quantization method (int8 measured on TFLM; picks what "
              "ships; never the split reported above):", "",
              "| float | post-training quantization | quantization-aware training |", "|---|---|---|",
              f"| {_pct(q['validation'].get('float'))} | {_pct(q['validation'].get('ptq'))} | "
              f"{_pct(q['validation'].get('qat'))} |", ""]
    ag = ev["agreement"]
    lines += ["## Agreement on the evaluation split", "", "| pair | argmax agreement | max abs logit diff | mean |",
              "|---|---|---|---|"]
    for pair, a in ag.items():
        lines.append(f"| {pair} | {_pct(a.get('argmax_agreement'))} | {a['max_abs_diff']:.4f} | "
                     f"{a['mean_abs_diff']:.4f} |")
    lines += ["", "## Memory", "", "| config | L | weights int8 | .tflite | TFLM arena | flash + RAM | "
              "spec §3 estimate (int8) |", "|---|---|---|---|---|---|---|"]
    for m in r["memory"]["measured"]:
        lines.append(f"| {m['config']} | {m['sequence_length']} | {_kb(m['weights_int8_bytes'])} | "
                     f"{_kb(m['tflite_bytes'])} | {_kb(m['arena_bytes'])} | **{_kb(m['total_bytes'])}** | "
                     f"{_kb(m['total_int8_bytes'])} |")
    notes = [m.get("note") for m in r["memory"]["measured"] if m.get("note")]
    lines += [""] + [f"- {n}" for n in notes]
    if r.get("device"):
        d = r["device"]
        lines += ["", "## On the device", "",
                  f"- TFLM C++ application: `{d['app']}/` (model array, a resolver of exactly {len(d['ops'])} ops, "
                  f"arena {d['arena_bytes']:,} B = measured {d['measured_arena_bytes']:,} B + margin "
                  f"{d['arena_margin_bytes']:,} B); build it as `{d['app']}/README.md` says.",
                  f"- Arduino library: `{d['arduino']}/`.",
                  f"- Flash (model) + RAM (arena): {d['model_bytes']:,} + {d['arena_bytes']:,} = "
                  f"**{d['total_bytes']:,} B**."]
    if r.get("teacher"):
        t = r["teacher"]
        tr, ft = t["transfer"], t["finetune"]
        lines += ["", "## Distillation", "",
                  f"- Teacher: {t['teacher']} fine-tuned {ft['epochs']} epochs (lr {ft['learning_rate']}, batch "
                  f"{ft['batch_size']}, best epoch {ft['best_epoch'] + 1} by the selection split: "
                  f"{_pct(t['selection'][metric])}), length {t['length']}, Keras 3 on {t['backend']}, "
                  f"{ft['seconds']:.0f} s." + (f" {t['where']}." if t.get("where") else ""),
                  f"- Transfer set: {tr['examples']:,} texts ({', '.join(f'{k} {v:,}' for k, v in tr['by_origin'].items())}); "
                  f"{tr['augmentation']}; labelled in {t['label_seconds']:.0f} s; fingerprint {tr['fingerprint']}.",
                  f"- Student loss: {r['finetune'].get('loss', 'task loss')}."]
    lines += ["", "![memory](memory.png)", "", "## Training", "", "![training](training.png)", "",
              f"Float: best epoch {r['finetune']['best_epoch'] + 1} of {r['finetune']['epochs']}, "
              f"{r['finetune']['seconds']:.0f} s. " + _qat_line(q), "",
              "## int8 flatbuffer: ops and tensor types (all checked against TFLM's kernels)", "",
              "| op | input types | output types | count |", "|---|---|---|---|"]
    for row in r["int8"]["op_types"]:
        lines.append(f"| {row['op']} | {', '.join(row['inputs'])} | {', '.join(row['outputs'])} | {row['count']} |")
    lines += ["", f"Tensors by type: {r['int8']['tensor_types']}; float tensors: {len(r['int8']['float_tensors'])}.",
              "", "## Speed (x86 host, this machine)", "",
              f"TFLM Python interpreter {ev['ms_per_example']['tflm']:.2f} ms per example (wall time over the set, "
              f"{ev.get('tflm_processes', 1)} process(es)); LiteRT "
              f"{ev['ms_per_example']['litert']:.2f} ms; Keras float (batched) {ev['ms_per_example']['float']:.3f} ms.",
              "", "## Run", "", f"- stage times (s): {r['timings']}", f"- versions: {r['versions']}"]
    lines += [f"- {n}" for n in r.get("notes", [])]
    return "\n".join(lines) + "\n"


def versions() -> dict:
    """The Python and package versions a report was made with."""
    import importlib.metadata as md

    out = {"python": platform.python_version()}
    for pkg in ("tensorflow", "tf-keras", "tensorflow-model-optimization", "tensorflow-text", "tflite-micro",
                "ai-edge-litert", "numpy"):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            out[pkg] = None
    return out


def build(run_dir: str, evaluation: dict, device: dict, timings: dict, extra: dict | None = None) -> dict:
    """report.json's content for a run: its config, training, quantization, `evaluation`
    (`embbert_tf.evaluation.evaluate_run`), `device` (the export summary) and stage `timings`."""
    from embbert_tf.train import read_history

    run = artifacts.Run(run_dir)
    ev = dict(evaluation)
    audit = ev.pop("audit")
    rep = {
        "task": run.task,
        "classes": run.info.classes,
        "metric": run.info.metric,
        "seed": run.info.seed,
        **({"student_seed": run.info.student_seed} if run.info.student_seed is not None else {}),
        "model": run.config.to_dict(),
        "pretrained": run.info.pretrained,
        "sequence_length": run.sequence_length,
        "truncation": run.info.truncation,
        "vocab_size": run.info.vocab_size,
        "data": run.info.data,
        "finetune": {**run.info.finetune,
                     **artifacts.read_json(run.path(artifacts.FLOAT_DIR, artifacts.STAGE_RESULT))},
        "quantize": artifacts.read_json(run.path(artifacts.QUANTIZE_RESULT)),
        "history": {"float": read_history(run.path(artifacts.FLOAT_DIR)),
                    "qat": read_history(run.path(artifacts.QAT_DIR))},
        "evaluation": {k: v for k, v in ev.items() if k not in ("memory", "baseline")},
        "baseline": ev["baseline"],
        "memory": {"measured": ev["memory"]},
        "int8": {"bytes": len(run.tflite()), "fully_int8": audit.fully_int8, "ops": audit.ops,
                 "op_types": audit.op_types, "tensor_types": audit.tensor_types,
                 "float_tensors": audit.float_tensors, "problems": audit.problems},
        "device": device,
        "timings": timings,
        "versions": versions(),
        "notes": run.info.notes,
        **(extra or {}),
    }
    rep["warning"] = learned_nothing(rep)
    return rep


def write(report: dict, directory: str) -> None:
    artifacts.write_json(os.path.join(directory, artifacts.REPORT), report)
    plot_training(report, os.path.join(directory, "training.png"))
    plot_memory(report, os.path.join(directory, "memory.png"))
    with open(os.path.join(directory, "report.md"), "w") as f:
        f.write(markdown(report))
