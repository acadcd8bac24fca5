"""The package as pip installs it: the wheel carries the C++ application's sources and the code templates,
and the programs export an app from outside the checkout."""
import os
import shutil
import subprocess
import sys
import zipfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_the_wheel_installs_and_exports_an_app_from_outside_the_checkout(tmp_path):
    source = tmp_path / "source"  # a copy, so the build leaves nothing in the checkout
    for name in ("embbert_tf", "pipelines", "tflm_app"):
        shutil.copytree(os.path.join(ROOT, name), source / name,
                        ignore=shutil.ignore_patterns("__pycache__", "build*"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(os.path.join(ROOT, name), source / name)
    proc = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q", "-w",
                           str(tmp_path / "dist"), str(source)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    wheel = next((tmp_path / "dist").glob("embbert_tf-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    for path in ("embbert_tf/tflm_app/src/classifier.cc", "embbert_tf/tflm_app/CMakeLists.txt",
                 "embbert_tf/tflm_app/app/main.cc", "embbert_tf/export/templates/model_data.cc.tmpl",
                 "embbert_tf/export/templates/arduino/example.ino.tmpl", "pipelines/export.py"):
        assert path in names, f"{path} is not in the wheel"

    site = tmp_path / "site"
    proc = subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-deps", "--target", str(site),
                           str(wheel)], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {k: v for k, v in os.environ.items() if k not in ("EMBBERT_CWD", "PYTHONPATH")}
    env["PYTHONPATH"] = str(site)
    where = subprocess.run([sys.executable, "-c", "import embbert_tf, pipelines.export; print(embbert_tf.__file__)"],
                           cwd=elsewhere, capture_output=True, text=True, env=env)
    assert where.stdout.strip().startswith(str(site)), where.stderr[-2000:]
    proc = subprocess.run([sys.executable, "-m", "pipelines.export", "--model", os.path.join(ROOT, "models", "sst2"),
                           "--output_dir", "app", "--arduino", "lib"], cwd=elsewhere, capture_output=True, text=True,
                          env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert (elsewhere / "app" / "CMakeLists.txt").exists() and (elsewhere / "app" / "src" / "classifier.cc").exists()
    assert (elsewhere / "app" / "generated" / "model_data.cc").exists()
    assert list((elsewhere / "lib").glob("EmbBERT_*/src/classifier.cc"))
