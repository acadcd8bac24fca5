"""What the report and the console say: plurals, why a quantization was shipped, chance levels, vocabulary
sizes."""
from embbert_tf import report
from embbert_tf.tokenizer import vocabulary_note


def test_qat_line_says_what_was_kept_and_why_it_shipped_with_plurals():
    q = {"qat_epochs": 1, "qat_learning_rate": 2e-6, "qat_seconds": 12.0, "qat_kept": "the calibrated start "
         "(no QAT epoch beat it)", "shipped": "qat", "shipped_because": "QAT and PTQ tie on the selection split"}
    line = report._qat_line(q)
    assert "1 epoch at" in line and "1 epochs" not in line and "-1" not in line
    assert "kept the calibrated start" in line and "Shipped: QAT, since QAT and PTQ tie" in line
    assert "2 epochs" in report._qat_line({**q, "qat_epochs": 2})
    assert report._qat_line({"qat_epochs": 0, "shipped": "ptq"}).startswith("No QAT")


def test_chance_level_by_metric():
    assert report._chance({"evaluation": {"majority_share": 0.51}}, "accuracy") == 0.51
    assert report._chance({}, "mcc") == 0.0 and report._chance({}, "f1_weighted") is None


def test_vocabulary_note_says_asked_and_learned_sizes_and_why():
    assert "794-entry" in vocabulary_note(794, 8192) and "8192 asked" in vocabulary_note(794, 8192)
    assert "asked" not in vocabulary_note(8192, 8192)


def _report(float_score, baseline, classes=(0, 1)):
    return {"metric": "accuracy", "classes": ["negative", "positive"], "baseline": {"accuracy": baseline},
            "evaluation": {"metrics": {"float": {"accuracy": float_score}},
                           "float_predicted_classes": list(classes)}}


def test_a_model_that_learned_nothing_says_so_with_the_fix():
    one = report.learned_nothing(_report(0.51, 0.82, classes=(1,)))
    assert "one class ('positive')" in one and "--epochs" in one
    low = report.learned_nothing(_report(0.70, 0.82))
    assert "more than 10 points below" in low and "82.0" in low
    assert report.learned_nothing(_report(0.79, 0.82)) is None
