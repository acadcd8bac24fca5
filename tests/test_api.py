"""The Python API as the README shows it: the "From Python" snippet runs as written."""
import json
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _snippet(heading: str = "## From Python") -> str:
    readme = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()
    section = readme.split(heading + "\n", 1)[1]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_importing_the_package_loads_no_tensorflow():
    proc = subprocess.run([sys.executable, "-c", "import sys, embbert_tf as eb; eb.get_config('tiny'); "
                           "print('tensorflow' in sys.modules, sorted(eb.__all__)[:2])"],
                          capture_output=True, text=True, env={**os.environ, "PYTHONPATH": ROOT})
    assert proc.stdout.strip().startswith("False"), proc.stderr[-2000:]


def test_the_readme_python_snippet_runs(data_dir, tmp_path):
    proc = subprocess.run([sys.executable, "-c", _snippet()], cwd=tmp_path, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": ROOT})
    assert proc.returncode == 0, proc.stderr[-3000:]
    accuracy = float(re.search(r"int8 on TFLM: ([0-9.]+)", proc.stdout).group(1))
    assert accuracy > 0.6  # three epochs on 20,000 phrases: well above chance (0.51)
    assert (tmp_path / "sst2_app" / "generated" / "model_data.cc").exists()
    assert list((tmp_path / "sst2_arduino").glob("EmbBERT_*/library.properties"))
    assert "bytes of flash + RAM" in proc.stdout


def test_the_readme_stages_snippet_runs_without_flags(data_dir, tmp_path):
    """The programs' stages called as library functions with settings objects: no absl flag is read."""
    proc = subprocess.run([sys.executable, "-c", _snippet("### The stages from Python")], cwd=tmp_path,
                          capture_output=True, text=True, env={**os.environ, "PYTHONPATH": ROOT})
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = eval(proc.stdout.strip().splitlines()[-1])  # evaluate's dict, printed
    assert result["split"] == "validation" and result["n"] == 872 and result["accuracy"] > 0.55
    run = tmp_path / "runs" / "py_sst2"
    assert (run / "model_int8.tflite").exists() and (run / "tflm_app" / "generated" / "model_data.cc").exists()
    assert json.loads((run / "config.json").read_text())["model"]["name"] == "tiny"


def test_presets_are_data_with_a_description_and_a_parameter_count():
    import doctest

    from embbert_tf import config, presets

    rows = presets.table()
    assert [r["name"] for r in rows] == list(config.PRESETS) == list(presets.PRESETS)
    for r in rows:
        assert r["description"] and r["backbone_params"] == config.get_config(r["name"]).backbone_params()
        assert config.get_config(r["name"]).hidden == r["hidden"]
    assert {r["name"]: r["backbone_params"] for r in rows}["embbert"] == 357_248  # spec §2.1's counting
    assert doctest.testmod(presets).failed == 0 and doctest.testmod(config).failed == 0


def test_recipes_are_data_that_size_distillation_to_the_task():
    import doctest

    from embbert_tf import recipes

    assert recipes.DEFAULT in recipes.RECIPES and doctest.testmod(recipes).failed == 0
    for name, r in recipes.RECIPES.items():
        assert r["train"] in recipes.TRAIN_FLAGS and set(r["flags"]) <= set(recipes.TRAIN_FLAGS[r["train"]])
        assert recipes.describe(name).startswith(f"{name} (")
    # A large task gets the floors (one teacher epoch, two copies, one student epoch); a small one more
    # passes, up to the ceilings, never past them.
    assert recipes.scaled_flags("distill-fast", 10_000_000, 30_000_000) == {
        "teacher_epochs": 1, "teacher_examples": 60_000, "augment_copies": 2, "student_epochs": 1}
    assert recipes.scaled_flags("distill-fast", 3) == {"teacher_epochs": 10, "teacher_examples": 60_000,
                                                       "augment_copies": 20}
    assert recipes.scaled_flags("distill-fast", 30, 63)["student_epochs"] == 100
    assert recipes.scaled_flags("scratch", 100, 100) == {}
    # Texts as long as the recipe's keep its budgets; longer ones get proportionally fewer text passes.
    short = recipes.scaled_flags("distill-fast", 20_000, 70_000, 13.3, 18.2)
    assert recipes.scaled_flags("distill-fast", 20_000, 70_000) == short
    long = recipes.scaled_flags("distill-fast", 20_000, 70_000, 4 * 13.3, 4 * 18.2)
    assert long["teacher_examples"] == short["teacher_examples"] // 4 and long["teacher_epochs"] == 1
    assert long["student_epochs"] == round(short["student_epochs"] / 4) and long["augment_copies"] == 2
    # What the report records as sized (sized_flags) is what scaled_flags sets.
    assert set(recipes.scaled_flags("distill-fast", 100, 100)) == set(recipes.sized_flags("distill-fast"))
