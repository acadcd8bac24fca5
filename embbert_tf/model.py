"""EmbBERT models as flat functional tf-keras graphs: backbone, classifier, masked-LM.

Flat (no nested models) because tfmot's quantize_apply only handles a single functional graph. Layer
names are stable, so weights move between the pre-training model, the classifier and the batch-1 twin
used for conversion by name.
"""
from __future__ import annotations

import math

import tf_keras as keras

from embbert_tf import layers
from embbert_tf.config import EmbBERTConfig

HEAD_LAYERS = ("pool", "classifier", "mlm_head")


def encoder(ids, config: EmbBERTConfig):
    """ids (B, L) int32 -> (sequence states (B, L, d), indicators (B, L, 2))."""
    d = config.hidden
    indicators = layers.TokenIndicators(name="indicators")(ids)
    x = layers.NanoEmbedder(config.vocab_size, config.max_sequence_length, d, config.reduced, config.num_segments,
                            name="embedder")(
        [ids, indicators]
    )
    mask_bias = layers.PaddingMaskBias(config.mask_value, name="mask_bias")(indicators)
    for i in range(config.num_layers):
        p = f"layer{i}_"
        h = layers.RMSNorm(config.norm_eps, name=p + "norm")(x)
        # Branch A: single-head efficient attention; keys and values are h itself.
        q = layers.ScaledDense(d, scale=1.0 / math.sqrt(d), name=p + "query")(h)
        scores = layers.AttentionScores(name=p + "scores")([q, h, mask_bias])
        probs = keras.layers.Softmax(name=p + "softmax")(scores)
        probs = keras.layers.Dropout(config.attention_dropout, name=p + "attention_dropout")(probs)
        context = layers.AttentionContext(name=p + "context")([probs, h])
        attention = layers.ScaledDense(d, learned_scale=True, name=p + "attention_output")(context)
        # Branch B: causal depthwise conv -> SiLU -> linear back to d.
        u = layers.CausalDepthwiseConv1D(config.kernel_size, config.depth_multiplier, name=p + "conv")(h)
        u = layers.SiLU(name=p + "silu")(u)
        conv = layers.ScaledDense(d, learned_scale=True, name=p + "contract")(u)
        # λ1·attention − λ2·conv; the λ live in the two projections. No identity residual (spec §1.4).
        block = keras.layers.Subtract(name=p + "difference")([attention, conv])
        x = keras.layers.Add(name=p + "residual")([x, block]) if config.residual else block
    return x, indicators


def _ids_input(sequence_length, batch_size):
    return keras.Input((sequence_length,), batch_size=batch_size, dtype="int32", name="input_ids")


def build_backbone(config: EmbBERTConfig, sequence_length: int, batch_size=None) -> keras.Model:
    ids = _ids_input(sequence_length, batch_size)
    x, _ = encoder(ids, config)
    return keras.Model(ids, x, name=f"embbert_{config.name}_backbone")


def build_classifier(config: EmbBERTConfig, num_classes: int, sequence_length: int, batch_size=None) -> keras.Model:
    """Sequence classifier: the backbone, a pooled vector and one Dense to logits (1 unit: regression)."""
    ids = _ids_input(sequence_length, batch_size)
    x, indicators = encoder(ids, config)
    if config.pooling == "cls":
        pooled = layers.FirstToken(name="pool")(x)
    elif config.pooling == "mean":
        pooled = layers.MaskedMeanPooling(name="pool")([x, indicators])
    else:
        raise ValueError(f"unknown pooling {config.pooling!r}; use 'cls' or 'mean'")
    logits = keras.layers.Dense(num_classes, name="classifier")(pooled)
    return keras.Model(ids, logits, name=f"embbert_{config.name}_classifier")


def backbone_weight_count(model: keras.Model) -> int:
    return sum(layer.count_params() for layer in model.layers if layer.name not in HEAD_LAYERS)


def copy_weights(source: keras.Model, target: keras.Model, skip=()) -> list[str]:
    """Copy weights layer by layer, by name, where both models have the layer. Returns the names copied."""
    names = {layer.name: layer for layer in source.layers if layer.weights}
    copied = []
    for layer in target.layers:
        if layer.name in names and layer.name not in skip and layer.weights:
            layer.set_weights(names[layer.name].get_weights())
            copied.append(layer.name)
    return copied
