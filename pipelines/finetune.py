"""Stage 1: text -> tokenizer -> float EmbBERT classifier, fine-tuned with model.fit.

    python -m pipelines.finetune --task sst2 --output_dir runs/sst2

Writes config.json, vocab.txt and float/ (best weights by the task's validation metric, history,
per-epoch checkpoint for --resume) into the run directory.
"""
from __future__ import annotations

import os
import time

from absl import flags

from pipelines import common
from embbert_tf import artifacts, data as D
from embbert_tf.config import get_config
from embbert_tf.errors import UserError

FLAGS = flags.FLAGS
# From random weights, how long to train depends on the dataset: SST-2 (67k texts) peaks after 4 epochs,
# Emotion (16k) was still gaining a point an epoch after 22. So from scratch training runs until the
# selection metric stops improving (--patience), after at least MIN_EPOCHS and at most MAX_EPOCHS.
MIN_EPOCHS = 6
MAX_EPOCHS = 40
flags.DEFINE_integer("epochs", None, "Fine-tuning epochs (at most, with --patience); the best by the metric on "
                     "the selection split is kept. Default 10 from a pre-trained backbone (the reference), "
                     f"{MAX_EPOCHS} from scratch.")
flags.DEFINE_integer("patience", 3, "Stop when the metric on the selection split has not improved for this many "
                     f"epochs (0: never); from scratch, not before epoch {MIN_EPOCHS}.")
flags.DEFINE_float("learning_rate", None, "AdamW (peak) learning rate. Default 1e-4 from a pre-trained backbone "
                   "(the reference), 1e-3 from scratch (1e-4 is too slow there and 3e-3 diverges).")
flags.DEFINE_enum("lr_schedule", "constant", ["constant", "cosine"], "constant (the reference code) or "
                  "linear warm-up then cosine decay to 0.")
flags.DEFINE_string("pretrained", None, "Pre-trained backbone (pipelines.pretrain output, e.g. models/pretrained) "
                    "to start from, with its vocabulary. Default: none, since the shipped 11,000-step backbone "
                    "fine-tunes worse on SST-2 than training from scratch (models/pretrained/README.md).")
flags.DEFINE_boolean("from_scratch", False, "Start from random weights and a vocabulary learned from the task, "
                     "even with --pretrained.")


def pretrained_dir() -> str | None:
    """The backbone to start from, or None (from scratch)."""
    F = FLAGS
    if F.from_scratch or not F.pretrained:
        return None
    if not os.path.exists(os.path.join(F.pretrained, "backbone.weights.h5")):
        raise UserError(f"--pretrained {F.pretrained} holds no backbone.weights.h5; pass a pipelines.pretrain "
                        "output directory or --from_scratch")
    return F.pretrained


def model_overrides(pretrained: str | None) -> dict:
    """Config fields from --residual / --pooling; a backbone's block form (residual or not) is kept unless
    --residual / --noresidual says otherwise, since its weights were trained in that form."""
    overrides = common.config_overrides()
    if pretrained and FLAGS.residual is None:
        overrides["residual"] = artifacts.read_json(os.path.join(pretrained, "config.json"))["model"]["residual"]
    return overrides


def training_defaults(pretrained: str | None) -> tuple[int, float]:
    """(epochs, learning rate) from the flags, else the defaults for the starting point."""
    epochs = FLAGS.epochs or (10 if pretrained else MAX_EPOCHS)
    lr = FLAGS.learning_rate or (1e-4 if pretrained else 1e-3)
    return epochs, lr


def run(
    output_dir: str,
    task_name: str = "sst2",
    config_name: str = "embbert",
    data_dir: str | None = None,
    seed: int = 0,
    max_seq_len: int | None = None,
    epochs: int = 10,
    batch_size: int = 32,
    learning_rate: float = 1e-3,
    weight_decay: float = 0.05,
    resume: bool = False,
    vocab: str | None = None,
    train_limit: int | None = None,
    config_overrides: dict | None = None,
    lr_schedule: str = "constant",
    pretrained: str | None = None,
    verbose: int = 1,
    patience: int = 3,
) -> dict:
    task = D.get_task(task_name) if isinstance(task_name, str) else task_name
    try:
        config = get_config(config_name, **(config_overrides or {}))
    except KeyError as e:
        raise UserError(str(e).strip("'\"")) from None
    data = D.load_task(task, data_dir, seed, train_limit=train_limit)
    from embbert_tf import inputs, train as T  # TensorFlow: imported once the flags and the task are checked
    from embbert_tf.model import build_classifier
    from embbert_tf.tokenizer import Tokenizer, choose_sequence_length, vocabulary_note

    T.set_seed(seed)
    os.makedirs(output_dir, exist_ok=True)

    vocab_file = os.path.join(output_dir, "vocab.txt")
    started = time.time()
    if vocab:
        tokenizer = Tokenizer.load(vocab)
    elif pretrained:  # one vocabulary from pre-training to the device
        tokenizer = Tokenizer.load(pretrained)
    elif resume and os.path.exists(vocab_file):
        tokenizer = Tokenizer.load(output_dir)
    else:
        print(f"[finetune] learning a WordPiece vocabulary of at most {config.vocab_size} entries from "
              f"{len(data.train)} texts")
        tokenizer = Tokenizer.learn([t for col in data.train.texts for t in col], config.vocab_size)
        print(f"[finetune] {vocabulary_note(tokenizer.vocab_size, config.vocab_size)}")
    if tokenizer.vocab_size > config.vocab_size:
        raise UserError(f"vocabulary has {tokenizer.vocab_size} entries but config {config.name} holds "
                        f"{config.vocab_size}; use a smaller vocab or a bigger config")
    tokenizer.save(output_dir)
    vocab_seconds = time.time() - started

    if max_seq_len is None:
        _, lengths = tokenizer.encode_columns(data.train.texts, 8)
        length = choose_sequence_length(lengths, config.max_len)
    elif not 3 <= max_seq_len <= config.max_len:
        raise UserError(f"--max_seq_len must be between 3 and config {config.name}'s {config.max_len}")
    else:
        length = max_seq_len
    train = inputs.encode(tokenizer, data.train, length)
    val = inputs.encode(tokenizer, data.validation, length)
    print(f"[finetune] {task.name}: {len(train.ids)} train / {len(val.ids)} validation examples, "
          f"sequence length {length} ({train.truncated:.2%} of training texts truncated)")

    info = {
        "task": task.name,
        "task_definition": common.task_definition(task),
        "classes": list(task.classes) if task.classes else None,
        "num_classes": task.num_classes,
        "metric": task.metric,
        "model": config.to_dict(),
        "sequence_length": length,
        "seed": seed,
        "vocab_size": tokenizer.vocab_size,
        "finetune": {"epochs": epochs, "patience": patience, "batch_size": batch_size,
                     "learning_rate": learning_rate, "lr_schedule": lr_schedule,
                     "weight_decay": weight_decay, "optimizer": "AdamW", "vocab_seconds": round(vocab_seconds, 1)},
        "data": {
            "train": {"source": data.train.source, "examples": len(train.ids), "truncated": train.truncated},
            "validation": {"source": data.validation.source, "examples": len(val.ids), "truncated": val.truncated},
            "evaluation": {"split": task.eval_split, "source": data.evaluation.source,
                           "examples": len(data.evaluation)},
        },
        "notes": data.notes,
        "pretrained": pretrained,
    }
    artifacts.write_json(os.path.join(output_dir, artifacts.RUN_CONFIG), info)

    model = build_classifier(config, task.num_classes, length)
    if pretrained:
        from pipelines.pretrain import load_backbone

        backbone = load_backbone(pretrained, model)
        if backbone["model"] != config.to_dict():
            raise UserError(f"the backbone in {pretrained} is config {backbone['model']['name']}, not {config.name}; "
                            "pass the matching --config or --from_scratch")
        print(f"[finetune] starting from the pre-trained backbone in {pretrained}")
    steps = epochs * -(-len(train.ids) // batch_size)
    T.compile_for_task(model, task.is_regression, T.learning_rate_schedule(learning_rate, lr_schedule, steps),
                       weight_decay)
    started = time.time()
    result = T.fit(model, train.ids, train.labels, val.ids, val.labels,
                   directory=os.path.join(output_dir, artifacts.FLOAT_DIR), metric=task.metric,
                   regression=task.is_regression, epochs=epochs, batch_size=batch_size, seed=seed,
                   resume=resume, verbose=verbose, extra_callbacks=T.early_stopping(task.metric, patience, 0 if pretrained else MIN_EPOCHS))
    result["seconds"] = round(time.time() - started, 1)
    artifacts.write_json(os.path.join(output_dir, artifacts.FLOAT_DIR, "result.json"),
                         {k: v for k, v in result.items() if k != "history"})
    print(f"[finetune] best epoch {result['best_epoch'] + 1}: validation {task.metric} {result['best_score']:.4f}")
    return info


def main(argv):
    F = FLAGS
    pretrained = pretrained_dir()
    epochs, lr = training_defaults(pretrained)
    run(common.output_dir(), common.task(), F.config, F.data_dir, F.seed, F.max_seq_len, epochs, F.batch_size, lr,
        F.weight_decay, F.resume, F.vocab, F.train_limit, model_overrides(pretrained), F.lr_schedule, pretrained,
        patience=F.patience)


if __name__ == "__main__":
    common.run_main(main)
