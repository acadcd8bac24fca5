"""The run directory's contract: config.json as `artifacts.RunInfo`, read back the same, old runs included."""
import dataclasses
import doctest
import json
import os

import tf_keras as keras
import pytest

from embbert_tf import artifacts
from embbert_tf.config import get_config
from embbert_tf.errors import UserError
from embbert_tf.model import build_classifier

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SHIPPED = os.path.join(ROOT, "models", "sst2")


def test_docstring_examples_run():
    from embbert_tf import export
    from embbert_tf.export import arduino

    for module in (artifacts, export, arduino):
        assert doctest.testmod(module).failed == 0, module.__name__


def test_a_run_saved_before_max_sequence_length_was_named_still_loads():
    # models/sst2 was written when the position table's size was called max_len.
    assert "max_len" in json.load(open(os.path.join(SHIPPED, artifacts.RUN_CONFIG)))["model"]
    run = artifacts.Run(SHIPPED)
    assert run.config == get_config("embbert")
    assert (run.task, run.num_classes, run.sequence_length, run.info.classes) == ("sst2", 2, 64,
                                                                                   ["negative", "positive"])
    assert run.info.student_seed is None and run.info.task_definition is None


def test_run_info_round_trips_through_config_json(tmp_path):
    info = dataclasses.replace(artifacts.RunInfo.load(SHIPPED), student_seed=3)
    info.save(tmp_path)
    saved = json.loads((tmp_path / artifacts.RUN_CONFIG).read_text())
    assert saved["model"]["max_sequence_length"] == 256 and "max_len" not in saved["model"]
    assert saved["student_seed"] == 3
    assert artifacts.RunInfo.load(tmp_path) == info
    assert "student_seed" not in dataclasses.replace(info, student_seed=None).to_dict()


def test_a_broken_config_json_is_a_one_line_error(tmp_path):
    with pytest.raises(UserError, match="not a model directory"):
        artifacts.Run(str(tmp_path))
    (tmp_path / artifacts.RUN_CONFIG).write_text('{"task": "sst2"}')
    with pytest.raises(UserError, match="unreadable .*re-run the pipeline"):
        artifacts.Run(str(tmp_path))


def test_a_keras_model_saved_with_the_old_embedder_argument_loads():
    model = build_classifier(get_config("test"), 2, 16)
    config = model.get_config()
    embedder = next(layer for layer in config["layers"] if layer["name"] == "embedder")["config"]
    embedder["max_len"] = embedder.pop("max_sequence_length")
    clone = keras.Model.from_config(config)
    assert clone.get_layer("embedder").max_sequence_length == 64
