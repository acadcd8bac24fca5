"""Quantization-aware training with tensorflow-model-optimization (tfmot).

tfmot knows none of EmbBERT's layers, so each gets a QuantizeConfig here: fake-quantize the layer's
output where the int8 graph will hold an int8 tensor, and its kernel where it has one. The fake-quant
ranges start from a calibration pass over training data (tfmot's default ±6 start needs thousands of
steps to settle, which made short QAT worse than post-training quantization in our prototype).
"""
from __future__ import annotations

import numpy as np
import tensorflow as tf
import tensorflow_model_optimization as tfmot
import tf_keras as keras

from embbert_tf import layers as L

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
    L.TokenIndicators: None,
    L.NanoEmbedder: OutputQuantizeConfig,
    L.PaddingMaskBias: OutputQuantizeConfig,
    L.RMSNorm: OutputQuantizeConfig,
    L.ScaledDense: KernelQuantizeConfig,
    L.AttentionScores: OutputQuantizeConfig,
    keras.layers.Softmax: SoftmaxQuantizeConfig,
    keras.layers.Dropout: NoOpQuantizeConfig,
    L.AttentionContext: OutputQuantizeConfig,
    L.CausalDepthwiseConv1D: KernelQuantizeConfig,
    L.SiLU: OutputQuantizeConfig,
    keras.layers.Subtract: OutputQuantizeConfig,
    keras.layers.Add: OutputQuantizeConfig,
    L.FirstToken: NoOpQuantizeConfig,
    L.MaskedMeanPooling: OutputQuantizeConfig,
    keras.layers.Dense: KernelQuantizeConfig,
}

CUSTOM_OBJECTS = {
    cls.__name__: cls
    for cls in (
        OutputQuantizeConfig,
        NoOpQuantizeConfig,
        KernelQuantizeConfig,
        SoftmaxQuantizeConfig,
        L.TokenIndicators,
        L.NanoEmbedder,
        L.PaddingMaskBias,
        L.RMSNorm,
        L.ScaledDense,
        L.AttentionScores,
        L.AttentionContext,
        L.CausalDepthwiseConv1D,
        L.SiLU,
        L.FirstToken,
        L.MaskedMeanPooling,
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
