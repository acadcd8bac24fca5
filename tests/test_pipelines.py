"""The pipelines end to end, as a user runs them: the full pipeline on a small config and a slice of SST-2,
pipelines.evaluate's JSON line, and one-line errors with a non-zero exit code."""
import json
import os
import re
import subprocess
import sys

import pytest

from embbert_tf import tflm_kernels

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


from conftest import run_module as run


def test_full_pipeline_writes_a_report_of_a_working_int8_model(sst2_run):
    with open(sst2_run / "report.json") as f:
        r = json.load(f)
    ev = r["evaluation"]
    assert ev["split"] == "validation" and ev["n"] == 872
    assert ev["metrics"]["tflm"]["accuracy"] > 0.65  # well above chance (0.51) on real sentences
    assert ev["agreement"]["TFLM vs LiteRT"]["argmax_agreement"] >= 0.97
    assert ev["agreement"]["TFLM vs float Keras"]["argmax_agreement"] >= 0.95
    assert r["int8"]["fully_int8"] and r["int8"]["float_tensors"] == [] and r["int8"]["problems"] == []
    assert r["seed"] == 1 and r["sequence_length"] == 48 and r["truncation"] == "head+tail"
    assert r["recipe"] == {"name": "scratch", "train": "finetune", "flags": {}} and "teacher" not in r
    assert "Recipe `scratch`: fine-tuned on the labels." in (sst2_run / "report.md").read_text()
    assert len(r["memory"]["measured"]) == 1  # the test config has 64 positions: no L=256 measurement
    assert r["quantize"]["qat_best_epoch"] >= 0 and r["quantize"]["shipped_because"]
    assert "Shipped: " in (sst2_run / "report.md").read_text() and " 1 epochs" not in (sst2_run / "report.md").read_text()
    q = r["quantize"]["validation"]
    assert set(q) == {"float", "ptq", "qat"}
    assert r["quantize"]["shipped"] in ("ptq", "qat")
    assert q[r["quantize"]["shipped"]] == max(q["ptq"], q["qat"])
    mem = r["memory"]["measured"][0]
    assert mem["arena_bytes"] > 0 and mem["tflite_bytes"] == os.path.getsize(sst2_run / "model_int8.tflite")
    assert r["baseline"]["accuracy"] > 0.6
    for name in ("report.md", "training.png", "memory.png", "vocab.txt", "model_int8.tflite"):
        assert (sst2_run / name).stat().st_size > 0
    audit = tflm_kernels.audit((sst2_run / "model_int8.tflite").read_bytes())
    assert audit.fully_int8
    # The device side ships with the run: the C++ app with its generated sources and the Arduino library.
    d = r["device"]
    assert d["model_bytes"] == mem["tflite_bytes"] and d["arena_bytes"] >= mem["arena_bytes"]
    assert d["total_bytes"] == d["model_bytes"] + d["arena_bytes"]
    generated = sst2_run / d["app"] / "generated"
    assert f"{d['model_bytes']}" in (generated / "model_data.h").read_text()
    assert (sst2_run / d["app"] / "CMakeLists.txt").exists() and (generated / "tokenizer_data.cc").exists()
    library = sst2_run / d["arduino"]
    assert library.resolve().parent == (sst2_run.parent / "arduino_lib").resolve()  # --arduino
    assert not (sst2_run / "arduino").exists()
    props = (library / "library.properties").read_text()
    assert "name=EmbBERT_SST2" in props and "url=" not in props  # no made-up project page
    # The small test model fits every board listed; the Arduino arena is the port's (larger) one.
    assert "architectures=mbed_nano,mbed_nicla,mbed_portenta,mbed_giga" in props
    settings = (library / "src" / "model_settings.h").read_text()
    assert "kHeadTokens = 11;" in settings  # (48 - 2) // 4 (head+tail): the device cuts long texts as training did
    arduino_arena, arena = (int(v) for v in re.findall(r"kTensorArenaSize = (\d+);", settings))
    assert arduino_arena > arena and f"{arduino_arena}-byte tensor arena" in props
    assert (library / "src" / "model_data.cc").exists() and list((library / "examples").glob("*/*.ino"))


def test_evaluate_prints_metrics_as_json_on_the_last_line(sst2_run, data_dir):
    proc = run("pipelines.evaluate", "--model", str(sst2_run), "--task", "sst2", "--data_dir", data_dir,
               "--split", "validation")
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    assert result["task"] == "sst2" and result["split"] == "validation" and result["n"] == 872
    with open(sst2_run / "report.json") as f:
        assert result["accuracy"] == pytest.approx(json.load(f)["evaluation"]["metrics"]["tflm"]["accuracy"])


def _error(proc):
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr
    lines = [l for l in proc.stderr.strip().splitlines() if l.startswith("error:")]
    assert len(lines) == 1
    assert proc.stderr.strip().splitlines()[-1] == lines[0]  # the error is the last thing said
    return lines[0]


def test_unknown_task_is_one_line(tmp_path):
    line = _error(run("pipelines.full", "--task", "sst3", "--output_dir", str(tmp_path), check=False))
    assert "unknown task 'sst3'" in line


def test_a_missing_in_domain_source_is_one_line_before_the_teacher_trains(tmp_path, data_dir):
    """distill-fast adds IMDb sentences to SST-2's transfer set: without IMDb's files the run says so first."""
    only_sst2 = tmp_path / "data"
    only_sst2.mkdir()
    (only_sst2 / "sst2").symlink_to(os.path.join(data_dir, "sst2"))
    out = tmp_path / "out"
    line = _error(run("pipelines.full", "--task", "sst2", "--config", "test", "--data_dir", str(only_sst2),
                      "--output_dir", str(out), "--train_limit", "200", check=False))
    assert "--in_domain 100000 takes sst2's in-domain sentences from imdb's train split" in line
    assert "or pass --in_domain 0" in line and not (out / "teacher" / "finetune.json").exists()


@pytest.mark.parametrize("flags, message", [
    (["--recipe", "distill-fast", "--epochs", "3"], "--epochs applies only to fine-tuning on the labels (--recipe scratch), but --recipe "
                        "distill-fast is distilling from a teacher: drop it"),
    (["--recipe", "scratch", "--student_epochs", "2", "--in_domain", "9"],
     "--in_domain, --student_epochs apply only to distilling from a teacher (--recipe distill-fast / "
     "distill-full), but --recipe scratch is fine-tuning on the labels: drop them"),
])
def test_a_flag_the_recipe_does_not_read_is_one_line(tmp_path, flags, message):
    line = _error(run("pipelines.full", "--task", "sst2", "--output_dir", str(tmp_path / "out"), *flags,
                      check=False))
    assert message in line and not (tmp_path / "out").exists()


def test_missing_data_file_is_one_line(tmp_path):
    (tmp_path / "sst2").mkdir()
    line = _error(run("pipelines.finetune", "--task", "sst2", "--data_dir", str(tmp_path), "--output_dir",
                      str(tmp_path / "out"), check=False))
    assert "missing data file for task sst2" in line
    assert not (tmp_path / "out").exists()  # the failed run removes the empty folder it made


def test_unreadable_tflite_is_one_line(sst2_run, tmp_path, data_dir):
    bad = tmp_path / "bad"
    bad.mkdir()
    for name in ("config.json", "vocab.txt"):
        (bad / name).write_bytes((sst2_run / name).read_bytes())
    (bad / "model_int8.tflite").write_bytes(b"\x00garbage" * 10)
    line = _error(run("pipelines.evaluate", "--model", str(bad), "--data_dir", data_dir, check=False))
    assert "not a TFLite flatbuffer" in line
    (bad / "model_int8.tflite").write_bytes((sst2_run / "model_int8.tflite").read_bytes()[:3000])  # cut short
    line = _error(run("pipelines.evaluate", "--model", str(bad), "--data_dir", data_dir, check=False))
    assert "damaged TFLite flatbuffer: its tables point past the end of its 3,000 bytes" in line


def test_not_a_model_directory_is_one_line(tmp_path):
    line = _error(run("pipelines.evaluate", "--model", str(tmp_path), check=False))
    assert "not a model directory" in line


def test_relative_paths_are_read_from_the_folder_the_command_was_typed_in(tmp_path, data_dir):
    """./run changes to the repository root; --model, --data_dir given relative to the user's folder still
    find their files there."""
    import shutil

    shutil.copytree(os.path.join(ROOT, "models", "sst2"), tmp_path / "mine")
    os.symlink(data_dir, tmp_path / "data")
    env = {k: v for k, v in os.environ.items() if k not in ("EMBBERT_CWD", "EMBBERT_DATA_DIR")}
    proc = subprocess.run([os.path.join(ROOT, "run"), "python", "-m", "pipelines.evaluate", "--model", "mine",
                           "--task", "sst2", "--data_dir", "data", "--split", "validation", "--eval_limit", "16"],
                          cwd=tmp_path, capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert json.loads(proc.stdout.strip().splitlines()[-1])["n"] == 16


@pytest.mark.parametrize("program", ["full", "finetune", "quantize", "evaluate", "export", "distill", "teacher",
                                     "pretrain"])
def test_programs_check_their_flags_before_importing_tensorflow(program):
    """A typo costs a second, not TensorFlow's start-up: importing a program imports no TensorFlow, and a
    bad --task is refused before the heavy imports."""
    proc = subprocess.run([sys.executable, "-c", f"import sys, pipelines.{program}; "
                           "print('tensorflow' in sys.modules)"], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": ROOT})
    assert proc.stdout.strip() == "False", proc.stderr[-2000:]
    if program in ("full", "finetune", "distill", "teacher"):
        line = _error(run(f"pipelines.{program}", "--task", "no_such_task", check=False))
        assert line.startswith("error: unknown task 'no_such_task'")
