"""Stage 2: float model -> int8. Post-training quantization and quantization-aware training (tfmot),
both converted to fully-int8 TFLite and measured on the TFLM reference; the better one on the validation
split is shipped as model_int8.tflite.

    python -m pipelines.quantize --output_dir runs/sst2
"""
from __future__ import annotations

import shutil
import time

from absl import flags

from pipelines import common
from embbert_tf import artifacts, data as D
from embbert_tf.errors import UserError

FLAGS = flags.FLAGS
flags.DEFINE_integer("qat_epochs", 2, "Quantization-aware training epochs (0: post-training quantization only).")
flags.DEFINE_float("qat_learning_rate", 2e-6, "AdamW learning rate for quantization-aware training (small: "
                   "the float model is already at its best epoch; 1e-5 moved SST-2 off it).")
flags.DEFINE_boolean("per_channel", False, "Per-channel int8 weights. Default per-tensor: ~50 kB less flash and "
                     "~13 kB less arena for the embbert config, and exactly the grid QAT trains on.")
flags.DEFINE_integer("calibration_samples", 256, "Training examples used to calibrate int8 ranges.")


def _score_tflite(model: bytes, ids, labels, regression, metric, label):
    from embbert_tf import metrics as M, micro

    _, logits = micro.TFLM(model).run(ids, progress=label, workers=common.eval_workers())
    return M.compute(labels, logits, regression)[metric]


def run(
    output_dir: str,
    data_dir: str | None = None,
    qat_epochs: int = 2,
    qat_learning_rate: float = 2e-6,
    per_channel: bool = False,
    calibration_samples: int = 256,
    batch_size: int = 32,
    weight_decay: float = 0.05,
    resume: bool = False,
    train_limit: int | None = None,
    verbose: int = 1,
) -> dict:
    run_ = artifacts.Run(output_dir)
    task = run_.task_spec
    seed = int(run_.info["seed"])
    data = D.load_task(task, data_dir, seed, train_limit=train_limit)
    from embbert_tf import flatbuffer, inputs, metrics as M, quantize as Q, train as T  # TensorFlow: imported once the flags and the task are checked
    from embbert_tf.convert import to_int8_tflite

    T.set_seed(seed)
    tokenizer = run_.tokenizer()
    length = run_.sequence_length
    train = inputs.encode(tokenizer, data.train, length)
    val = inputs.encode(tokenizer, data.validation, length)
    calibration = inputs.sample_ids(train.ids, calibration_samples, seed)
    float_model = run_.float_model()
    result = {"per_channel": per_channel, "calibration_samples": len(calibration), "qat_epochs": qat_epochs,
              "qat_learning_rate": qat_learning_rate}

    started = time.time()
    ptq = to_int8_tflite(float_model, calibration, per_channel=per_channel)
    result["ptq_convert_seconds"] = round(time.time() - started, 1)
    with open(run_.path(artifacts.PTQ_MODEL), "wb") as f:
        f.write(ptq)
    result["validation"] = {
        "float": M.compute(val.labels, float_model.predict(val.ids, batch_size=256, verbose=0),
                           task.is_regression)[task.metric],
        "ptq": _score_tflite(ptq, val.ids, val.labels, task.is_regression, task.metric, "PTQ on TFLM"),
    }
    candidates = {"ptq": artifacts.PTQ_MODEL}

    if qat_epochs > 0:
        qat_model = Q.quantize_model(float_model)
        result["calibrated_ranges"] = Q.calibrate_ranges(float_model, qat_model, calibration)
        T.compile_for_task(qat_model, task.is_regression, qat_learning_rate, weight_decay)
        started = time.time()
        fit = T.fit(qat_model, train.ids, train.labels, val.ids, val.labels,
                    directory=run_.path(artifacts.QAT_DIR), metric=task.metric, regression=task.is_regression,
                    epochs=qat_epochs, batch_size=batch_size, seed=seed, resume=resume, verbose=verbose,
                    score_start=True)
        result["qat_seconds"] = round(time.time() - started, 1)
        # 1-based; 0 is the calibrated start, kept when no QAT epoch beat it on the selection split.
        result["qat_best_epoch"] = fit["best_epoch"] + 1
        result["qat_kept"] = (f"epoch {fit['best_epoch'] + 1} of {qat_epochs}" if fit["best_epoch"] >= 0
                              else "the calibrated start (no QAT epoch beat it)")
        result["qat_start_fake_quant"] = fit["start_score"]
        qat = to_int8_tflite(qat_model, calibration, per_channel=per_channel)
        with open(run_.path(artifacts.QAT_MODEL), "wb") as f:
            f.write(qat)
        result["validation"]["qat"] = _score_tflite(qat, val.ids, val.labels, task.is_regression, task.metric,
                                                    "QAT on TFLM")
        candidates["qat"] = artifacts.QAT_MODEL

    # Ship QAT unless it measured worse than PTQ on the validation split.
    chosen = max(candidates, key=lambda k: (result["validation"][k], k == "qat"))
    shutil.copyfile(run_.path(candidates[chosen]), run_.path(artifacts.INT8_MODEL))
    result["shipped"] = chosen
    v = result["validation"]
    if "qat" not in v:
        result["shipped_because"] = "post-training quantization only (--qat_epochs 0)"
    elif v["qat"] == v["ptq"]:
        result["shipped_because"] = (f"QAT and PTQ tie on the selection split ({100 * v['qat']:.2f}); QAT is "
                                     "preferred on a tie")
    else:
        other = "ptq" if chosen == "qat" else "qat"
        result["shipped_because"] = (f"{chosen.upper()} scores {100 * v[chosen]:.2f} on the selection split, "
                                     f"{other.upper()} {100 * v[other]:.2f}")
    shipped = run_.tflite()
    check = flatbuffer.audit(shipped)
    if not check.fully_int8:
        raise UserError(f"the int8 model is not runnable as fully-int8 on TFLM: "
                        f"{'; '.join(check.problems) or 'float tensors ' + ', '.join(check.float_tensors[:3])}")
    artifacts.write_json(run_.path("quantize.json"), result)
    v = result["validation"]
    print(f"[quantize] validation {task.metric}: float {v['float']:.4f}, PTQ (TFLM) {v['ptq']:.4f}"
          + (f", QAT (TFLM) {v['qat']:.4f}" if "qat" in v else "") + f"; shipping {chosen}")
    return result


def main(argv):
    F = FLAGS
    run(common.output_dir(), F.data_dir, F.qat_epochs, F.qat_learning_rate, F.per_channel,
        F.calibration_samples, F.batch_size, F.weight_decay, F.resume, F.train_limit)


if __name__ == "__main__":
    common.run_main(main)
