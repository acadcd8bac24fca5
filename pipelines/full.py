"""Text to a trained, quantized, evaluated EmbBERT in one command.

    python -m pipelines.full --task sst2

Stages: fine-tune (float) -> quantize (PTQ and QAT, fully int8) -> evaluate on the TFLM reference, LiteRT
and Keras -> memory accounting -> export (the TFLM C++ application in tflm_app/ and the Arduino library in
arduino/) -> report.json / report.md / plots in --output_dir. With --resume, stages that finished are kept
and an interrupted training continues from its last epoch.
"""
from __future__ import annotations

import os
import platform
import time

import numpy as np
from absl import flags

from pipelines import common, export, finetune, quantize
from embbert_tf import artifacts, data as D

FLAGS = flags.FLAGS
flags.DEFINE_boolean("measure_l256", True, "Also convert and measure the run's model at L=256 "
                     "(the paper's memory setting).")


def _versions() -> dict:
    import importlib.metadata as md

    out = {"python": platform.python_version()}
    for pkg in ("tensorflow", "tf-keras", "tensorflow-model-optimization", "tensorflow-text", "tflite-micro",
                "ai-edge-litert", "numpy"):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            out[pkg] = None
    return out


def measure(tflite: bytes, ids: np.ndarray, config, num_classes: int, length: int, note: str | None = None) -> dict:
    """Measured flash + arena of one int8 flatbuffer beside the paper-style estimate."""
    from embbert_tf import memory, micro

    arena = micro.minimal_arena(tflite, ids)
    interpreter = micro.TFLM(tflite, arena)
    interpreter.invoke_raw(ids)
    out = {**memory.estimate(config, num_classes, length),
           **memory.measured(len(tflite), arena, interpreter.allocations())}
    if note:
        out["note"] = note
    return out


L256_MODEL = "model_int8_L256.tflite"


def memory_at_256(run: artifacts.Run, calibration_texts: D.Split, seed: int) -> dict:
    """The run's own config at L=256 (the paper's memory setting), with its trained weights, quantized as
    the shipped model was (PTQ, or QAT with its trained ranges)."""
    from embbert_tf import inputs
    from embbert_tf.convert import to_int8_tflite
    from embbert_tf.model import build_classifier, copy_weights

    config = run.config
    quant = artifacts.read_json(run.path("quantize.json"))
    ids = inputs.encode(run.tokenizer(), calibration_texts, 256).ids
    if quant["shipped"] == "qat":
        model, how = run.qat_model(256), "the trained QAT model"
    else:
        model = build_classifier(config, run.num_classes, 256)
        copy_weights(run.float_model(), model)
        how = "the trained weights, post-training quantized"
    tflite = to_int8_tflite(model, inputs.sample_ids(ids, 128, seed), per_channel=quant["per_channel"])
    with open(run.path(L256_MODEL), "wb") as f:  # kept for the device benchmark at the paper's length
        f.write(tflite)
    note = f"{config.name} L=256: {how}, {'per-channel' if quant['per_channel'] else 'per-tensor'} weights"
    return measure(tflite, ids[0], config, run.num_classes, 256, note)


def evaluate_run(output_dir: str, data_dir: str | None, eval_limit: int | None, measure_l256: bool,
                 train_limit: int | None) -> dict:
    run = artifacts.Run(output_dir)
    task = run.task_spec
    seed = int(run.info["seed"])
    data = D.load_task(task, data_dir, seed, train_limit=train_limit)
    # TensorFlow: imported once the flags and the task are checked
    from embbert_tf import baseline, flatbuffer, inputs, metrics as M, micro
    evaluation = data.evaluation.head(eval_limit) if eval_limit else data.evaluation
    enc = inputs.encode(run.tokenizer(), evaluation, run.sequence_length)
    tflite = run.tflite()
    float_model = run.float_model()

    timings = {}
    started = time.time()
    float_logits = float_model.predict(enc.ids, batch_size=256, verbose=0)
    timings["float"] = time.time() - started
    started = time.time()
    workers = common.eval_workers()
    tflm_raw, tflm_logits = micro.TFLM(tflite).run(enc.ids, progress="int8 on TFLM", workers=workers)
    timings["tflm"] = time.time() - started
    started = time.time()
    _, litert_logits = micro.LiteRT(tflite).run(enc.ids, progress="int8 on LiteRT")
    timings["litert"] = time.time() - started

    reg = task.is_regression
    metrics = {"float": M.compute(enc.labels, float_logits, reg), "tflm": M.compute(enc.labels, tflm_logits, reg),
               "litert": M.compute(enc.labels, litert_logits, reg)}
    order = list(metrics["float"])
    measured = [measure(tflite, enc.ids[0], run.config, run.num_classes, run.sequence_length,
                        f"{run.config.name} L={run.sequence_length}: the shipped model")]
    if measure_l256 and run.config.max_len < 256:
        print(f"[full] no L=256 measurement: config {run.config.name} holds {run.config.max_len} positions")
    elif measure_l256:
        print(f"[full] converting and measuring {run.config.name} at L=256 (the paper's memory setting)", flush=True)
        measured.append(memory_at_256(run, data.train, seed))
    audit = flatbuffer.audit(tflite)
    print(f"[full] fitting the TF-IDF + linear baseline on {len(data.train)} training texts", flush=True)
    return {
        "split": evaluation.name if task.eval_split == "validation" else task.eval_split,
        "source": evaluation.source,
        "n": len(enc.ids),
        "truncated": enc.truncated,
        # Chance level for the plots: the share of the most frequent class (None for regression).
        "majority_share": None if reg else float(np.bincount(enc.labels).max() / len(enc.labels)),
        "float_predicted_classes": None if reg else sorted(set(np.asarray(float_logits).argmax(-1).tolist())),
        "metrics": metrics,
        "metrics_order": order,
        "agreement": {"TFLM vs LiteRT": M.agreement(tflm_logits, litert_logits, reg),
                      "TFLM vs float Keras": M.agreement(tflm_logits, float_logits, reg)},
        "ms_per_example": {k: 1000 * v / len(enc.ids) for k, v in timings.items()},  # wall time over the set
        "tflm_processes": micro.processes(len(enc.ids), workers),
        "memory": measured,
        "audit": audit,
        "baseline": baseline.tfidf_linear(data.train, evaluation, seed),
    }


def export_stage(out: str) -> dict:
    """The shipped int8 model as a ready TFLM C++ application and an Arduino library inside the run."""
    app_dir = os.path.join(out, "tflm_app")
    library = None if (FLAGS.arduino or "").lower() == "none" else (FLAGS.arduino or os.path.join(out, "arduino"))
    summary = export.export_app(out, app_dir, FLAGS.arena_margin, library)
    return {"app": os.path.relpath(app_dir, out), "arduino": summary["arduino"] and os.path.relpath(summary["arduino"], out),
            **{k: summary[k] for k in ("model_bytes", "measured_arena_bytes", "arena_margin_bytes", "arena_bytes",
                                       "total_bytes", "ops")}}


def main(argv):
    F = FLAGS
    out = common.output_dir()
    timings = {}
    started = time.time()
    if not (F.resume and os.path.exists(os.path.join(out, artifacts.FLOAT_DIR, "result.json"))):
        pretrained = finetune.pretrained_dir()
        epochs, lr = finetune.training_defaults(pretrained)
        finetune.run(out, common.task(), F.config, F.data_dir, F.seed, F.max_seq_len, epochs, F.batch_size, lr,
                     F.weight_decay, F.resume, F.vocab, F.train_limit, finetune.model_overrides(pretrained),
                     F.lr_schedule, pretrained, patience=F.patience)
    timings["finetune"] = round(time.time() - started, 1)
    finish(out, timings)


def finish(out: str, timings: dict, extra: dict | None = None) -> dict:
    """Quantize, evaluate, measure, export and report a run whose float model is trained."""
    from embbert_tf import report
    from embbert_tf.train import read_history

    F = FLAGS
    started = time.time()
    if not (F.resume and os.path.exists(os.path.join(out, "quantize.json"))):
        quantize.run(out, F.data_dir, F.qat_epochs, F.qat_learning_rate, F.per_channel, F.calibration_samples,
                     F.batch_size, F.weight_decay, F.resume, F.train_limit)
    timings["quantize"] = round(time.time() - started, 1)
    started = time.time()
    ev = evaluate_run(out, F.data_dir, F.eval_limit, F.measure_l256, F.train_limit)
    timings["evaluate"] = round(time.time() - started, 1)
    started = time.time()
    device = export_stage(out)
    timings["export"] = round(time.time() - started, 1)

    run = artifacts.Run(out)
    audit = ev.pop("audit")
    rep = {
        "task": run.task,
        "classes": run.info.get("classes"),
        "metric": run.info["metric"],
        "seed": run.info["seed"],
        **({"student_seed": run.info["student_seed"]} if "student_seed" in run.info else {}),
        "model": run.info["model"],
        "pretrained": run.info.get("pretrained"),
        "sequence_length": run.sequence_length,
        "vocab_size": run.info["vocab_size"],
        "data": run.info["data"],
        "finetune": {**run.info["finetune"],
                     **artifacts.read_json(run.path(artifacts.FLOAT_DIR, "result.json"))},
        "quantize": artifacts.read_json(run.path("quantize.json")),
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
        "versions": _versions(),
        "notes": run.info["notes"],
        **(extra or {}),
    }
    rep["warning"] = report.learned_nothing(rep)
    report.write(rep, out)
    m, e = rep["metric"], rep["evaluation"]
    print(f"[full] {run.task} {e['split']} {m}: float {e['metrics']['float'][m]:.4f}, int8 on TFLM "
          f"{e['metrics']['tflm'][m]:.4f} (baseline {rep['baseline'][m]:.4f}); report in {out}/report.md")
    print(f"[full] C++ application in {os.path.join(out, device['app'])} (build: see its README.md)"
          + (f", Arduino library in {os.path.join(out, device['arduino'])}" if device["arduino"] else ""))
    if rep.get("warning"):
        print(f"[full] warning: {rep['warning']}")
    return rep


if __name__ == "__main__":
    common.run_main(main)
