"""Your own data: `--task FOLDER` with train/validation/test files, classes read from the training split,
one-line errors naming file, row and fix, and the same results as a built-in task on the same data."""
import csv
import json
import os

import numpy as np
import pandas as pd
import pytest

from conftest import run_module
from embbert_tf import data
from embbert_tf.errors import UserError


def _nlu_rows(data_dir, split):
    path = os.path.join(data_dir, "nlu_evaluation_data", f"{split}.jsonl")
    if not os.path.exists(path):
        pytest.skip("no staged NLU data (nlu_evaluation_data/) in EMBBERT_DATA_DIR")
    return pd.read_json(path, lines=True, dtype=False)


def _write_csv(path, rows):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["text", "label"])
        w.writerows(rows)


@pytest.fixture(scope="module")
def intents(data_dir, tmp_path_factory):
    """A CSV folder of three string-labelled intents cut from the NLU data, with one empty text row."""
    frame = _nlu_rows(data_dir, "train")
    frame = frame[frame.scenario.isin(["alarm", "music", "weather"])].sample(frac=1.0, random_state=0)
    rows = list(zip(frame.answer_from_anno, frame.scenario))
    folder = tmp_path_factory.mktemp("own") / "intents"
    folder.mkdir()
    _write_csv(folder / "train.csv", rows[:700] + [("  ", "alarm")])
    _write_csv(folder / "test.csv", rows[700:900])
    return folder


def test_a_folder_is_a_task_with_classes_from_its_training_split(intents):
    task = data.get_task(str(intents))
    assert task.name == "intents" and task.classes == ("alarm", "music", "weather")
    assert task.metric == "accuracy" and task.eval_split == "test" and task.text_columns == ("text",)
    task_data = data.load_task(task, None, seed=0)
    assert len(task_data.evaluation) == 200 and len(task_data.train) + len(task_data.validation) == 700
    assert any("1 row without text skipped" in n for n in task_data.notes)
    assert set(task_data.validation.labels) == {0, 1, 2}


def test_own_data_end_to_end_full_evaluate_export(intents, tmp_path):
    out = tmp_path / "run"
    proc = run_module("pipelines.full", "--task", str(intents), "--recipe", "scratch", "--config", "test",
                      "--output_dir", str(out),
                      "--epochs", "8", "--learning_rate", "3e-3", "--qat_epochs", "1", "--seed", "3")
    # the quiet minutes near the end say what they do, and TensorFlow's start-up noise stays off the console
    assert "[evaluate] fitting the TF-IDF + linear baseline" in proc.stdout
    assert "no L=256 measurement: config test holds 64 positions" in proc.stdout
    assert "absl::InitializeLog" not in proc.stderr and "cudart_stub" not in proc.stderr
    report = json.loads((out / "report.json").read_text())
    assert report["task"] == "intents" and report["classes"] == ["alarm", "music", "weather"]
    assert report["evaluation"]["split"] == "test" and report["evaluation"]["n"] == 200
    assert "Classes: alarm, music, weather" in (out / "report.md").read_text()
    assert report["evaluation"]["metrics"]["tflm"]["accuracy"] > 0.5  # three classes: chance is about 1/3
    settings = (out / "tflm_app" / "generated" / "model_settings.cc").read_text()
    assert all(f'"{c}"' in settings for c in ("alarm", "music", "weather"))
    sketch_src = next((out / "arduino").glob("*/src/model_settings.cc")).read_text()
    assert '"weather"' in sketch_src
    result = json.loads(run_module("pipelines.evaluate", "--model", str(out), "--task", str(intents), "--split",
                                   "test").stdout.strip().splitlines()[-1])
    assert result["task"] == "intents" and result["accuracy"] == pytest.approx(
        report["evaluation"]["metrics"]["tflm"]["accuracy"])
    app = tmp_path / "app"
    run_module("pipelines.export", "--model", str(out), "--output_dir", str(app))  # needs no folder flags
    assert '"music"' in (app / "generated" / "model_settings.cc").read_text()


def test_a_jsonl_pair_folder_with_integer_labels_trains(tmp_path):
    rng = np.random.default_rng(0)
    words = ["red", "blue", "cat", "dog", "big", "small", "runs", "sleeps"]
    folder = tmp_path / "pairs"
    folder.mkdir()
    with open(folder / "train.jsonl", "w") as f:
        for _ in range(300):
            a = " ".join(rng.choice(words, 4))
            same = bool(rng.integers(0, 2))
            b = a if same else " ".join(rng.choice(words, 4))
            f.write(json.dumps({"text_a": a, "text_b": b, "label": int(same)}) + "\n")
    task = data.get_task(str(folder))
    assert task.text_columns == ("text_a", "text_b") and task.classes == ("0", "1")
    assert task.eval_split == "holdout"  # no test or validation file: a seeded hold-out is reported
    out = tmp_path / "run"
    run_module("pipelines.full", "--task", str(folder), "--recipe", "scratch", "--config", "test", "--output_dir",
               str(out), "--epochs", "1", "--qat_epochs", "0", "--seed", "0")
    report = json.loads((out / "report.json").read_text())
    assert report["evaluation"]["split"] == "holdout" and report["evaluation"]["n"] == 30


@pytest.mark.parametrize("files, message", [
    ({"test.csv": "text,label\na,b\n"}, r"has no train\.<tsv\|csv"),
    ({"train.csv": "sentence_x,label\na,b\nc,d\n"}, r"has no text column \(columns found: \['sentence_x', 'label'\]\)"
                                                    r".*--text_columns"),
    ({"train.csv": "text,intent\na,b\n"}, r"has no label column 'label' \(columns found: \['text', 'intent'\]\)"),
    ({"train.csv": "text,label\na,x\nb,x\n"}, r"has a single class 'x'.*at least two"),
    ({"train.csv": "text,label\na,x\nb,x\nc,y\n"}, r"class 'y' has a single example"),
])
def test_bad_folders_get_one_line_naming_the_file_and_the_fix(tmp_path, files, message):
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    with pytest.raises(UserError, match=message):
        data.get_task(str(tmp_path))


def test_a_label_training_never_saw_names_the_row(tmp_path):
    (tmp_path / "train.csv").write_text("text,label\na,x\nb,x\nc,y\nd,y\n")
    (tmp_path / "test.csv").write_text("text,label\ne,x\nf,z\n")
    task = data.get_task(str(tmp_path))
    with pytest.raises(UserError, match=r"test\.csv row 2: label 'z' is not one of .*add the class to the training"):
        data.load_split(task, "test", None)


def test_nlu_through_a_folder_gives_the_registered_tasks_splits(data_dir, tmp_path):
    """The staged NLU data in the folder layout splits, selects and scores exactly as the built-in task."""
    folder = tmp_path / "nlu_folder"
    folder.mkdir()
    for split in ("train", "test"):
        rows = _nlu_rows(data_dir, split)
        rows.rename(columns={"answer_from_anno": "text", "scenario": "label"})[["text", "label"]].to_json(
            folder / f"{split}.jsonl", orient="records", lines=True)
    mine, builtin = data.get_task(str(folder)), data.get_task("nlu")
    assert mine.classes == builtin.classes and mine.eval_split == builtin.eval_split
    a, b = data.load_task(mine, None, seed=4), data.load_task(builtin, data_dir, seed=4)
    for x, y in ((a.train, b.train), (a.validation, b.validation), (a.evaluation, b.evaluation)):
        assert x.texts == y.texts
        np.testing.assert_array_equal(x.labels, y.labels)
    runs = {}
    for name, task in (("folder", str(folder)), ("builtin", "nlu")):
        out = tmp_path / name
        run_module("pipelines.finetune", "--task", task, "--config", "test", "--data_dir", data_dir,
                   "--output_dir", str(out), "--train_limit", "1500", "--epochs", "2", "--seed", "4")
        runs[name] = out
    assert (runs["folder"] / "vocab.txt").read_text() == (runs["builtin"] / "vocab.txt").read_text()
    scores = [json.loads((runs[k] / "float" / "result.json").read_text())["best_score"] for k in runs]
    assert scores[0] == pytest.approx(scores[1])
