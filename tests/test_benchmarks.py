"""The task table adds a later machine's seeds to the committed rows instead of replacing them."""
import json
import os

import pytest

from benchmarks import tasks


def _report(seed, student_seed, tflm, teacher=0.80):
    """The fields of a pipelines.full report.json that the task table reads (MRPC, distilled)."""
    metric = "f1_weighted"
    return {
        "seed": seed, "student_seed": student_seed, "sequence_length": 128, "pretrained": None,
        "evaluation": {"split": "validation", "n": 408, "source": "validation",
                       "metrics": {"float": {metric: tflm + 0.01}, "tflm": {metric: tflm}}},
        "baseline": {metric: 0.67}, "memory": {"measured": [{"total_bytes": 900_000}]},
        "model": {"name": "embbert", "residual": False, "pooling": "cls"},
        "finetune": {"epochs": 8, "best_epoch": 3, "learning_rate": 1e-3}, "history": {"float": [0] * 8},
        "quantize": {"shipped": "qat"}, "recipe": {"name": "distill-fast"},
        "timings": {"student": 100.0, "teacher": 50.0}, "data": {"validation": {"source": "train[90%:]"}},
        "teacher": {"teacher": "bert-mini", "evaluation": {metric: teacher},
                    "transfer": {"examples": 1000, "by_origin": {"train": 100, "augmented": 900}},
                    "finetune": {"seconds": 10.0}, "label_seconds": 5.0, "where": None},
    }


def _write(root, label, task, report):
    path = root / "runs" / "tasks" / label / f"{task}_s{report['student_seed']}"
    path.mkdir(parents=True)
    (path / "report.json").write_text(json.dumps(report))


def test_a_new_seed_joins_the_committed_row(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _write(tmp_path, "x", "mrpc", _report(0, 0, 0.70))
    committed = json.loads(json.dumps(tasks.collect("x", ["mrpc"])))  # as read back from the results file
    assert committed["rows"]["mrpc"]["runs"] == 1

    # A later machine without seed 0's run directory runs seed 1 (its own teacher).
    (tmp_path / "runs" / "tasks" / "x" / "mrpc_s0" / "report.json").unlink()
    _write(tmp_path, "x", "mrpc", _report(1, 1, 0.66, teacher=0.78))
    row = tasks.collect("x", ["mrpc"], committed)["rows"]["mrpc"]
    assert row["runs"] == 2
    assert row["tflm"] == pytest.approx(68.0)
    assert row["tflm_std"] == pytest.approx(2.828, abs=1e-3)
    assert row["teacher"]["score"] == pytest.approx(79.0)
    assert "teacher/student seeds 0/0, 1/1" in tasks.markdown({"label": "x", "rows": {"mrpc": row}, "summary": {}})

    # Re-collecting with both runs present counts each once.
    again = tasks.collect("x", ["mrpc"], {"rows": {"mrpc": row}})["rows"]["mrpc"]
    assert again["runs"] == 2


def test_a_rerun_seed_replaces_its_committed_value_and_other_recipes_do_not_mix(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    _write(tmp_path, "x", "mrpc", _report(0, 0, 0.70))
    committed = json.loads(json.dumps(tasks.collect("x", ["mrpc"])))
    os.rename(tmp_path / "runs", tmp_path / "old_runs")

    _write(tmp_path, "x", "mrpc", _report(0, 0, 0.60))
    assert tasks.collect("x", ["mrpc"], committed)["rows"]["mrpc"]["tflm"] == pytest.approx(60.0)

    committed["rows"]["mrpc"]["recipe"] = "distill-full"
    row = tasks.collect("x", ["mrpc"], committed)["rows"]["mrpc"]
    assert row["runs"] == 1 and row["tflm"] == pytest.approx(60.0)
