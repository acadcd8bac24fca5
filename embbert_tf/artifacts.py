"""A run directory: everything one trained model needs, under fixed names.

    config.json        model config, task, classes, sequence length, seed, training settings
    vocab.txt          the WordPiece vocabulary (the model is useless without it)
    float/             float fine-tuning: best_weights.h5, result.json, history.csv, per-epoch backup
    qat/               quantization-aware training, same layout
    model_ptq.tflite   post-training-quantized int8 model
    model_qat.tflite   QAT int8 model
    model_int8.tflite  the int8 model shipped (the better of the two on the selection split)
    quantize.json      how it was chosen
    tflm_app/, arduino/   the exported C++ application (export.json: its bytes) and Arduino library
    report.json, report.md, *.png

Every name is a constant here, and `Run` reads them.
"""
from __future__ import annotations

import json
import os

from embbert_tf.config import EmbBERTConfig
from embbert_tf.errors import UserError

RUN_CONFIG = "config.json"
VOCAB = "vocab.txt"  # Tokenizer.save / .load
STAGE_RESULT = "result.json"  # in float/ and qat/: best epoch, score, seconds
REPORT = "report.json"
EXPORT_SUMMARY = "export.json"  # in tflm_app/
INT8_MODEL = "model_int8.tflite"
PTQ_MODEL = "model_ptq.tflite"
QAT_MODEL = "model_qat.tflite"
FLOAT_DIR = "float"
QAT_DIR = "qat"
QUANTIZE_RESULT = "quantize.json"
APP_DIR = "tflm_app"
ARDUINO_DIR = "arduino"
# The best epoch's weights in float/ and qat/. Legacy HDF5 (layer weights only): the ".weights.h5" format
# also stores metric variables, which do not exist yet when the starting point of QAT is saved.
WEIGHTS = "best_weights.h5"


def write_json(path: str, obj) -> None:
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(obj, f, indent=2, sort_keys=False, default=float)
        f.write("\n")
    os.replace(tmp, path)  # never leave half a file behind


def read_json(path: str):
    with open(path) as f:
        return json.load(f)


class Run:
    """Read access to a run directory, with one-line errors for what is missing."""

    def __init__(self, directory: str):
        self.directory = directory
        path = os.path.join(directory, RUN_CONFIG)
        if not os.path.exists(path):
            raise UserError(f"{directory} is not a model directory (no {RUN_CONFIG}); point --model at a run's output_dir")
        try:
            self.info = read_json(path)
        except (ValueError, OSError) as e:
            raise UserError(f"{path} is unreadable ({e}); re-run the pipeline") from None

    def path(self, *parts: str) -> str:
        return os.path.join(self.directory, *parts)

    @property
    def config(self) -> EmbBERTConfig:
        return EmbBERTConfig.from_dict(self.info["model"])

    @property
    def sequence_length(self) -> int:
        return int(self.info["sequence_length"])

    @property
    def num_classes(self) -> int:
        return int(self.info["num_classes"])

    @property
    def task(self) -> str:
        return self.info["task"]

    @property
    def task_spec(self):
        """The run's Task: a built-in one by name, or a folder task as the run recorded it."""
        from embbert_tf import data

        if self.info.get("task_definition"):
            return data.task_from_dict(self.info["task_definition"])
        return data.get_task(self.task)

    def tokenizer(self):
        from embbert_tf.tokenizer import Tokenizer

        if not os.path.exists(self.path(VOCAB)):
            raise UserError(f"{self.directory} has no vocab.txt; the model cannot be used without its vocabulary")
        return Tokenizer.load(self.directory)

    def trained(self) -> bool:
        """Whether the float model finished training (its result is written last)."""
        return os.path.exists(self.path(FLOAT_DIR, STAGE_RESULT))

    def stage_seconds(self, subdir: str) -> float | None:
        """How long a finished training stage (float/, qat/) took, as it recorded."""
        path = self.path(subdir, STAGE_RESULT)
        return read_json(path).get("seconds") if os.path.exists(path) else None

    def tflite(self, name: str = INT8_MODEL) -> bytes:
        path = self.path(name)
        if not os.path.exists(path):
            raise UserError(f"{path} does not exist; run pipelines.quantize (or pipelines.full) first")
        with open(path, "rb") as f:
            return f.read()

    def float_model(self, subdir: str = FLOAT_DIR, batch_size=None, sequence_length: int | None = None):
        from embbert_tf.model import build_classifier

        weights = self.path(subdir, WEIGHTS)
        if not os.path.exists(weights):
            raise UserError(f"{weights} does not exist; run pipelines.finetune first")
        model = build_classifier(self.config, self.num_classes, sequence_length or self.sequence_length, batch_size)
        model.load_weights(weights)
        return model

    def qat_model(self, sequence_length: int | None = None):
        """The quantization-aware model (tfmot fake-quant), at any sequence length up to the config's."""
        from embbert_tf.model import build_classifier
        from embbert_tf.quantize import quantize_model

        weights = self.path(QAT_DIR, WEIGHTS)
        if not os.path.exists(weights):
            raise UserError(f"{weights} does not exist; run pipelines.quantize with --qat_epochs > 0")
        model = quantize_model(build_classifier(self.config, self.num_classes, sequence_length or self.sequence_length))
        model.load_weights(weights)
        return model
