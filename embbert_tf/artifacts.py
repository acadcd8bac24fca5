"""A run directory: everything one trained model needs, under fixed names.

    config.json        RunInfo: task, classes, model config, sequence length, seeds, training settings
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

import dataclasses
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
BACKUP_DIR = "backup"  # BackupAndRestore's per-epoch checkpoint: model, optimizer and epoch


def has_backup(directory: str) -> bool:
    """True while an interrupted run's checkpoint is there (BackupAndRestore empties it when fit ends)."""
    return any(files for _, _, files in os.walk(os.path.join(directory, BACKUP_DIR)))


def write_json(path: str, obj) -> None:
    tmp = path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(obj, f, indent=2, sort_keys=False, default=float)
        f.write("\n")
    os.replace(tmp, path)  # never leave half a file behind


def read_json(path: str):
    with open(path) as f:
        return json.load(f)


@dataclasses.dataclass
class RunInfo:
    """What a run's config.json holds: the task, the model config and how the run was trained.

    Written once by fine-tuning (or the student's training) before the model trains, and read back by
    every later stage through `Run.info`.

    Args:
        task: the task's name (a built-in task, or a data folder's name).
        num_classes: outputs of the classifier head (1 for regression).
        metric: how the task is scored ("accuracy", "mcc", "f1_weighted", "spearman").
        model: the backbone's configuration.
        sequence_length: the length the model is trained, converted and run at.
        seed: the seed of the selection split, the vocabulary and (unless `student_seed`) training.
        vocab_size: entries in vocab.txt.
        finetune: the training settings as recorded (epochs, learning rate, loss, ...).
        data: where each split came from, its size and the share of texts truncated.
        classes: class names, in output order (None for regression).
        task_definition: a folder task as `data.task_to_dict` writes it (None for built-in tasks).
        notes: what the data loader said about the splits.
        pretrained: the pre-trained backbone's folder, if the run started from one.
        student_seed: a distilled student's initialisation and batch-order seed, where it differs.
        truncation: what a too-long text keeps, "head" or "head+tail" (`tokenizer.Tokenizer`); runs
            from before it was recorded kept the head.

    Example:

    >>> info = RunInfo.from_dict({"task": "sst2", "num_classes": 2, "metric": "accuracy",
    ...     "model": {"name": "test", "vocab_size": 1024, "max_len": 64, "hidden": 32, "reduced": 8,
    ...               "num_layers": 2, "expansion": 1, "kernel_size": 4},
    ...     "sequence_length": 64, "seed": 0, "vocab_size": 900, "finetune": {}, "data": {}})
    >>> info.model.max_sequence_length, info.to_dict()["model"]["max_sequence_length"]
    (64, 64)
    """

    task: str
    num_classes: int
    metric: str
    model: EmbBERTConfig
    sequence_length: int
    seed: int
    vocab_size: int
    finetune: dict
    data: dict
    classes: list[str] | None = None
    task_definition: dict | None = None
    notes: list[str] = dataclasses.field(default_factory=list)
    pretrained: str | None = None
    student_seed: int | None = None
    truncation: str = "head"  # what runs kept before the cut was recorded; new runs record theirs

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        if self.student_seed is None:  # fine-tuned runs have none: keep their config.json as it was
            del d["student_seed"]
        return d

    @classmethod
    def from_dict(cls, d: dict) -> "RunInfo":
        fields = {f.name for f in dataclasses.fields(cls)}
        return cls(**{**{k: v for k, v in d.items() if k in fields},
                      "model": EmbBERTConfig.from_dict(d["model"])})

    def save(self, directory: str) -> None:
        write_json(os.path.join(directory, RUN_CONFIG), self.to_dict())

    @classmethod
    def load(cls, directory: str) -> "RunInfo":
        path = os.path.join(directory, RUN_CONFIG)
        if not os.path.exists(path):
            raise UserError(f"{directory} is not a model directory (no {RUN_CONFIG}); point --model at a run's output_dir")
        try:
            return cls.from_dict(read_json(path))
        except (ValueError, OSError, KeyError, TypeError) as e:
            raise UserError(f"{path} is unreadable ({type(e).__name__}: {e}); re-run the pipeline") from None


def training_seconds(directory: str) -> float | None:
    """How long a run's float model took to train, as it recorded; None until it finished training (its
    result is written last), so a resumed pipeline knows whether to train and what the training cost.

    Example:

    >>> training_seconds("/nonexistent") is None
    True
    """
    path = os.path.join(directory, FLOAT_DIR, STAGE_RESULT)
    return read_json(path).get("seconds", 0.0) if os.path.exists(path) else None


class Run:
    """Read access to a run directory, with one-line errors for what is missing."""

    def __init__(self, directory: str):
        self.directory = directory
        self.info = RunInfo.load(directory)

    def path(self, *parts: str) -> str:
        return os.path.join(self.directory, *parts)

    @property
    def config(self) -> EmbBERTConfig:
        return self.info.model

    @property
    def sequence_length(self) -> int:
        return self.info.sequence_length

    @property
    def num_classes(self) -> int:
        return self.info.num_classes

    @property
    def task(self) -> str:
        return self.info.task

    @property
    def task_spec(self):
        """The run's Task: a built-in one by name, or a folder task as the run recorded it."""
        from embbert_tf import data

        if self.info.task_definition:
            return data.task_from_dict(self.info.task_definition)
        return data.get_task(self.task)

    def tokenizer(self):
        from embbert_tf.tokenizer import Tokenizer

        if not os.path.exists(self.path(VOCAB)):
            raise UserError(f"{self.directory} has no vocab.txt; the model cannot be used without its vocabulary")
        return Tokenizer.load(self.directory, self.info.truncation)

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
