"""The Python API as the README shows it: the "From Python" snippet runs as written."""
import os
import re
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def _snippet() -> str:
    readme = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()
    section = readme.split("## From Python", 1)[1]
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
