"""Flags shared by the pipelines, and the wrapper that turns bad input into one line and exit code 2."""
from __future__ import annotations

import os
import sys

import embbert_tf  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow loads)
from absl import flags

from embbert_tf.errors import UserError

FLAGS = flags.FLAGS

flags.DEFINE_string("task", "sst2", "Task name: sst2, cola, mrpc, stsb, rte, imdb, ag_news, emotion, "
                    "cyberbullying, limit, nlu; or a folder of your own data holding train.<tsv|csv|jsonl|"
                    "jsonl.gz|parquet> (and optionally validation.*, test.*).")
flags.DEFINE_list("text_columns", None, "With --task FOLDER: the text column, or two for pairs (default text, "
                  "sentence, or text_a,text_b).")
flags.DEFINE_string("label_column", None, "With --task FOLDER: the label column (default label).")
flags.DEFINE_enum("metric", None, ["accuracy", "f1_weighted", "mcc", "spearman"], "With --task FOLDER: the "
                  "metric that selects and reports (default accuracy; spearman for numeric labels).")
flags.DEFINE_string("config", "embbert", "Model configuration: nano, tiny, embbert, med, big, test.")
flags.DEFINE_string("data_dir", None, "Folder with <task>/<split>.<ext> files; default $EMBBERT_DATA_DIR, "
                    "else download with Hugging Face datasets.")
flags.DEFINE_string("output_dir", None, "Run directory; default runs/<task>.")
flags.DEFINE_integer("seed", 0, "Seed for data splits, initialisation, shuffling and dropout.")
flags.DEFINE_integer("max_seq_len", None, "Token sequence length; default: what 99.9% of the training "
                     "texts need, rounded up to 16, capped by the config.")
flags.DEFINE_integer("batch_size", 32, "Training batch size.")
flags.DEFINE_float("weight_decay", 0.05, "AdamW weight decay (not applied to biases and norm gains).")
flags.DEFINE_boolean("resume", False, "Continue an interrupted run in --output_dir from its last checkpoint.")
flags.DEFINE_string("vocab", None, "A vocab.txt to use instead of learning one from the training text.")
flags.DEFINE_boolean("residual", None, "Add an identity residual around each block (paper wording); "
                     "default: the config's (off, as in the reference code).")
flags.DEFINE_enum("pooling", None, ["cls", "mean"], "Classifier input: position 0 (reference) or masked mean.")
flags.DEFINE_integer("train_limit", None, "Use only this many training examples (seeded sample); for quick runs.")
flags.DEFINE_integer("eval_limit", None, "Evaluate on only the first N examples of the evaluation split.")
flags.DEFINE_integer("eval_workers", None, "Processes running the TFLM interpreter over a long evaluation set "
                     "(one example at a time per process); default: every CPU this process may use.")


def config_overrides() -> dict:
    """--residual / --pooling, where given, as EmbBERTConfig fields."""
    return {k: v for k, v in (("residual", FLAGS.residual), ("pooling", FLAGS.pooling)) if v is not None}


def eval_workers() -> int:
    from embbert_tf import micro  # TensorFlow: only the programs that evaluate need it

    return FLAGS.eval_workers or micro.default_workers()


def task():
    """The task --task names: built-in, or a folder of the user's data (with --text_columns etc.)."""
    from embbert_tf import data

    return data.get_task(FLAGS.task, FLAGS.text_columns, FLAGS.label_column, FLAGS.metric)


def task_definition(task) -> dict | None:
    """What config.json records of a folder task (None for a built-in one)."""
    from embbert_tf import data

    return data.task_to_dict(task) if task.folder else None


def output_dir() -> str:
    name = os.path.basename(os.path.normpath(FLAGS.task)) if os.sep in FLAGS.task else FLAGS.task
    return FLAGS.output_dir or os.path.join("runs", name)


# Flags that name files or folders: relative values are read against the folder the user typed the command
# in ($EMBBERT_CWD, which ./run sets before it changes to the repository root).
PATH_FLAGS = ("data_dir", "output_dir", "vocab", "pretrained", "model", "arduino", "teacher_dir", "corpus",
              "validation_corpus")


def _is_folder_task(value: str) -> bool:
    from embbert_tf import data

    return value not in data.TASKS


def resolve_paths() -> None:
    """Make relative path flags, and $EMBBERT_DATA_DIR, absolute against $EMBBERT_CWD when it is set."""
    cwd = os.environ.get("EMBBERT_CWD")
    if not cwd:
        return

    def resolve(value):
        if isinstance(value, str) and value and value.lower() != "none" and not os.path.isabs(value):
            return os.path.normpath(os.path.join(cwd, os.path.expanduser(value)))
        return value

    for name in PATH_FLAGS:
        if name in FLAGS and FLAGS[name].present:
            value = FLAGS[name].value
            FLAGS[name].value = [resolve(v) for v in value] if isinstance(value, list) else resolve(value)
    if "task" in FLAGS and _is_folder_task(FLAGS.task) and os.path.isdir(resolve(FLAGS.task)):  # --task FOLDER
        FLAGS.task = resolve(FLAGS.task)
    data_env = os.environ.get("EMBBERT_DATA_DIR")
    if data_env:
        os.environ["EMBBERT_DATA_DIR"] = resolve(data_env)


def remove_if_empty(folder: str) -> None:
    """Remove a folder a failed run created if nothing was written into it (empty sub-folders aside)."""
    import shutil

    if os.path.isdir(folder) and not any(files for _, _, files in os.walk(folder)):
        shutil.rmtree(folder)


def run_main(main):
    """absl.app.run(main), with UserErrors printed as one line (exit code 2) instead of a traceback."""
    from absl import app

    def wrapped(argv):
        from absl import logging

        logging.set_verbosity(logging.WARNING)  # TF's savers log INFO lines on every checkpoint
        if len(argv) > 1:
            raise app.UsageError(f"unexpected arguments: {' '.join(argv[1:])}")
        resolve_paths()
        out = output_dir()
        existed = os.path.exists(out)
        try:
            return main(argv)
        except UserError as e:
            if not existed:
                remove_if_empty(out)
            print(f"error: {e}", file=sys.stderr, flush=True)
            sys.exit(2)

    app.run(wrapped)
