"""Shared fixtures. Tests read real datasets from $EMBBERT_DATA_DIR, defaulting to ../shared/data beside the
repository (as CI has it); a test that needs data and finds none is skipped with the reason."""
import os
import subprocess
import sys

import embbert_tf  # noqa: F401  (TF_USE_LEGACY_KERAS before TensorFlow loads)
import numpy as np
import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
_shared = os.path.join(os.path.dirname(ROOT), "shared", "data")
if not os.environ.get("EMBBERT_DATA_DIR") and os.path.isdir(_shared):
    os.environ["EMBBERT_DATA_DIR"] = _shared


@pytest.fixture(scope="session")
def data_dir():
    path = os.environ.get("EMBBERT_DATA_DIR")
    if not path or not os.path.isdir(os.path.join(path, "sst2")):
        pytest.skip("no staged datasets: set EMBBERT_DATA_DIR to a folder with sst2/ (see README)")
    return os.path.abspath(path)  # tests run programs from other folders


def random_ids(rng, batch, length, vocab, pairs=False):
    """[CLS] tokens [SEP] (tokens [SEP]) then padding, with random lengths."""
    ids = np.zeros((batch, length), np.int32)
    for b in range(batch):
        n = int(rng.integers(3, length + 1))
        row = [2] + list(rng.integers(5, vocab, size=n - 2)) + [4]
        if pairs and n > 4:
            row[int(rng.integers(2, n - 1))] = 4
        ids[b, :n] = row
    return ids


def run_module(*args, check=True):
    """python -m <args> from the repository root, as a user runs the pipelines."""
    proc = subprocess.run([sys.executable, "-m", *args], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, "PYTHONPATH": ROOT, "EMBBERT_CWD": ROOT})
    if check and proc.returncode != 0:
        raise AssertionError(f"{args} failed ({proc.returncode}):\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}")
    return proc


@pytest.fixture(scope="session")
def sst2_run(data_dir, tmp_path_factory):
    """The full pipeline, fine-tuned on the labels, on the small test config and a slice of SST-2 (about two
    minutes)."""
    out = tmp_path_factory.mktemp("run") / "sst2"
    run_module("pipelines.full", "--task", "sst2", "--recipe", "scratch", "--config", "test", "--data_dir", data_dir, "--output_dir",
               str(out), "--train_limit", "20000", "--epochs", "4", "--learning_rate", "2e-3", "--qat_epochs", "1",
               "--qat_learning_rate", "1e-4", "--sequence_length", "48", "--seed", "1",
               "--arduino", str(out.parent / "arduino_lib"))
    return out
