"""The Keras model against the spec: parameter counts, a NumPy transcription, serialisation."""
import numpy as np
import pytest
import tf_keras as keras

from embbert_tf import layers
from embbert_tf.config import PRESETS, get_config
from embbert_tf.model import backbone_weight_count, build_backbone, build_classifier, copy_weights
from conftest import random_ids
import reference

# Spec §2.2, counted from the reference code.
SPEC_PARAMS = {"nano": 65_856, "tiny": 146_048, "embbert": 357_248, "med": 1_834_752, "big": 7_306_752}


@pytest.mark.parametrize("name", list(SPEC_PARAMS))
def test_backbone_parameter_count_matches_spec(name):
    config = get_config(name)
    model = build_classifier(config, 2, 32)
    assert backbone_weight_count(model) == SPEC_PARAMS[name] == config.backbone_params()
    assert model.count_params() == SPEC_PARAMS[name] + 2 * config.hidden + 2  # head: Linear(d -> C)


def test_embbert_backbone_has_exactly_357248_parameters():
    assert build_backbone(get_config("embbert"), 64).count_params() == 357_248


@pytest.mark.parametrize("residual", [False, True])
def test_matches_numpy_transcription_of_the_spec(residual):
    config = get_config("test", residual=residual, expansion=2)  # f=2 exercises the depth multiplier
    model = build_classifier(config, 3, 24)
    rng = np.random.default_rng(1)
    # Non-trivial λ (they start near 1) so that a swapped λ would show.
    for name in ("layer0_attention_output", "layer1_contract"):
        layer = model.get_layer(name)
        layer.lambda_q.assign(rng.normal(0, 0.5, layer.units))
    ids = random_ids(rng, 6, 24, config.vocab_size, pairs=True)
    got = model(ids, training=False).numpy()
    want = reference.forward(model, config, ids)
    np.testing.assert_allclose(got, want, rtol=2e-4, atol=2e-4)


def test_pad_row_and_pad_segment_stay_zero():
    config = get_config("test")
    model = build_classifier(config, 2, 16)
    emb = model.get_layer("embedder")
    ids = np.array([[2, 7, 4, 0, 0]], np.int32)
    ind = layers.TokenIndicators()(ids)
    base = emb([ids, ind]).numpy()
    emb.token_table.assign(emb.token_table + 5.0)  # moving the PAD row must not change pad outputs
    emb.segment_table.assign(emb.segment_table + 5.0)
    moved = emb([ids, ind]).numpy()
    pos = (emb.position_table.numpy()[:5] @ emb.position_proj.numpy())
    np.testing.assert_allclose(moved[0, 3:], pos[3:], atol=1e-5)  # pad: only the position term
    assert not np.allclose(base[0, :3], moved[0, :3])


def test_segments_switch_at_first_sep():
    ids = np.array([[2, 9, 4, 8, 8, 4, 0, 0]], np.int32)
    config = get_config("test")
    emb = build_classifier(config, 2, 8).get_layer("embedder")
    seg = emb.segment_table.numpy()
    ind = layers.TokenIndicators()(ids)
    out = emb([ids, ind]).numpy()[0]
    emb.segment_table.assign(np.zeros_like(seg))
    no_seg = emb([ids, ind]).numpy()[0]
    want = [1, 1, 2, 2, 2, 2, 0, 0]
    for t, s in enumerate(want):
        expected = seg[s] if s else np.zeros_like(seg[0])
        np.testing.assert_allclose(out[t] - no_seg[t], expected, atol=1e-5)


def test_causal_conv_never_looks_ahead():
    conv = layers.CausalDepthwiseConv1D(4, 2)
    x = np.random.default_rng(0).normal(size=(1, 10, 3)).astype(np.float32)
    y = conv(x).numpy()
    x2 = x.copy()
    x2[0, 6:] += 10.0
    y2 = conv(x2).numpy()
    np.testing.assert_allclose(y[0, :6], y2[0, :6], atol=1e-6)
    assert not np.allclose(y[0, 6:], y2[0, 6:])


def test_every_layer_round_trips_through_get_config():
    config = get_config("test", pooling="mean")
    model = build_classifier(config, 2, 16)
    clone = keras.Model.from_config(model.get_config())
    clone.set_weights(model.get_weights())
    ids = random_ids(np.random.default_rng(0), 3, 16, config.vocab_size)
    np.testing.assert_allclose(model(ids).numpy(), clone(ids).numpy(), atol=1e-6)


def test_copy_weights_moves_a_trained_model_to_another_length():
    config = get_config("test")
    a, b = build_classifier(config, 2, 16), build_classifier(config, 2, 32)
    copied = copy_weights(a, b)
    assert "embedder" in copied and "classifier" in copied
    for wa, wb in zip(a.get_weights(), b.get_weights()):
        np.testing.assert_array_equal(wa, wb)


def test_presets_are_the_papers_configs():
    e = PRESETS["embbert"]
    assert (e.vocab_size, e.max_sequence_length, e.hidden, e.reduced, e.num_layers, e.expansion, e.kernel_size) == (
        8192, 256, 128, 16, 4, 1, 32)
    assert not e.residual and e.pooling == "cls"
