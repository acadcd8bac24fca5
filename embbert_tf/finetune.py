"""Fine-tuning a classifier on a task's labels: text -> vocabulary -> float EmbBERT, into a run directory.

    run/config.json   what the run is (task, model config, sequence length, seeds, training settings)
    run/vocab.txt     its vocabulary
    run/float/        the best epoch's weights (by the task metric on the selection split), history,
                      and a per-epoch checkpoint for resuming

Example:

>>> from embbert_tf import data
>>> from embbert_tf.finetune import FinetuneSettings, train_classifier
>>> settings = FinetuneSettings.for_start(config="test", epochs=1, train_limit=64, verbose=0)
>>> info = train_classifier("/tmp/embbert_doc_run", data.get_task("sst2"), settings)   # doctest: +SKIP
"""
from __future__ import annotations

import dataclasses
import os
import time

from embbert_tf import artifacts, data
from embbert_tf.config import TRUNCATION, EmbBERTConfig, get_config
from embbert_tf.errors import UserError

# From random weights, how long to train depends on the dataset: SST-2 (67k texts) peaks after 4 epochs,
# Emotion (16k) was still gaining a point an epoch after 22. So from scratch training runs until the
# selection metric stops improving (patience), after at least MIN_EPOCHS and at most MAX_EPOCHS.
MIN_EPOCHS = 6
MAX_EPOCHS = 40


@dataclasses.dataclass(kw_only=True)
class FinetuneSettings:
    """How `finetune` trains; `for_start` fills in the defaults that depend on the starting point.

    Args:
        config: model configuration name (see `embbert_tf.config.PRESETS`).
        config_overrides: EmbBERTConfig fields to change (e.g. `{"pooling": "mean"}`).
        seed: seeds the selection split, the initialisation, shuffling and dropout.
        sequence_length: tokens per input; None: what 99.9 % of the training texts need.
        epochs: at most this many epochs; `patience` epochs without a better selection score stop early,
            not before `min_epochs`.
        batch_size, learning_rate, lr_schedule ("constant" or "cosine"), weight_decay: AdamW training.
        truncation: what a text longer than `sequence_length` keeps: "head" (its start) or "head+tail"
            (its first quarter and its end; for reviews). The device cuts the same way.
        vocab: a vocab.txt to use instead of learning one.
        pretrained: a pre-trained backbone folder (`embbert_tf.pretrain` output) to start from, with its
            vocabulary; None: from scratch.
        train_limit: use a seeded sample of this many training examples.
        resume: continue an interrupted run from its last epoch.
        verbose: Keras progress (0 silent, 1 bar, 2 a line an epoch).
    """

    config: str = "embbert"
    config_overrides: dict = dataclasses.field(default_factory=dict)
    seed: int = 0
    sequence_length: int | None = None
    epochs: int = MAX_EPOCHS
    patience: int = 3
    min_epochs: int = MIN_EPOCHS
    batch_size: int = 32
    learning_rate: float = 1e-3
    lr_schedule: str = "constant"
    weight_decay: float = 0.05
    truncation: str = TRUNCATION
    vocab: str | None = None
    pretrained: str | None = None
    train_limit: int | None = None
    resume: bool = False
    verbose: int = 1

    @classmethod
    def for_start(cls, pretrained: str | None = None, *, epochs: int | None = None,
                  learning_rate: float | None = None, **settings) -> "FinetuneSettings":
        """Settings with the defaults of the starting point: from a pre-trained backbone 10 epochs at 1e-4
        (the reference), its block form kept; from scratch up to 40 epochs (at least 6) at 1e-3 (1e-4 is too
        slow there and 3e-3 diverges)."""
        overrides = dict(settings.pop("config_overrides", None) or {})
        if pretrained:
            if not os.path.exists(os.path.join(pretrained, "backbone.weights.h5")):
                raise UserError(f"{pretrained} holds no backbone.weights.h5; pass a pretrain output directory "
                                "(--pretrained) or start from scratch")
            # Its weights were trained in one block form: keep it unless asked otherwise.
            overrides.setdefault("residual", artifacts.read_json(os.path.join(pretrained, artifacts.RUN_CONFIG))
                                 ["model"]["residual"])
        return cls(pretrained=pretrained, config_overrides=overrides,
                   epochs=epochs or (10 if pretrained else MAX_EPOCHS),
                   learning_rate=learning_rate or (1e-4 if pretrained else 1e-3),
                   min_epochs=0 if pretrained else MIN_EPOCHS, **settings)


def run_info(task: data.Task, config, task_data: data.TaskData, *, sequence_length: int, seed: int, vocab_size: int,
             training: dict, train_examples: int, train_truncated: float, validation,
             truncation: str, student_seed: int | None = None,
             pretrained: str | None = None) -> artifacts.RunInfo:
    """What config.json records of a run (read back by `artifacts.Run`)."""
    return artifacts.RunInfo(
        task=task.name,
        task_definition=data.task_to_dict(task) if task.folder else None,
        classes=list(task.classes) if task.classes else None,
        num_classes=task.num_classes,
        metric=task.metric,
        model=config,
        sequence_length=sequence_length,
        seed=seed,
        student_seed=student_seed,
        vocab_size=vocab_size,
        finetune=training,
        data={
            "train": {"source": task_data.train.source, "examples": train_examples, "truncated": train_truncated},
            "validation": {"source": task_data.validation.source, "examples": len(validation.ids),
                           "truncated": validation.truncated},
            "evaluation": {"split": task.eval_split, "source": task_data.evaluation.source,
                           "examples": len(task_data.evaluation)},
        },
        notes=task_data.notes,
        pretrained=pretrained,
        truncation=truncation,
    )


def sequence_length_for(tokenizer, texts, requested: int | None, config) -> int:
    """`requested`, checked against the config's position table, else what 99.9 % of `texts` need."""
    from embbert_tf.tokenizer import choose_sequence_length

    if requested is None:
        _, lengths = tokenizer.encode_columns(texts, 8)
        return choose_sequence_length(lengths, config.max_sequence_length)
    if not 3 <= requested <= config.max_sequence_length:
        raise UserError(f"--sequence_length must be between 3 and config {config.name}'s {config.max_sequence_length}")
    return requested


def train_classifier(output_dir: str, task: data.Task, settings: FinetuneSettings = FinetuneSettings(), *,
             data_dir: str | None = None) -> dict:
    """Fine-tune a float classifier on `task`, writing the run directory; returns its `artifacts.RunInfo`."""
    s = settings
    try:
        config = get_config(s.config, **s.config_overrides)
    except KeyError as e:
        raise UserError(str(e).strip("'\"")) from None
    task_data = data.load_task(task, data_dir, s.seed, train_limit=s.train_limit)
    from embbert_tf import train  # TensorFlow: imported once the settings and the task are checked
    from embbert_tf.model import build_classifier
    from embbert_tf.pretrain import load_backbone
    from embbert_tf.tokenizer import run_vocabulary

    train.set_seed(s.seed)
    os.makedirs(output_dir, exist_ok=True)
    started = time.time()
    tokenizer = run_vocabulary(output_dir, lambda: [t for col in task_data.train.texts for t in col], config.vocab_size,
                               vocab=s.vocab or s.pretrained, resume=s.resume, stage="finetune",
                               source=f"{len(task_data.train)} texts",  # with a backbone, its vocabulary
                               truncation=s.truncation)
    vocab_seconds = time.time() - started
    length = sequence_length_for(tokenizer, task_data.train.texts, s.sequence_length, config)
    train_set = tokenizer.encode_split(task_data.train, length)
    val = tokenizer.encode_split(task_data.validation, length)
    print(f"[finetune] {task.name}: {len(train_set.ids)} train / {len(val.ids)} validation examples, "
          f"sequence length {length} ({train_set.truncated:.2%} of training texts truncated)")
    info = run_info(task, config, task_data, sequence_length=length, seed=s.seed, vocab_size=tokenizer.vocab_size,
                    training={"epochs": s.epochs, "patience": s.patience, "batch_size": s.batch_size,
                              "learning_rate": s.learning_rate, "lr_schedule": s.lr_schedule,
                              "weight_decay": s.weight_decay, "optimizer": "AdamW",
                              "vocab_seconds": round(vocab_seconds, 1)},
                    train_examples=len(train_set.ids), train_truncated=train_set.truncated, validation=val,
                    pretrained=s.pretrained, truncation=s.truncation)
    info.save(output_dir)

    model = build_classifier(config, task.num_classes, length)
    if s.pretrained:
        backbone = load_backbone(s.pretrained, model)
        if EmbBERTConfig.from_dict(backbone["model"]) != config:
            raise UserError(f"the backbone in {s.pretrained} is config {backbone['model']['name']}, not "
                            f"{config.name}; pass the matching --config or --from_scratch")
        print(f"[finetune] starting from the pre-trained backbone in {s.pretrained}")
    steps = s.epochs * -(-len(train_set.ids) // s.batch_size)
    train.compile_for_task(model, task.is_regression,
                           train.learning_rate_schedule(s.learning_rate, s.lr_schedule, steps),
                           s.weight_decay)
    started = time.time()
    result = train.fit(model, train_set.ids, train_set.labels, val.ids, val.labels,
                       directory=os.path.join(output_dir, artifacts.FLOAT_DIR), metric=task.metric,
                       regression=task.is_regression, epochs=s.epochs, batch_size=s.batch_size, seed=s.seed,
                       resume=s.resume, verbose=s.verbose,
                       extra_callbacks=train.early_stopping(task.metric, s.patience, s.min_epochs))
    result["seconds"] = round(time.time() - started, 1)
    artifacts.write_json(os.path.join(output_dir, artifacts.FLOAT_DIR, artifacts.STAGE_RESULT),
                         {k: v for k, v in result.items() if k != "history"})
    print(f"[finetune] best epoch {result['best_epoch'] + 1}: selection {task.metric} {result['best_score']:.4f}")
    return info
