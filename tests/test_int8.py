"""Quantization (tfmot QAT, PTQ), conversion to fully-int8 TFLite, and the TFLM reference interpreter."""
import numpy as np
import pytest
import tensorflow as tf
import tensorflow_model_optimization as tfmot
import tf_keras as keras

from embbert_tf import flatbuffer, graph_edits, litert, micro, quantize, tflm_kernels, train
from embbert_tf.config import get_config
from embbert_tf.convert import smallest_arena_order, to_int8_tflite
from embbert_tf.errors import UserError
from embbert_tf.model import build_classifier, copy_weights
from conftest import random_ids

LENGTH = 24


@pytest.fixture(scope="module")
def trained():
    """A test-size classifier trained briefly on a synthetic rule (is token 5..9 present?)."""
    train.set_seed(0)
    config = get_config("test")
    rng = np.random.default_rng(0)
    ids = random_ids(rng, 1024, LENGTH, config.vocab_size)
    labels = ((ids >= 5) & (ids < 60)).any(1).astype(np.int64)
    model = build_classifier(config, 2, LENGTH)
    train.compile_for_task(model, False, 3e-3, 0.0)
    model.fit(ids, labels, epochs=4, batch_size=32, verbose=0)
    return config, model, ids, labels


@pytest.fixture(scope="module")
def int8(trained):
    _, model, ids, _ = trained
    return to_int8_tflite(model, ids[:128])


def test_ptq_model_is_fully_int8_and_every_op_has_a_tflm_int8_kernel(int8):
    audit = tflm_kernels.audit(int8)
    assert audit.float_tensors == []
    assert audit.problems == []
    assert set(audit.tensor_types) <= {"INT8", "INT32"}
    assert {"FULLY_CONNECTED", "BATCH_MATMUL", "SOFTMAX", "DEPTHWISE_CONV_2D", "RSQRT", "GATHER"} <= set(audit.ops)
    for banned in ("GELU", "EXP", "REDUCE_PROD", "SELECT", "DEQUANTIZE", "QUANTIZE", "CAST", "SQUARE", "SQRT"):
        assert banned not in audit.ops
    model = flatbuffer.read(int8)
    sg = model.subgraphs[0]
    assert [list(sg.tensors[i].shape) for i in sg.inputs] == [[1, LENGTH]]
    assert flatbuffer.TYPE_NAMES[sg.tensors[sg.inputs[0]].type] == "INT32"
    assert flatbuffer.TYPE_NAMES[sg.tensors[sg.outputs[0]].type] == "INT8"


def test_audit_rejects_float_islands_and_ops_tflm_lacks():
    inp = keras.Input((8,), batch_size=1)
    out = keras.layers.Dense(4, activation="gelu")(inp)
    model = keras.Model(inp, out)
    conv = tf.lite.TFLiteConverter.from_keras_model(model)
    conv.optimizations = [tf.lite.Optimize.DEFAULT]
    conv.representative_dataset = lambda: ([np.random.rand(1, 8).astype(np.float32)] for _ in range(10))
    audit = tflm_kernels.audit(conv.convert())  # float in/out: QUANTIZE/DEQUANTIZE and float tensors
    assert not audit.fully_int8
    assert audit.float_tensors
    assert any("GELU" in p or "QUANTIZE" in p for p in audit.problems)


def test_tflm_agrees_with_float_model(trained, int8):
    _, model, ids, labels = trained
    raw, logits = micro.TFLM(int8).run(ids[:200])
    want = model.predict(ids[:200], verbose=0)
    assert raw.dtype == np.int8
    assert (logits.argmax(1) == want.argmax(1)).mean() >= 0.97
    assert np.abs(logits - want).mean() < 0.1


def test_tflm_in_worker_processes_gives_the_same_outputs_in_order(trained, int8):
    ids = trained[2]  # 1024 examples: four chunks over two processes
    serial = micro.TFLM(int8).run(ids)[0]
    parallel = micro.TFLM(int8).run(ids, workers=2)[0]
    assert len(ids) >= 4 * micro.CHUNK
    np.testing.assert_array_equal(parallel, serial)


def test_reordering_is_bit_exact_and_does_not_grow_the_arena(trained):
    _, model, ids, _ = trained
    plain = to_int8_tflite(model, ids[:64], reorder=False)
    reordered = smallest_arena_order(plain, ids[0])
    a, b = micro.TFLM(plain).run(ids[:50])[0], micro.TFLM(reordered).run(ids[:50])[0]
    np.testing.assert_array_equal(a, b)
    assert micro.minimal_arena(reordered, ids[0]) <= micro.minimal_arena(plain, ids[0])


def test_minimal_arena_is_exact_and_a_smaller_one_fails_clearly(int8, trained):
    ids = trained[2]
    arena = micro.minimal_arena(int8, ids[0])
    micro.TFLM(int8, arena).invoke_raw(ids[0])
    with pytest.raises(UserError, match="too small"):
        micro.TFLM(int8, arena - micro.ARENA_ALIGN).invoke_raw(ids[0])


@pytest.mark.parametrize("data", [b"", b"not a model at all", b"\x00" * 64])
def test_malformed_tflite_is_a_one_line_error(data):
    with pytest.raises(UserError, match="TFLite flatbuffer"):
        micro.TFLM(data)


def test_truncated_tflite_is_a_one_line_error(int8):
    with pytest.raises(UserError, match="flatbuffer|TFLM"):
        micro.TFLM(int8[: len(int8) // 2])


def test_qat_annotates_every_layer_and_starts_from_calibrated_ranges(trained):
    _, model, ids, labels = trained
    qat = quantize.quantize_model(model)
    wrappers = [l for l in qat.layers if isinstance(l, tfmot.quantization.keras.QuantizeWrapperV2)]
    wrapped = {w.layer.name for w in wrappers}
    unwrapped = {l.name for l in model.layers} - wrapped
    assert unwrapped == {"input_ids", "indicators"}  # int32 ids in; exact 0/1 indicators out
    n = quantize.calibrate_ranges(model, qat, ids[:128])
    assert n > 10
    norm = qat.get_layer("quant_layer0_norm")
    lo, hi = (float(norm._output_quantizer_vars[k].numpy()) for k in ("min_var", "max_var"))
    x = keras.Model(model.input, model.get_layer("layer0_norm").output)(ids[:128]).numpy()
    assert lo == pytest.approx(min(x.min(), 0), rel=1e-5) and hi == pytest.approx(x.max(), rel=1e-5)
    assert lo != -6.0 and hi != 6.0
    # Fake-quantized model stays close to the float one before any QAT step.
    agree = (qat.predict(ids[:200], verbose=0).argmax(1) == model.predict(ids[:200], verbose=0).argmax(1)).mean()
    assert agree >= 0.95


def test_qat_model_trains_and_converts_to_fully_int8(trained):
    _, model, ids, labels = trained
    qat = quantize.quantize_model(model)
    quantize.calibrate_ranges(model, qat, ids[:128])
    train.compile_for_task(qat, False, 1e-4, 0.0)
    history = qat.fit(ids, labels, epochs=1, batch_size=32, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    tfl = to_int8_tflite(qat, ids[:64])
    assert tflm_kernels.audit(tfl).fully_int8
    raw, logits = micro.TFLM(tfl).run(ids[:200])
    assert (logits.argmax(1) == qat.predict(ids[:200], verbose=0).argmax(1)).mean() >= 0.97


def test_prediction_does_not_depend_on_padding(trained):
    """The same sentences padded to two lengths: float outputs equal, int8 TFLM outputs agree."""
    config, model, ids, _ = trained
    short = ids[(ids != 0).sum(1) <= 12][:60, :12]
    long_ = np.zeros((len(short), 40), np.int32)
    long_[:, :12] = short
    m12, m40 = build_classifier(config, 2, 12), build_classifier(config, 2, 40)
    copy_weights(model, m12), copy_weights(model, m40)
    f12, f40 = m12.predict(short, verbose=0), m40.predict(long_, verbose=0)
    np.testing.assert_allclose(f12, f40, atol=1e-4)
    # Both flatbuffers calibrated on the same sentences; only the padding differs.
    q12 = micro.TFLM(to_int8_tflite(m12, short)).run(short)[1]
    q40 = micro.TFLM(to_int8_tflite(m40, long_)).run(long_)[1]
    # int8 rounding differs between the two graphs (each is calibrated at its own length), so only
    # near-ties may flip; the difference stays at the level of int8 noise.
    clear = np.abs(f12[:, 0] - f12[:, 1]) > 0.2
    assert clear.sum() > 30
    assert (q12.argmax(1) == q40.argmax(1))[clear].all()
    assert np.abs(q12 - q40).max() < 0.1


def test_stripping_names_keeps_outputs_and_saves_flash(trained):
    _, model, ids, _ = trained
    named = to_int8_tflite(model, ids[:64], keep_names=True)
    stripped = graph_edits.strip_names(named)
    assert len(stripped) < len(named)
    sg, named_sg = flatbuffer.read(stripped).subgraphs[0], flatbuffer.read(named).subgraphs[0]
    # Input and output names survive: they are the model's interface.
    assert sg.tensors[sg.inputs[0]].name == named_sg.tensors[named_sg.inputs[0]].name != b""
    np.testing.assert_array_equal(micro.TFLM(named).run(ids[:20])[0], micro.TFLM(stripped).run(ids[:20])[0])


@pytest.mark.parametrize("chunks", [2, 4])
def test_attention_in_blocks_of_query_rows_is_bit_exact_and_halves_the_score_tensors(trained, chunks):
    config, model, ids, _ = trained
    plain = to_int8_tflite(model, ids[:64], reorder=False)
    blocked = graph_edits.chunk_attention(plain, chunks)
    length = ids.shape[1]

    def largest_softmax(data):
        m = flatbuffer.read(data)
        sg = m.subgraphs[0]
        return max(int(np.prod(sg.tensors[op.outputs[0]].shape)) for op in sg.operators
                   if flatbuffer.op_name(m, op) == "SOFTMAX")

    assert largest_softmax(plain) == length * length
    assert largest_softmax(blocked) == length * length // chunks
    assert tflm_kernels.audit(blocked).ops["SPLIT"] == config.num_layers
    assert not tflm_kernels.audit(blocked).problems
    np.testing.assert_array_equal(micro.TFLM(plain).run(ids[:50])[0], micro.TFLM(blocked).run(ids[:50])[0])
    np.testing.assert_array_equal(litert.LiteRT(plain).run(ids[:50])[0], litert.LiteRT(blocked).run(ids[:50])[0])
