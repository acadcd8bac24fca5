"""Quantization-aware training with tensorflow-model-optimization (tfmot).

tfmot knows none of EmbBERT's layers, so each gets a QuantizeConfig here: fake-quantize the layer's
output where the int8 graph will hold an int8 tensor, and its kernel where it has one. The fake-quant
ranges start from a calibration pass over training data (tfmot's default ±6 start needs thousands of
steps to settle, which made short QAT worse than post-training quantization in our prototype).

`quantize_run` is the stage on a run directory: post-training quantization and QAT, both converted to
fully-int8 TFLite and scored on the TFLM reference on the selection split; the better one ships as
model_int8.tflite.
"""
from __future__ import annotations

import dataclasses
import shutil
import time

import numpy as np
import tensorflow as tf
import tensorflow_model_optimization as tfmot
import tf_keras as keras

from embbert_tf import artifacts, data, layers
from embbert_tf.errors import UserError

_q = tfmot.quantization.keras
quantizers = _q.quantizers


def _activation_quantizer():
    return quantizers.MovingAverageQuantizer(num_bits=8, per_axis=False, symmetric=False, narrow_range=False)


def _weight_quantizer():
    # Symmetric, narrow range, per tensor: what TFLite int8 weights are (the converter may refine to
    # per-channel; a per-tensor grid re-quantizes exactly either way).
    return quantizers.LastValueQuantizer(num_bits=8, per_axis=False, symmetric=True, narrow_range=True)


@keras.utils.register_keras_serializable("embbert")
class OutputQuantizeConfig(_q.QuantizeConfig):
    """Fake-quantize the output only."""

    def get_weights_and_quantizers(self, layer):
        return []

    def get_activations_and_quantizers(self, layer):
        return []

    def set_quantize_weights(self, layer, quantize_weights):
        pass

    def set_quantize_activations(self, layer, quantize_activations):
        pass

    def get_output_quantizers(self, layer):
        return [_activation_quantizer()]

    def get_config(self):
        return {}


@keras.utils.register_keras_serializable("embbert")
class NoOpQuantizeConfig(OutputQuantizeConfig):
    """Nothing to quantize: the layer moves int8 values without changing their scale (slices, dropout)."""

    def get_output_quantizers(self, layer):
        return []


@keras.utils.register_keras_serializable("embbert")
class KernelQuantizeConfig(OutputQuantizeConfig):
    """Fake-quantize `layer.kernel` and the output (ScaledDense, CausalDepthwiseConv1D, Dense)."""

    def get_weights_and_quantizers(self, layer):
        return [(layer.kernel, _weight_quantizer())]

    def set_quantize_weights(self, layer, quantize_weights):
        (layer.kernel,) = quantize_weights


@keras.utils.register_keras_serializable("embbert")
class SoftmaxQuantizeConfig(NoOpQuantizeConfig):
    """TFLite fixes int8 softmax output to scale 1/256, zero point -128; model that grid exactly."""

    def get_output_quantizers(self, layer):
        return [quantizers.FixedQuantizer(num_bits=8, init_min=0.0, init_max=255.0 / 256.0, narrow_range=False)]


# One place decides how each layer is quantized. TokenIndicators is left float in QAT: its input is the
# int32 ids, which tfmot cannot fake-quantize; the converter calibrates it (its values are exactly 0/1).
_CONFIGS = {
    layers.TokenIndicators: None,
    layers.NanoEmbedder: OutputQuantizeConfig,
    layers.PaddingMaskBias: OutputQuantizeConfig,
    layers.RMSNorm: OutputQuantizeConfig,
    layers.ScaledDense: KernelQuantizeConfig,
    layers.AttentionScores: OutputQuantizeConfig,
    keras.layers.Softmax: SoftmaxQuantizeConfig,
    keras.layers.Dropout: NoOpQuantizeConfig,
    layers.AttentionContext: OutputQuantizeConfig,
    layers.CausalDepthwiseConv1D: KernelQuantizeConfig,
    layers.SiLU: OutputQuantizeConfig,
    keras.layers.Subtract: OutputQuantizeConfig,
    keras.layers.Add: OutputQuantizeConfig,
    layers.FirstToken: NoOpQuantizeConfig,
    layers.MaskedMeanPooling: OutputQuantizeConfig,
    keras.layers.Dense: KernelQuantizeConfig,
}

CUSTOM_OBJECTS = {
    cls.__name__: cls
    for cls in (
        OutputQuantizeConfig,
        NoOpQuantizeConfig,
        KernelQuantizeConfig,
        SoftmaxQuantizeConfig,
        layers.TokenIndicators,
        layers.NanoEmbedder,
        layers.PaddingMaskBias,
        layers.RMSNorm,
        layers.ScaledDense,
        layers.AttentionScores,
        layers.AttentionContext,
        layers.CausalDepthwiseConv1D,
        layers.SiLU,
        layers.FirstToken,
        layers.MaskedMeanPooling,
    )
}


class _NoLayoutTransform(_q.QuantizeLayoutTransform):
    """EmbBERT has none of the patterns tfmot rewrites (Conv+BN, Concat). Its default also inserts a
    QuantizeLayer after every InputLayer, which fails on int32 token ids."""

    def apply(self, model, layer_quantize_map):
        return model, layer_quantize_map


class EmbBERTQuantizeScheme(_q.default_8bit.Default8BitQuantizeScheme):
    def get_layout_transformer(self):
        return _NoLayoutTransform()


def _annotate(layer):
    for cls in type(layer).__mro__:
        if cls in _CONFIGS:
            config = _CONFIGS[cls]
            return layer if config is None else _q.quantize_annotate_layer(layer, config())
    if isinstance(layer, keras.layers.InputLayer):
        return layer
    raise TypeError(f"no QuantizeConfig for layer {layer.name} ({type(layer).__name__})")


def quantize_model(model: keras.Model) -> keras.Model:
    """Annotate every layer of a float EmbBERT model and apply fake quantization (weights are kept)."""
    with _q.quantize_scope(CUSTOM_OBJECTS):
        annotated = keras.models.clone_model(model, clone_function=_annotate)
        annotated.set_weights(model.get_weights())
        return _q.quantize_apply(annotated, scheme=EmbBERTQuantizeScheme())


def calibrate_ranges(float_model: keras.Model, qat_model: keras.Model, ids: np.ndarray, batch_size=64) -> int:
    """Set each fake-quant output range to the min/max the float model reaches on `ids`.

    Returns the number of ranges set. Softmax keeps its fixed [0, 255/256] grid.
    """
    targets = []
    for wrapper in qat_model.layers:
        if not isinstance(wrapper, _q.QuantizeWrapperV2) or not getattr(wrapper, "_output_quantizers", None):
            continue
        if isinstance(wrapper._output_quantizers[0], quantizers.FixedQuantizer):
            continue
        targets.append((wrapper, float_model.get_layer(wrapper.layer.name).output))
    probe = keras.Model(float_model.input, [t for _, t in targets])
    lo = [np.inf] * len(targets)
    hi = [-np.inf] * len(targets)
    for start in range(0, len(ids), batch_size):
        outs = probe(ids[start : start + batch_size], training=False)
        outs = outs if isinstance(outs, (list, tuple)) else [outs]
        for i, out in enumerate(outs):
            lo[i] = min(lo[i], float(tf.reduce_min(out)))
            hi[i] = max(hi[i], float(tf.reduce_max(out)))
    for (wrapper, _), a, b in zip(targets, lo, hi):
        # Ranges must contain 0 so that zero is exactly representable (as TFLite requires).
        wrapper._output_quantizer_vars["min_var"].assign(min(a, 0.0))
        wrapper._output_quantizer_vars["max_var"].assign(max(b, 0.0))
    return len(targets)


@dataclasses.dataclass(kw_only=True)
class QuantizeSettings:
    """How `quantize_run` makes the int8 model.

    Args:
        qat_epochs: quantization-aware training epochs (0: post-training quantization only).
        qat_learning_rate: AdamW learning rate for QAT (small: the float model is already at its best epoch;
            1e-5 moved SST-2 off it).
        per_channel: per-channel int8 weights. Default per-tensor: ~50 kB less flash and ~13 kB less arena
            for the embbert config, and exactly the grid QAT trains on.
        calibration_samples: training examples that calibrate the int8 ranges.
        batch_size, weight_decay, resume, verbose: QAT training.
        train_limit: as the float run was trained (a seeded sample of the training split).
        workers: processes running the TFLM interpreter over the selection split (None: every CPU).
    """

    qat_epochs: int = 2
    qat_learning_rate: float = 2e-6
    per_channel: bool = False
    calibration_samples: int = 256
    batch_size: int = 32
    weight_decay: float = 0.05
    train_limit: int | None = None
    resume: bool = False
    verbose: int = 1
    workers: int | None = None


def _score_tflite(model: bytes, ids, labels, regression, metric, label, workers):
    from embbert_tf import metrics, micro

    _, logits = micro.TFLM(model).run(ids, progress=label, workers=workers or micro.default_workers())
    return metrics.compute(labels, logits, regression)[metric]


def quantize_run(output_dir: str, settings: QuantizeSettings = QuantizeSettings(), *,
                 data_dir: str | None = None) -> dict:
    """PTQ and QAT of a run's float model, scored on TFLM; ships the better as model_int8.tflite and
    returns what quantize.json records."""
    from embbert_tf import metrics, tflm_kernels, train
    from embbert_tf.convert import sample_ids, to_int8_tflite

    s = settings
    run = artifacts.Run(output_dir)
    task = run.task_spec
    seed = run.info.seed
    task_data = data.load_task(task, data_dir, seed, train_limit=s.train_limit)
    train.set_seed(seed)
    tokenizer = run.tokenizer()
    length = run.sequence_length
    train_set = tokenizer.encode_split(task_data.train, length)
    val = tokenizer.encode_split(task_data.validation, length)
    calibration = sample_ids(train_set.ids, s.calibration_samples, seed)
    float_model = run.float_model()
    result = {"per_channel": s.per_channel, "calibration_samples": len(calibration), "qat_epochs": s.qat_epochs,
              "qat_learning_rate": s.qat_learning_rate}

    started = time.time()
    ptq = to_int8_tflite(float_model, calibration, per_channel=s.per_channel)
    result["ptq_convert_seconds"] = round(time.time() - started, 1)
    with open(run.path(artifacts.PTQ_MODEL), "wb") as f:
        f.write(ptq)
    result["validation"] = {
        "float": metrics.compute(val.labels, float_model.predict(val.ids, batch_size=256, verbose=0),
                                 task.is_regression)[task.metric],
        "ptq": _score_tflite(ptq, val.ids, val.labels, task.is_regression, task.metric, "PTQ on TFLM", s.workers),
    }
    candidates = {"ptq": artifacts.PTQ_MODEL}

    if s.qat_epochs > 0:
        qat_model = quantize_model(float_model)
        result["calibrated_ranges"] = calibrate_ranges(float_model, qat_model, calibration)
        train.compile_for_task(qat_model, task.is_regression, s.qat_learning_rate, s.weight_decay)
        started = time.time()
        fit = train.fit(qat_model, train_set.ids, train_set.labels, val.ids, val.labels,
                        directory=run.path(artifacts.QAT_DIR), metric=task.metric, regression=task.is_regression,
                        epochs=s.qat_epochs, batch_size=s.batch_size, seed=seed, resume=s.resume, verbose=s.verbose,
                        score_start=True)
        result["qat_seconds"] = round(time.time() - started, 1)
        # 1-based; 0 is the calibrated start, kept when no QAT epoch beat it on the selection split.
        result["qat_best_epoch"] = fit["best_epoch"] + 1
        result["qat_kept"] = (f"epoch {fit['best_epoch'] + 1} of {s.qat_epochs}" if fit["best_epoch"] >= 0
                              else "the calibrated start (no QAT epoch beat it)")
        result["qat_start_fake_quant"] = fit["start_score"]
        qat = to_int8_tflite(qat_model, calibration, per_channel=s.per_channel)
        with open(run.path(artifacts.QAT_MODEL), "wb") as f:
            f.write(qat)
        result["validation"]["qat"] = _score_tflite(qat, val.ids, val.labels, task.is_regression, task.metric,
                                                    "QAT on TFLM", s.workers)
        candidates["qat"] = artifacts.QAT_MODEL

    # Ship QAT unless it measured worse than PTQ on the selection split.
    chosen = max(candidates, key=lambda k: (result["validation"][k], k == "qat"))
    shutil.copyfile(run.path(candidates[chosen]), run.path(artifacts.INT8_MODEL))
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
    check = tflm_kernels.audit(run.tflite())
    if not check.fully_int8:
        raise UserError(f"the int8 model is not runnable as fully-int8 on TFLM: "
                        f"{'; '.join(check.problems) or 'float tensors ' + ', '.join(check.float_tensors[:3])}")
    artifacts.write_json(run.path(artifacts.QUANTIZE_RESULT), result)
    print(f"[quantize] selection {task.metric}: float {v['float']:.4f}, PTQ (TFLM) {v['ptq']:.4f}"
          + (f", QAT (TFLM) {v['qat']:.4f}" if "qat" in v else "") + f"; shipping {chosen}")
    return result
