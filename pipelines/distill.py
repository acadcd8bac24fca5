"""Text to a distilled, quantized, evaluated EmbBERT: the pre-trained teacher labels a transfer set, the
student learns from its logits, then int8 and TFLM exactly as `pipelines.full`.

    python -m pipelines.distill --task sst2 --in_domain 250000 --output_dir runs/sst2_distill

Stages (each resumes with --resume): teacher (fine-tune all-MiniLM-L6-v2 on the task, build and label
the transfer set: pipelines.teacher, which can run alone on a GPU machine), student (EmbBERT on the
teacher's logits, best epoch by the task metric on the selection split), quantize, evaluate, export,
report. The teacher never reaches the device.
"""
from __future__ import annotations

import os
import time

import numpy as np
from absl import flags

from pipelines import common, full, teacher as teacher_program  # noqa: F401  (teacher's flags)
from embbert_tf import artifacts, data as D, transfer

FLAGS = flags.FLAGS
flags.DEFINE_integer("student_epochs", 10, "Student epochs over the transfer set (at most, with --patience).")
flags.DEFINE_integer("student_batch_size", 256, "Student batch size (batches are length buckets).")
flags.DEFINE_float("student_learning_rate", 1e-3, "Student AdamW peak learning rate.")
flags.DEFINE_enum("init_embeddings", "random", ["random", "teacher"], "The student's token table: random, or "
                  "the teacher's WordPiece embeddings averaged over each of our tokens' pieces, PCA to its width.")
flags.DEFINE_integer("student_seed", None, "Seed of the student's initialisation and batch order (default: --seed, "
                     "which also fixes the selection split and the transfer set, so seeds share one teacher).")
flags.DEFINE_float("gold_weight", 0.0, "Weight of the gold-label loss beside the MSE to the teacher's logits, on "
                   "the texts that have a gold label (Tang et al.: 0).")


def student_stage(out: str, task: D.Task, config_name: str, *, data_dir, seed: int, sequence_length: int | None,
                  epochs: int, batch_size: int, learning_rate: float, weight_decay: float, gold_weight: float,
                  patience: int, resume: bool, config_overrides: dict, init_embeddings: str = "random",
                  teacher_dir: str | None = None, student_seed: int | None = None) -> dict:
    """Train the student on the labelled transfer set; writes the run directory as pipelines.finetune does.

    `seed` fixes the data (selection split, transfer set); `student_seed` (default `seed`) the student's
    initialisation and batch order, so several students can learn from one teacher's logits."""
    from embbert_tf import distill, inputs, train as T  # TensorFlow: imported once the flags and the task are checked
    from embbert_tf.config import get_config
    from embbert_tf.model import build_classifier
    from embbert_tf.tokenizer import Tokenizer, choose_sequence_length, vocabulary_note

    config = get_config(config_name, **config_overrides)
    student_seed = seed if student_seed is None else student_seed
    T.set_seed(student_seed)
    data = D.load_task(task, data_dir, seed)
    labelled, logits = transfer.load_labelled(out)
    # The vocabulary is learned from every real text of the transfer set (the training split and the
    # unlabelled in-domain text; augmented copies add no new words).
    real = labelled.origin != transfer.ORIGINS.index("augmented")
    vocab_texts = [t for col in labelled.texts for t, keep in zip(col, real) if keep]
    started = time.time()
    if resume and os.path.exists(os.path.join(out, "vocab.txt")):
        tokenizer = Tokenizer.load(out)
    else:
        print(f"[distill] learning a WordPiece vocabulary of at most {config.vocab_size} entries from "
              f"{len(vocab_texts)} texts")
        tokenizer = Tokenizer.learn(vocab_texts, config.vocab_size)
        print(f"[distill] {vocabulary_note(tokenizer.vocab_size, config.vocab_size)}")
    tokenizer.save(out)
    vocab_seconds = time.time() - started
    if sequence_length is None:
        _, lengths = tokenizer.encode_columns(data.train.texts, 8)
        sequence_length = choose_sequence_length(lengths, config.max_len)
    ids = distill.encode_transfer(tokenizer, labelled.texts, sequence_length)
    y = distill.targets(logits, labelled.gold)
    val = inputs.encode(tokenizer, data.validation, sequence_length)
    print(f"[distill] student {config.name}: {len(ids)} transfer texts, selection {len(val.ids)}, "
          f"sequence length {sequence_length}")
    info = {
        "task": task.name, "task_definition": common.task_definition(task),
        "classes": list(task.classes) if task.classes else None,
        "num_classes": task.num_classes, "metric": task.metric, "model": config.to_dict(),
        "sequence_length": sequence_length, "seed": seed, "student_seed": student_seed,
        "vocab_size": tokenizer.vocab_size,
        "finetune": {"epochs": epochs, "patience": patience, "batch_size": batch_size,
                     "learning_rate": learning_rate, "lr_schedule": "constant", "weight_decay": weight_decay,
                     "optimizer": "AdamW", "vocab_seconds": round(vocab_seconds, 1),
                     "loss": f"MSE to the teacher's logits + {gold_weight} x gold-label loss",
                     "init_embeddings": init_embeddings},
        "data": {
            "train": {"source": f"transfer set ({len(ids)} texts: {data.train.source}, augmented, in-domain)",
                      "examples": len(ids), "truncated": 0.0},
            "validation": {"source": data.validation.source, "examples": len(val.ids), "truncated": val.truncated},
            "evaluation": {"split": task.eval_split, "source": data.evaluation.source,
                           "examples": len(data.evaluation)},
        },
        "notes": data.notes, "pretrained": None,
    }
    artifacts.write_json(os.path.join(out, artifacts.RUN_CONFIG), info)
    model = build_classifier(config, task.num_classes, None)  # any width: trained on length buckets
    if init_embeddings == "teacher":
        from embbert_tf import teacher

        table = distill.teacher_token_table(tokenizer.vocab, teacher_dir or teacher.pretrained_dir(), config.reduced)
        embedder = model.get_layer("embedder")
        embedder.token_table.assign(np.pad(table, ((0, config.vocab_size - len(table)), (0, 0))))
        print("[distill] token table initialised from the teacher's WordPiece embeddings")
    model.compile(optimizer=T.make_optimizer(learning_rate, weight_decay),
                  loss=distill.DistillationLoss(task.num_classes, gold_weight))
    dataset = distill.bucketed_dataset(ids, y, batch_size, student_seed)
    started = time.time()
    result = T.fit(model, None, None, val.ids, val.labels, directory=os.path.join(out, artifacts.FLOAT_DIR),
                   metric=task.metric, regression=task.is_regression, epochs=epochs, batch_size=batch_size,
                   seed=student_seed, resume=resume, dataset=dataset,
                   extra_callbacks=T.early_stopping(task.metric, patience, 0))
    result["seconds"] = round(time.time() - started, 1)
    artifacts.write_json(os.path.join(out, artifacts.FLOAT_DIR, "result.json"),
                         {k: v for k, v in result.items() if k != "history"})
    print(f"[distill] best epoch {result['best_epoch'] + 1}: selection {task.metric} {result['best_score']:.4f}")
    return info


def main(argv):
    F = FLAGS
    out = common.output_dir()
    task = common.task()
    timings = {}
    started = time.time()
    teacher = transfer.teacher_stage(task, out, **teacher_program.settings())
    timings["teacher"] = round(time.time() - started, 1)
    started = time.time()
    if not (F.resume and os.path.exists(os.path.join(out, artifacts.FLOAT_DIR, "result.json"))):
        student_stage(out, task, F.config, data_dir=F.data_dir, seed=F.seed, sequence_length=F.max_seq_len,
                      epochs=F.student_epochs, batch_size=F.student_batch_size,
                      learning_rate=F.student_learning_rate, weight_decay=F.weight_decay,
                      gold_weight=F.gold_weight, patience=F.patience, resume=F.resume,
                      config_overrides=common.config_overrides(), init_embeddings=F.init_embeddings,
                      teacher_dir=F.teacher_dir, student_seed=F.student_seed)
    timings["student"] = round(time.time() - started, 1)
    full.finish(out, timings, extra={"teacher": teacher})


if __name__ == "__main__":
    common.run_main(main)
