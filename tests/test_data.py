"""Task registry, readers for the staged layout, and one-line errors for bad data."""

import numpy as np
import pytest

from embbert_tf import data, metrics
from embbert_tf.errors import UserError


@pytest.mark.parametrize("name,split,rows", [("sst2", "validation", 872), ("cola", "validation", 1043),
                                            ("mrpc", "validation", 408), ("stsb", "validation", 1500),
                                            ("rte", "validation", 277), ("emotion", "test", 2000),
                                            ("limit", "test", 1000), ("nlu", "test", 1076),
                                            ("cyberbullying", "test", 4756), ("imdb", "test", 25000),
                                            ("ag_news", "test", 7600)])
def test_staged_tasks_load(data_dir, name, split, rows):
    task = data.get_task(name)
    s = data.load_split(task, split, data_dir)
    assert len(s) == rows
    assert len(s.texts) == len(task.text_columns) and all(len(c) == rows for c in s.texts)
    if task.is_regression:
        assert s.labels.dtype == np.float32 and 0 <= s.labels.min() and s.labels.max() <= 5
    else:
        assert set(np.unique(s.labels)) == set(range(task.num_classes))


def test_task_without_validation_gets_a_fixed_seeded_split(data_dir):
    task = data.get_task("limit")
    a, b = data.load_task(task, data_dir, seed=3), data.load_task(task, data_dir, seed=3)
    assert a.validation.texts == b.validation.texts
    assert len(a.train) + len(a.validation) == 23_559
    assert abs(len(a.validation) - 2356) <= 2
    assert not set(a.validation.texts[0]) & set(a.train.texts[0])  # LiMiT has no repeated sentences
    assert a.notes and "seed 3" in a.notes[0]
    assert a.evaluation.name == "test"
    c = data.load_task(task, data_dir, seed=4)
    assert c.validation.texts != a.validation.texts


@pytest.mark.parametrize("name", ["sst2", "stsb"])
def test_scored_split_never_selects_the_epoch(data_dir, name):
    task = data.get_task(name)  # GLUE: scored on its validation (dev) split
    d = data.load_task(task, data_dir, seed=0)
    assert d.evaluation.name == "validation" and len(d.evaluation) == {"sst2": 872, "stsb": 1500}[name]
    full_train = data.load_split(task, "train", data_dir)
    assert len(d.train) + len(d.validation) <= len(full_train) and "held out" in d.notes[0]
    assert set(zip(*d.validation.texts)) <= set(zip(*full_train.texts))  # selection draws on training data only


def test_phrase_split_holds_out_whole_sentences(data_dir):
    task = data.get_task("sst2")  # train.tsv holds every phrase of each parse tree
    d = data.load_task(task, data_dir, seed=0)
    held = [tuple(t.split()) for t in d.validation.texts[0]]
    train = [tuple(t.split()) for t in d.train.texts[0]]
    assert 600 < len(held) < 800  # 10 % of the ~6,900 training sentences, as long as the dev sentences
    assert np.median([len(t) for t in held]) >= 15
    train_spans = set().union(*(_all_spans(t) for t in train))
    assert not set(held) & train_spans  # no held-out sentence is inside a training phrase
    held_only = set().union(*(_all_spans(t) for t in held)) - train_spans
    assert held_only and not held_only & set(train)  # their own phrases left training
    assert len(d.train) < 0.95 * (67_349 - len(held))


def _all_spans(tokens):
    """Every sub-span: what the split was first defined with (cubic in a text's length; test data only)."""
    return {tokens[a:b] for a in range(len(tokens)) for b in range(a + 1, len(tokens) + 1)}


def _reference_split_phrases(split, fraction, seed):
    tokens = [tuple(" ".join(parts).split()) for parts in zip(*split.texts)]
    covered, roots = set(), []
    for i in sorted(range(len(tokens)), key=lambda i: -len(tokens[i])):
        if tokens[i] not in covered:
            roots.append(i)
            covered |= _all_spans(tokens[i])
    roots = np.array(sorted(roots))
    held = roots[data._stratified(split.labels[roots], fraction, np.random.default_rng(seed))]
    kept = set().union(*(_all_spans(tokens[i]) for i in np.setdiff1d(roots, held)))
    return np.array([i for i in range(len(tokens)) if tokens[i] in kept]), held


def test_sst2_selection_split_is_the_all_spans_definitions(data_dir):
    train = data.load_split(data.get_task("sst2"), "train", data_dir)
    rest, held = data.split_phrases(train, 0.1, 0)
    ref_rest, ref_held = _reference_split_phrases(train, 0.1, 0)
    np.testing.assert_array_equal(held, ref_held)
    np.testing.assert_array_equal(rest, ref_rest)


def test_a_5000_word_line_splits_in_bounded_memory():
    import tracemalloc

    task = data.get_task("sst2")
    rng = np.random.default_rng(0)
    words = [f"w{i}" for i in range(300)]
    texts = [" ".join(rng.choice(words, size=int(rng.integers(1, 20)))) for _ in range(2000)]
    texts.append(" ".join(rng.choice(words, size=5000)))  # all its sub-spans would be ~2e10 words
    split = data.Split(task, "train", [texts], rng.integers(0, 2, size=len(texts)), "test")
    tracemalloc.start()
    rest, held = data.split_phrases(split, 0.1, 0)
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert peak < 200e6, f"peak {peak / 1e6:.0f} MB"
    assert len(texts) - 1 in set(held) | set(rest)


def test_phrase_split_keeps_phrases_that_training_sentences_share():
    task = data.get_task("sst2")
    sentences = {"a good film": 1, "a bad film": 0, "a good one": 1, "a bad one": 0}
    phrases = {**sentences, "good film": 1, "bad film": 0, "good": 1, "bad": 0, "a": 1, "one": 1}
    split = data.Split(task, "train", [list(phrases)], np.array(list(phrases.values())), "test")
    held_sets = set()
    for seed in range(8):
        rest, held = data.split_phrases(split, 0.5, seed)
        held_text = sorted(split.texts[0][i] for i in held)
        assert set(held_text) <= set(sentences) and sorted(sentences[t] for t in held_text) == [0, 1]
        kept = [t for t in sentences if t not in held_text]
        # oracle by string containment: a phrase trains iff a kept sentence contains it
        expect = {p for p in phrases if any(f" {p} " in f" {k} " for k in kept)}
        assert {split.texts[0][i] for i in rest} == expect
        held_sets.add(tuple(held_text))
    assert len(held_sets) > 1  # the seed picks the sentences


def test_unknown_task():
    with pytest.raises(UserError, match="unknown task 'sst3'.*sst2"):
        data.get_task("sst3")


def _task_dir(tmp_path, name="sst2"):
    folder = tmp_path / name
    folder.mkdir()
    return folder


def test_missing_file_names_the_task_split_and_fix(tmp_path):
    _task_dir(tmp_path)
    with pytest.raises(UserError, match="missing data file for task sst2, split train.*--data_dir"):
        data.load_split(data.get_task("sst2"), "train", str(tmp_path))


def test_missing_data_dir(tmp_path):
    with pytest.raises(UserError, match="does not exist"):
        data.load_split(data.get_task("sst2"), "train", str(tmp_path / "nope"))


def test_a_file_that_is_not_utf8_names_its_line(tmp_path):
    folder = _task_dir(tmp_path)
    (folder / "train.tsv").write_bytes(b"sentence\tlabel\nfine film\t1\nbad\t0\ncaf\xe9 noir\t1\n")
    with pytest.raises(UserError, match=r"train.tsv line 4 is not UTF-8 \(byte 0xe9\); re-encode the file as UTF-8"):
        data.load_split(data.get_task("sst2"), "train", str(tmp_path))


def test_corrupt_file(tmp_path):
    (_task_dir(tmp_path, "imdb") / "train.parquet").write_bytes(b"PAR1 this is not parquet")
    with pytest.raises(UserError, match="cannot read .*train.parquet.*corrupt"):
        data.load_split(data.get_task("imdb"), "train", str(tmp_path))


def test_wrong_columns(tmp_path):
    (_task_dir(tmp_path) / "train.tsv").write_text("text\tlabel\ngood\t1\n")
    with pytest.raises(UserError, match="no column 'sentence'"):
        data.load_split(data.get_task("sst2"), "train", str(tmp_path))


def test_label_outside_classes(tmp_path):
    (_task_dir(tmp_path) / "train.tsv").write_text("sentence\tlabel\ngood\t1\nbad\t7\n")
    with pytest.raises(UserError, match="row 2: label 7 is not one of task sst2's classes"):
        data.load_split(data.get_task("sst2"), "train", str(tmp_path))


def test_string_label_outside_classes(tmp_path):
    (_task_dir(tmp_path, "limit") / "train.jsonl").write_text('{"sentence": "a", "motion": "maybe"}\n')
    with pytest.raises(UserError, match="'maybe' is not one of task limit's classes"):
        data.load_split(data.get_task("limit"), "train", str(tmp_path))


def test_empty_dataset(tmp_path):
    (_task_dir(tmp_path) / "train.tsv").write_text("sentence\tlabel\n")
    with pytest.raises(UserError, match="has no rows"):
        data.load_split(data.get_task("sst2"), "train", str(tmp_path))


def test_metrics_as_defined():
    labels = np.array([0, 0, 1, 1])
    logits = np.array([[1, 0], [0, 1], [0, 1], [0, 1]], float)
    m = metrics.compute(labels, logits, regression=False)
    assert m["accuracy"] == 0.75
    assert m["mcc"] == pytest.approx(1 / np.sqrt(3))
    assert m["f1_weighted"] == pytest.approx(0.5 * (2 / 3) + 0.5 * 0.8)
    r = metrics.compute(np.array([1.0, 2.0, 3.0, 4.0]), np.array([[10.0], [20.0], [40.0], [30.0]]), regression=True)
    assert r["spearman"] == pytest.approx(0.8)
    a = metrics.agreement(logits, logits[:, ::-1], regression=False)
    assert a["argmax_agreement"] == 0.0 and a["max_abs_diff"] == 1.0
