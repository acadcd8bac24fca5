"""EmbBERT's Keras layers (spec §1).

Each layer is a small, serialisable tf-keras layer. Two rules shape how they are written:
  * every op must become an int8 op that TFLite-Micro has a kernel for (no EXP, SQRT, SQUARE, SELECT,
    no casts from bool), so masks and segments come from a GATHER of a small indicator table;
  * tfmot wraps one layer at a time, so the block is a chain of layers in the functional graph, each
    with a clear output for quantization-aware training to fake-quantize.
"""
from __future__ import annotations

import math

import tensorflow as tf
import tf_keras as keras

from embbert_tf.config import PAD_ID, SEP_ID


def _torch_linear_init(fan_in: int):
    """PyTorch's default for Linear/Conv weights and biases: U(-1/sqrt(fan_in), 1/sqrt(fan_in))."""
    bound = 1.0 / math.sqrt(fan_in)
    return keras.initializers.RandomUniform(-bound, bound)


def _dense(x, kernel):
    """x @ kernel over the last axis; converts to one FULLY_CONNECTED (keep_num_dims) like keras Dense."""
    return tf.tensordot(x, kernel, axes=[[x.shape.rank - 1], [0]])


@keras.utils.register_keras_serializable("embbert")
class TokenIndicators(keras.layers.Layer):
    """ids (B, L) int32 -> (B, L, 2) float: [is_pad, is_sep].

    A GATHER from a 6x2 table indexed by min(id, 5): int8 and TFLM-friendly, where ids == PAD would
    give EQUAL + CAST and leave float tensors in the converted model.
    """

    def call(self, ids):
        table = [[0.0, 0.0] for _ in range(max(PAD_ID, SEP_ID) + 2)]
        table[PAD_ID] = [1.0, 0.0]
        table[SEP_ID] = [0.0, 1.0]
        return tf.gather(tf.constant(table), tf.minimum(ids, len(table) - 1))

    def compute_output_shape(self, input_shape):
        return tf.TensorShape(input_shape).concatenate([2])


@keras.utils.register_keras_serializable("embbert")
class NanoEmbedder(keras.layers.Layer):
    """Nano Embedder (spec §1.1): E_tok[t] P_tok + E_pos[p] P_pos + E_seg[s], all summed.

    Token and position tables live in the reduced width r and are projected to d without bias. Row PAD
    of E_tok and row 0 of E_seg are held at zero. Segments are derived from the ids: 1 by default, 2 from
    the first [SEP] on, 0 on padding. The three terms are computed as one matmul of
    [E_tok[t], E_pos[p], s==1, s==2] with the stacked projections, which converts to a single
    FULLY_CONNECTED.
    """

    def __init__(self, vocab_size, max_sequence_length, hidden, reduced, num_segments=3, **kwargs):
        super().__init__(**kwargs)
        if num_segments != 3:
            raise ValueError("the Nano Embedder derives exactly 3 segments (pad, first, second)")
        self.vocab_size, self.max_sequence_length, self.hidden = vocab_size, max_sequence_length, hidden
        self.reduced, self.num_segments = reduced, num_segments

    def build(self, input_shape):
        r, d = self.reduced, self.hidden
        normal = keras.initializers.RandomNormal  # torch nn.Embedding: N(0, 1)
        self.token_table = self.add_weight("token_table", (self.vocab_size, r), initializer=normal(0.0, 1.0))
        self.token_proj = self.add_weight("token_proj", (r, d), initializer=_torch_linear_init(r))
        self.position_table = self.add_weight("position_table", (self.max_sequence_length, r),
                                              initializer=normal(0.0, 1.0))
        self.position_proj = self.add_weight("position_proj", (r, d), initializer=_torch_linear_init(r))
        self.segment_table = self.add_weight("segment_table", (self.num_segments, d), initializer=normal(0.0, 1.0))
        super().build(input_shape)

    def call(self, inputs):
        ids, indicators = inputs
        length = ids.shape[1]
        if length is not None and length > self.max_sequence_length:
            raise ValueError(f"sequence length must be <= {self.max_sequence_length}, got {length}")
        # Multiplying by a constant row mask keeps the PAD row at zero and gives it no gradient.
        row_mask = tf.one_hot(PAD_ID, self.vocab_size, on_value=0.0, off_value=1.0)[:, None]
        tokens = tf.gather(self.token_table * row_mask, ids)  # (B, L, r)
        is_pad, is_sep = indicators[..., 0:1], indicators[..., 1:2]
        if length is None:
            # Training on length buckets (one graph for every width): the same values as below, with
            # ops that need no static length. Converted models always have a static length.
            positions = tf.broadcast_to(self.position_table[None, : tf.shape(ids)[1]], tf.shape(tokens))
            after_sep = tf.cast(tf.math.cumsum(is_sep, axis=1) > 0, is_sep.dtype)
        else:
            positions = tf.broadcast_to(self.position_table[None, :length], tf.shape(tokens))
            # Running maximum of is_sep along the sequence: a causal max-pool with a window of L.
            after_sep = tf.nn.max_pool1d(tf.pad(is_sep, [[0, 0], [length - 1, 0], [0, 0]]), length, 1, "VALID")
        valid = 1.0 - is_pad
        second = valid * after_sep
        first = valid - second
        features = tf.concat([tokens, positions, first, second], axis=-1)
        projection = tf.concat([self.token_proj, self.position_proj, self.segment_table[1:3]], axis=0)
        return _dense(features, projection)

    def compute_output_shape(self, input_shape):
        return tf.TensorShape(input_shape[0]).concatenate([self.hidden])

    def get_config(self):
        return {
            **super().get_config(),
            "vocab_size": self.vocab_size,
            "max_sequence_length": self.max_sequence_length,
            "hidden": self.hidden,
            "reduced": self.reduced,
            "num_segments": self.num_segments,
        }

    @classmethod
    def from_config(cls, config):
        if "max_len" in config:  # saved before the position table's size was named max_sequence_length
            config = dict(config)
            config["max_sequence_length"] = config.pop("max_len")
        return cls(**config)


@keras.utils.register_keras_serializable("embbert")
class PaddingMaskBias(keras.layers.Layer):
    """indicators (B, L, 2) -> additive key mask (B, 1, L): mask_value on padded keys, 0 elsewhere.

    Only keys are masked. Pad query rows then hold junk, but no valid position ever reads them (pad keys
    are masked and the conv is causal with right padding), so outputs do not depend on padding.
    """

    def __init__(self, mask_value=-30.0, **kwargs):
        super().__init__(**kwargs)
        self.mask_value = mask_value

    def call(self, indicators):
        return self.mask_value * tf.transpose(indicators[..., 0:1], [0, 2, 1])

    def compute_output_shape(self, input_shape):
        return tf.TensorShape([input_shape[0], 1, input_shape[1]])

    def get_config(self):
        return {**super().get_config(), "mask_value": self.mask_value}


@keras.utils.register_keras_serializable("embbert")
class RMSNorm(keras.layers.Layer):
    """x * rsqrt(mean(x^2) + eps) * g, as torch.nn.RMSNorm. x*x, not tf.square (a float-only op in TFLM)."""

    def __init__(self, epsilon=1e-6, **kwargs):
        super().__init__(**kwargs)
        self.epsilon = epsilon

    def build(self, input_shape):
        self.gain = self.add_weight("gain", (input_shape[-1],), initializer="ones")
        super().build(input_shape)

    def call(self, x):
        return x * tf.math.rsqrt(tf.reduce_mean(x * x, axis=-1, keepdims=True) + self.epsilon) * self.gain

    def get_config(self):
        return {**super().get_config(), "epsilon": self.epsilon}


@keras.utils.register_keras_serializable("embbert")
class ScaledDense(keras.layers.Layer):
    """s * (x W + b), with s = scale * exp(<lambda_q, lambda_k>) when `learned_scale`.

    The learned scale is the λ of EmbBERT's weighted difference (spec §1.3); the fixed scale is the
    attention's 1/sqrt(d), applied to the queries (L*d values) instead of the scores (L*L). Both fold into
    the kernel at conversion, so the layer is one FULLY_CONNECTED and there is no EXP op on the device.
    """

    def __init__(self, units, scale=1.0, learned_scale=False, **kwargs):
        super().__init__(**kwargs)
        self.units, self.scale, self.learned_scale = units, scale, learned_scale

    def build(self, input_shape):
        fan_in = int(input_shape[-1])
        self.kernel = self.add_weight("kernel", (fan_in, self.units), initializer=_torch_linear_init(fan_in))
        self.bias = self.add_weight("bias", (self.units,), initializer=_torch_linear_init(fan_in))
        if self.learned_scale:
            # One initializer per weight: a shared unseeded one returns the same values twice.
            normal = keras.initializers.RandomNormal
            self.lambda_q = self.add_weight("lambda_q", (self.units,), initializer=normal(0.0, 0.1))
            self.lambda_k = self.add_weight("lambda_k", (self.units,), initializer=normal(0.0, 0.1))
        super().build(input_shape)

    def effective_scale(self):
        scale = tf.constant(self.scale, tf.float32)
        if self.learned_scale:
            scale = scale * tf.exp(tf.reduce_sum(self.lambda_q * self.lambda_k))
        return scale

    def call(self, x):
        # Scaling a (fake-)quantized kernel by a positive scalar keeps it on a symmetric int8 grid, so the
        # converter's re-quantization of the folded kernel is exact.
        scale = self.effective_scale()
        return _dense(x, self.kernel * scale) + self.bias * scale

    def compute_output_shape(self, input_shape):
        return tf.TensorShape(input_shape)[:-1].concatenate([self.units])

    def get_config(self):
        return {
            **super().get_config(),
            "units": self.units,
            "scale": self.scale,
            "learned_scale": self.learned_scale,
        }


@keras.utils.register_keras_serializable("embbert")
class AttentionScores(keras.layers.Layer):
    """[q, x̂, mask_bias] -> q x̂ᵀ + mask_bias, (B, L, L). Keys are the normalised input itself."""

    def call(self, inputs):
        q, keys, mask_bias = inputs
        return tf.matmul(q, keys, transpose_b=True) + mask_bias

    def compute_output_shape(self, input_shape):
        q = tf.TensorShape(input_shape[0])
        return q[:-1].concatenate(q[1:2])


@keras.utils.register_keras_serializable("embbert")
class AttentionContext(keras.layers.Layer):
    """[P, x̂] -> P x̂, (B, L, d). Values are the normalised input itself.

    Written as P (x̂ᵀ)ᵀ with an explicit transpose: TFLM's BATCH_MATMUL keeps a persistent transposed copy
    of its right operand unless adj_y is set, which would cost L*d bytes of arena per layer.
    """

    def call(self, inputs):
        probs, values = inputs
        return tf.matmul(probs, tf.transpose(values, [0, 2, 1]), transpose_b=True)

    def compute_output_shape(self, input_shape):
        return tf.TensorShape(input_shape[1])


@keras.utils.register_keras_serializable("embbert")
class CausalDepthwiseConv1D(keras.layers.Layer):
    """torch Conv1d(d, f*d, k, groups=d, padding=k-1) cropped to the first L outputs: output t sees t-k+1..t."""

    def __init__(self, kernel_size, depth_multiplier=1, **kwargs):
        super().__init__(**kwargs)
        self.kernel_size, self.depth_multiplier = kernel_size, depth_multiplier

    def build(self, input_shape):
        channels, k = int(input_shape[-1]), self.kernel_size
        # fan_in of a grouped conv is k. Stored in depthwise_conv2d's 4-D layout (1, k, d, m), so that a
        # fake-quantized kernel reaches the op as a constant, with no reshaping op left in the graph.
        self.kernel = self.add_weight("kernel", (1, k, channels, self.depth_multiplier),
                                      initializer=_torch_linear_init(k))
        self.bias = self.add_weight("bias", (channels * self.depth_multiplier,), initializer=_torch_linear_init(k))
        super().build(input_shape)

    def call(self, x):
        # expand_dims/squeeze and bias_add (not slicing and +) convert to RESHAPEs and one
        # DEPTHWISE_CONV_2D with its bias fused, instead of STRIDED_SLICE copies and an extra ADD.
        padded = tf.expand_dims(tf.pad(x, [[0, 0], [self.kernel_size - 1, 0], [0, 0]]), 1)  # (B, 1, L+k-1, d)
        y = tf.nn.depthwise_conv2d(padded, self.kernel, strides=[1, 1, 1, 1], padding="VALID")
        return tf.squeeze(tf.nn.bias_add(y, self.bias), 1)

    def compute_output_shape(self, input_shape):
        return tf.TensorShape(input_shape)[:-1].concatenate([int(input_shape[-1]) * self.depth_multiplier])

    def get_config(self):
        return {
            **super().get_config(),
            "kernel_size": self.kernel_size,
            "depth_multiplier": self.depth_multiplier,
        }


@keras.utils.register_keras_serializable("embbert")
class SiLU(keras.layers.Layer):
    """x * sigmoid(x): LOGISTIC + MUL in int8."""

    def call(self, x):
        return x * tf.sigmoid(x)


@keras.utils.register_keras_serializable("embbert")
class FirstToken(keras.layers.Layer):
    """(B, L, d) -> (B, d): the state at position 0, the [CLS] token (reference SequenceClassifier)."""

    def call(self, x):
        return x[:, 0]

    def compute_output_shape(self, input_shape):
        return tf.TensorShape([input_shape[0], input_shape[2]])


@keras.utils.register_keras_serializable("embbert")
class MaskedMeanPooling(keras.layers.Layer):
    """[x, indicators] -> mean of x over non-pad positions, (B, d)."""

    def call(self, inputs):
        x, indicators = inputs
        valid = 1.0 - indicators[..., 0:1]
        return tf.reduce_sum(x * valid, axis=1) / tf.maximum(tf.reduce_sum(valid, axis=1), 1.0)

    def compute_output_shape(self, input_shape):
        x = tf.TensorShape(input_shape[0])
        return tf.TensorShape([x[0], x[2]])
