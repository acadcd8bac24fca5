"""Scoring a run's int8 model: on the TFLM reference interpreter (what the device computes), beside the
float Keras model, LiteRT and the TF-IDF baseline, with the memory it needs measured.

    evaluate(run_dir, split="validation")      one split on TFLM: the metrics as a dict
    evaluate_run(run_dir)                      everything pipelines.full reports
"""
from __future__ import annotations

import time

import numpy as np

from embbert_tf import artifacts, data
from embbert_tf.errors import UserError

L256_MODEL = "model_int8_L256.tflite"


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


def memory_at_256(run: artifacts.Run, calibration_texts: data.Split, seed: int) -> dict:
    """The run's own config at L=256 (the paper's memory setting), with its trained weights, quantized as
    the shipped model was (PTQ, or QAT with its trained ranges)."""
    from embbert_tf.convert import sample_ids, to_int8_tflite
    from embbert_tf.model import build_classifier, copy_weights

    config = run.config
    quant = artifacts.read_json(run.path(artifacts.QUANTIZE_RESULT))
    ids = run.tokenizer().encode_split(calibration_texts, 256).ids
    if quant["shipped"] == "qat":
        model, how = run.qat_model(256), "the trained QAT model"
    else:
        model = build_classifier(config, run.num_classes, 256)
        copy_weights(run.float_model(), model)
        how = "the trained weights, post-training quantized"
    tflite = to_int8_tflite(model, sample_ids(ids, 128, seed), per_channel=quant["per_channel"])
    with open(run.path(L256_MODEL), "wb") as f:  # kept for the device benchmark at the paper's length
        f.write(tflite)
    note = f"{config.name} L=256: {how}, {'per-channel' if quant['per_channel'] else 'per-tensor'} weights"
    return measure(tflite, ids[0], config, run.num_classes, 256, note)


def load_eval_split(task: data.Task, split: str, data_dir: str | None, seed: int) -> data.Split:
    """A split by name; "holdout" (and "validation" where the task has none) are the seeded hold-outs made
    in training."""
    if split == "holdout" or (split == "validation" and "validation" not in task.splits):
        task_data = data.load_task(task, data_dir, seed)
        return task_data.evaluation if split == "holdout" else task_data.validation
    if split not in task.splits:
        raise UserError(f"task {task.name} has no labelled {split!r} split; choose one of {', '.join(task.splits)}")
    return data.load_split(task, split, data_dir)


def evaluate(run_dir: str, task: data.Task | None = None, data_dir: str | None = None, split: str | None = None,
             limit: int | None = None, progress: bool = True, workers: int | None = None) -> dict:
    """A run's int8 model on one split on the TFLM reference: {"task", "split", "n", metrics...}.

    Args:
        run_dir: a run directory (config.json, vocab.txt, model_int8.tflite).
        task: the task to score on (default: the run's own); a folder task must have the run's classes.
        split: default the task's reported split.
        limit: only the first `limit` examples.
        workers: interpreter processes (None: every CPU).
    """
    run = artifacts.Run(run_dir)
    task = task or run.task_spec
    if task.folder and run.info.classes and list(task.classes or []) != run.info.classes:
        raise UserError(f"{task.folder}'s training split has the classes {list(task.classes or [])}, the model in "
                        f"{run_dir} was trained on {run.info.classes}; evaluate it on data with its classes")
    if task.num_classes != run.num_classes:
        raise UserError(f"the model in {run_dir} has {run.num_classes} outputs, task {task.name} needs "
                        f"{task.num_classes}; evaluate it on the task it was trained for ({run.task})")
    split = split or task.eval_split
    examples = load_eval_split(task, split, data_dir, run.info.seed)
    if limit:
        examples = examples.head(limit)
    from embbert_tf import metrics, micro  # TensorFlow: once the arguments and task are checked
    encoded = run.tokenizer().encode_split(examples, run.sequence_length)
    interpreter = micro.TFLM(run.tflite())
    started = time.time()
    _, logits = interpreter.run(encoded.ids, progress="TFLM" if progress else None,
                                workers=workers or micro.default_workers())
    seconds = time.time() - started
    return {"task": task.name, "split": split, "n": len(encoded.ids),
            **metrics.compute(encoded.labels, logits, task.is_regression),
            "truncated": encoded.truncated, "runtime": "tflm", "ms_per_example": 1000 * seconds / len(encoded.ids)}


def evaluate_run(run_dir: str, *, data_dir: str | None = None, limit: int | None = None, measure_l256: bool = True,
                 train_limit: int | None = None, workers: int | None = None) -> dict:
    """Everything a report holds about a quantized run: float, TFLM and LiteRT scores on the reported split,
    their agreement, the measured memory (also at L=256 with `measure_l256`), the int8 audit and the
    TF-IDF baseline fit on the same training split."""
    run = artifacts.Run(run_dir)
    task = run.task_spec
    seed = run.info.seed
    task_data = data.load_task(task, data_dir, seed, train_limit=train_limit)
    from embbert_tf import baseline, litert, metrics, micro, tflm_kernels  # TensorFlow: once the task is checked

    workers = workers or micro.default_workers()
    evaluation = task_data.evaluation.head(limit) if limit else task_data.evaluation
    enc = run.tokenizer().encode_split(evaluation, run.sequence_length)
    tflite = run.tflite()
    float_model = run.float_model()

    timings = {}
    started = time.time()
    float_logits = float_model.predict(enc.ids, batch_size=256, verbose=0)
    timings["float"] = time.time() - started
    started = time.time()
    _, tflm_logits = micro.TFLM(tflite).run(enc.ids, progress="int8 on TFLM", workers=workers)
    timings["tflm"] = time.time() - started
    started = time.time()
    _, litert_logits = litert.LiteRT(tflite).run(enc.ids, progress="int8 on LiteRT")
    timings["litert"] = time.time() - started

    reg = task.is_regression
    scores = {"float": metrics.compute(enc.labels, float_logits, reg),
              "tflm": metrics.compute(enc.labels, tflm_logits, reg),
              "litert": metrics.compute(enc.labels, litert_logits, reg)}
    measured = [measure(tflite, enc.ids[0], run.config, run.num_classes, run.sequence_length,
                        f"{run.config.name} L={run.sequence_length}: the shipped model")]
    if measure_l256 and run.config.max_sequence_length < 256:
        print(f"[evaluate] no L=256 measurement: config {run.config.name} holds "
              f"{run.config.max_sequence_length} positions")
    elif measure_l256:
        print(f"[evaluate] converting and measuring {run.config.name} at L=256 (the paper's memory setting)",
              flush=True)
        measured.append(memory_at_256(run, task_data.train, seed))
    print(f"[evaluate] fitting the TF-IDF + linear baseline on {len(task_data.train)} training texts", flush=True)
    return {
        "split": evaluation.name if task.eval_split == "validation" else task.eval_split,
        "source": evaluation.source,
        "n": len(enc.ids),
        "truncated": enc.truncated,
        # Chance level for the plots: the share of the most frequent class (None for regression).
        "majority_share": None if reg else float(np.bincount(enc.labels).max() / len(enc.labels)),
        "float_predicted_classes": None if reg else sorted(set(np.asarray(float_logits).argmax(-1).tolist())),
        "metrics": scores,
        "metrics_order": list(scores["float"]),
        "agreement": {"TFLM vs LiteRT": metrics.agreement(tflm_logits, litert_logits, reg),
                      "TFLM vs float Keras": metrics.agreement(tflm_logits, float_logits, reg)},
        "ms_per_example": {k: 1000 * v / len(enc.ids) for k, v in timings.items()},  # wall time over the set
        "tflm_processes": micro.processes(len(enc.ids), workers),
        "memory": measured,
        "audit": tflm_kernels.audit(tflite),
        "baseline": baseline.tfidf_linear(task_data.train, evaluation, seed),
    }
