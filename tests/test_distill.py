"""Distillation: the transfer set's augmentation, the soft-target loss, length-bucketed training on a model
of any width (whose weights give the fixed-length model's outputs), and distillation end to end."""
import json

import numpy as np
import pytest

from conftest import random_ids, run_module
from embbert_tf import augment, data, distill, teacher, transfer
from embbert_tf.config import UNK_ID, get_config
from embbert_tf.model import build_classifier
from embbert_tf.tokenizer import Tokenizer


def test_augmented_copies_are_masked_or_cut_and_reproducible():
    texts = [["the film is a gripping , funny and moving story of two friends", "dull"]]
    a = augment.augment_texts(texts, copies=20, seed=3)
    assert a == augment.augment_texts(texts, copies=20, seed=3)
    assert a != augment.augment_texts(texts, copies=20, seed=4)
    original = set(texts[0][0].split())
    assert texts[0][0] not in a[0] and len(set(a[0])) == len(a[0])  # no originals, no duplicates
    for text in a[0]:
        words = text.split()
        assert all(w in original or w == augment.MASK for w in words)
    assert any(augment.MASK in t for t in a[0]) and any(len(t.split()) <= 5 for t in a[0])


def test_pairs_are_masked_on_both_sides_and_never_cut():
    a, b = augment.augment_texts([["a man plays a guitar on the stage"], ["someone is playing music"]],
                                 copies=30, seed=0)
    assert len(a) == len(b) > 0
    assert all(len(x.split()) == 8 for x in a) and all(len(y.split()) == 4 for y in b)


def test_new_pairings_show_alike_unlike_and_swapped_pairs():
    first = ["a man plays a guitar", "a dog runs in the park", "two kids eat cake"]
    second = ["a man is playing music", "the dog is running", "children are eating"]
    a, b = augment.pair_texts([first, second], seed=1)
    assert (a, b) == tuple(augment.pair_texts([first, second], seed=1))
    assert len(a) == len(b) == 5 * len(first)
    pairs = set(zip(a, b))
    for i, (x, y) in enumerate(zip(first, second)):
        assert (y, x) in pairs  # swapped
        own = [q for p, q in zip(a, b) if p == x]
        assert any(q != y and q in second for q in own)  # the other side of another pair
        alike = [q for q in own if q not in second]  # x beside a masked copy of itself
        assert alike and all(len(q.split()) == len(x.split()) for q in alike)
        assert all(w in (x.split() + [augment.MASK]) for q in alike for w in q.split())
    set_ = transfer.build_transfer_set(_pair_split(first, second), copies=0, pairings=True)
    assert len(set_) == 6 * len(first) and np.isnan(set_.gold[len(first):]).all()
    assert len(transfer.build_transfer_set(_pair_split(first, second), copies=0, pairings=False)) == len(first)


def _pair_split(first, second):
    from embbert_tf import data

    return data.Split(data.get_task("stsb"), "train", [first, second], np.array([1.0, 2.0, 3.0], np.float32), "test")


def test_in_domain_sentences_are_cut_from_documents_without_markup():
    docs = ["A fine film.<br /><br />The plot , however , drags a lot ! Ok.", "Too short. " + "word " * 80]
    s = augment.sentences(docs, min_words=3, max_words=50)
    assert s == ["A fine film.", "The plot , however , drags a lot !"]


def test_a_masked_word_is_one_unknown_word_for_the_student():
    tok = Tokenizer(["[PAD]", "[UNK]", "[CLS]", "[MASK]", "[SEP]", "good", "film"])
    ids, truncated = distill.encode_transfer(tok, [[f"good {augment.MASK} film", "good film " * 4]], 8)
    assert ids[0, :5].tolist() == [2, 5, UNK_ID, 6, 4] and truncated == 0.5


def test_distillation_loss_is_mse_to_the_teacher_plus_weighted_gold_loss():
    teacher = np.array([[1.0, -1.0], [0.5, 0.0]], np.float32)
    student = np.array([[0.0, 0.0], [0.5, 0.0]], np.float32)
    y = distill.targets(teacher, np.array([1, -1]))
    mse = ((student - teacher) ** 2).mean(1)
    assert float(distill.DistillationLoss(2)(y, student)) == pytest.approx(mse.mean())
    ce = -np.log(0.5)  # gold class 1 at logits (0, 0); the second row has no gold label
    assert float(distill.DistillationLoss(2, gold_weight=0.5)(y, student)) == pytest.approx(
        (mse[0] + 0.5 * ce + mse[1]) / 2, rel=1e-5)


def test_a_model_of_any_width_gives_the_fixed_length_models_outputs():
    config = get_config("test")
    free = build_classifier(config, 2, None)
    fixed = build_classifier(config, 2, 32)
    fixed.set_weights(free.get_weights())
    ids = random_ids(np.random.default_rng(0), 8, 32, config.vocab_size, pairs=True)
    ids[:, 20:] = 0
    np.testing.assert_allclose(free.predict(ids[:, :24], verbose=0), fixed.predict(ids, verbose=0), atol=1e-5)


def test_bucketed_batches_cover_the_set_once_an_epoch_at_their_own_width():
    rng = np.random.default_rng(0)
    ids = random_ids(rng, 300, 64, 100)
    y = np.arange(300, dtype=np.float32)[:, None]
    dataset = distill.bucketed_dataset(ids, y, batch_size=32, seed=0)
    epochs = []
    for _ in range(2):
        rows = []
        for x, t in dataset:
            x, t = x.numpy(), t.numpy()[:, 0].astype(int)
            np.testing.assert_array_equal(x, ids[t, : x.shape[1]])
            assert (ids[t, x.shape[1]:] == 0).all()
            rows.extend(t.tolist())
        assert sorted(rows) == list(range(300))
        epochs.append(rows)
    assert epochs[0] != epochs[1]
    resumed = distill.bucketed_dataset(ids, y, batch_size=32, seed=0, first_epoch=1)  # after one epoch
    assert [r for _, t in resumed for r in t.numpy()[:, 0].astype(int).tolist()] == epochs[1]


def test_distill_pipeline_end_to_end(data_dir, tmp_path, monkeypatch):
    """pipelines.full --recipe distill-fast: teacher fine-tuned on a slice of SST-2, transfer set labelled,
    student trained, int8 on TFLM. The recipe's flags apply where the command line gives none."""
    out = tmp_path / "sst2_distill"
    run_module("pipelines.full", "--task", "sst2", "--recipe", "distill-fast", "--config", "test", "--data_dir", data_dir,
               "--output_dir", str(out), "--train_limit", "400", "--augment_copies", "3", "--in_domain", "200",
               "--teacher_epochs", "1", "--teacher_examples", "300", "--student_epochs", "2", "--qat_epochs", "1",
               "--measure_l256=false",
               "--eval_limit", "200", "--seed", "2", "--student_seed", "5")
    report = json.loads((out / "report.json").read_text())
    sized_by = report["recipe"].pop("sized_by")  # SST-2's phrases: about the recipe's 13.3 teacher tokens a text
    assert 8 < sized_by["tokens_per_text"] < 20 and sized_by["transfer_tokens_per_text"] > 0
    assert report["recipe"] == {"name": "distill-fast", "train": "distill", "flags": {  # the recipe's, then ours
        "student_batch_size": 128, "student_lr_schedule": "cosine", "init_embeddings": "teacher", "in_domain": 200,
        "teacher_epochs": 1, "teacher_examples": 300, "augment_copies": 3, "student_epochs": 2}}
    assert report["teacher"]["finetune"]["examples"] == 300  # a seeded sample of the 400 training texts
    assert report["finetune"]["lr_schedule"] == "cosine" and report["finetune"]["batch_size"] == 128
    assert report["finetune"]["init_embeddings"] == "teacher"
    t = report["teacher"]
    assert t["backend"] == "tensorflow" and t["finetune"]["epochs"] == 1 and t["seconds"] > 0
    counts = t["transfer"]["by_origin"]
    assert counts["train"] == 400 and counts["in_domain"] == 200 and 0 < counts["augmented"] <= 1200
    labelled, logits = transfer.load_labelled(str(out))
    assert logits.shape == (len(labelled), 2) and np.isfinite(logits).all()
    assert report["evaluation"]["n"] == 200 and report["int8"]["fully_int8"]
    assert "teacher" in (out / "report.md").read_text().lower()
    assert report["seed"] == 2 and report["student_seed"] == 5  # data and teacher by --seed, student by its own
    assert "student seed 5" in (out / "report.md").read_text()

    # Interrupted while labelling a freshly built transfer set: --resume finds it, so keeps its labelled chunks.
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    (out / "teacher" / "result.json").unlink()
    (out / "transfer" / "meta.json").unlink()
    monkeypatch.setattr(teacher, "label", interrupted)
    with pytest.raises(KeyboardInterrupt):
        transfer.teacher_stage(data.get_task("sst2"), str(out), data_dir=data_dir, seed=2, epochs=1, copies=3,
                               in_domain=200, train_limit=400, examples=300, verbose=0)
    recipe = {"copies": 3, "in_domain": 200, "seed": 2, "train_examples": 400}
    assert transfer.cached_transfer_set(str(out / "transfer"), recipe) is not None  # resuming keeps the chunks


def test_token_table_from_the_teacher_puts_related_words_together():
    from embbert_tf import teacher

    try:
        folder = teacher.pretrained_dir()
    except Exception as e:
        pytest.skip(f"teacher weights not installed ({e})")
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[MASK]", "[SEP]", "good", "great", "awful", "terrible", "film", "movie",
             "##ly", "##s", "quietly", "cinema", "dreadful", "excellent"]
    table = distill.teacher_token_table(vocab, folder, 8)
    assert table.shape == (len(vocab), 8) and table.std() == pytest.approx(1.0, rel=1e-4)

    def distance(a, b):
        return float(((table[vocab.index(a)] - table[vocab.index(b)]) ** 2).sum())

    assert distance("good", "great") < distance("good", "film")
    assert distance("film", "movie") < distance("film", "awful")
    assert distance("awful", "terrible") < distance("awful", "cinema")
