"""The teacher's side of distillation: the transfer set and its teacher logits, in a run directory.

    <run>/transfer/texts.jsonl.gz   the transfer set: text columns, gold label (-1: none), origin
    <run>/transfer/meta.json        its recipe, size and fingerprint
    <run>/teacher/                  the fine-tuned teacher (teacher.weights.h5, history.csv, result.json)
    <run>/teacher/logits/           its logits for the transfer set, cached chunk by chunk

Nothing here imports TensorFlow (the teacher is Keras 3), so the same stage runs on a GPU machine that
has only JAX or PyTorch; the student side is `embbert_tf.distill`. Every text comes from the task's
training split (less the selection split) or from unlabelled in-domain text; never from a split that is
scored.
"""
from __future__ import annotations

import dataclasses
import gzip
import hashlib
import json
import os
import shutil
import time

import numpy as np

from embbert_tf import augment, data
from embbert_tf.errors import UserError

TRANSFER_DIR = "transfer"
TEACHER_DIR = "teacher"
TEXTS = "texts.jsonl.gz"
ORIGINS = ("train", "augmented", "in_domain")
# Unlabelled in-domain text: SST-2's snippets are movie reviews, like IMDb's (training reviews only).
IN_DOMAIN = {"sst2": ("imdb", "train")}


@dataclasses.dataclass
class TransferSet:
    texts: list[list[str]]  # one list per text column
    gold: np.ndarray  # int64 class (or float score), -1 / nan where the text has no label
    origin: np.ndarray  # index into ORIGINS

    def __len__(self):
        return len(self.gold)

    def fingerprint(self) -> str:
        h = hashlib.sha256()
        for col in self.texts:
            h.update("\n".join(col).encode())
        return h.hexdigest()[:16]

    def save(self, directory: str) -> None:
        os.makedirs(directory, exist_ok=True)
        tmp = os.path.join(directory, TEXTS + ".tmp")
        with gzip.open(tmp, "wt", encoding="utf-8") as f:
            for i in range(len(self)):
                f.write(json.dumps({"texts": [c[i] for c in self.texts], "gold": self.gold[i].item(),
                                    "origin": ORIGINS[self.origin[i]]}) + "\n")
        os.replace(tmp, os.path.join(directory, TEXTS))

    @classmethod
    def load(cls, directory: str) -> "TransferSet":
        path = os.path.join(directory, TEXTS)
        if not os.path.exists(path):
            raise UserError(f"{directory} holds no transfer set ({TEXTS}); run the teacher stage first")
        rows = [json.loads(line) for line in gzip.open(path, "rt", encoding="utf-8")]
        columns = len(rows[0]["texts"])
        return cls([[r["texts"][c] for r in rows] for c in range(columns)],
                   np.array([r["gold"] for r in rows]), np.array([ORIGINS.index(r["origin"]) for r in rows]))


def build_transfer_set(train: data.Split, *, copies: int = 20, pairings: bool = True, in_domain: int = 0,
                       data_dir: str | None = None, seed: int = 0) -> TransferSet:
    """The training texts with their labels, `copies` augmented draws of each (Tang et al.), new pairings
    of a pair task's texts (`augment.pair_texts`, when `pairings`), and up to `in_domain` unlabelled
    in-domain sentences where the task has a source of them (IN_DOMAIN)."""
    regression = train.task.is_regression
    texts = [list(c) for c in train.texts]
    gold = [np.asarray(train.labels, np.float64 if regression else np.int64)]
    origin = [np.zeros(len(train), np.int64)]

    def add_unlabelled(columns: list[list[str]], where: str):
        for col, extra in zip(texts, columns):
            col.extend(extra)
        gold.append(np.full(len(columns[0]), np.nan if regression else -1))
        origin.append(np.full(len(columns[0]), ORIGINS.index(where)))

    if copies:
        add_unlabelled(augment.augment_texts(train.texts, copies=copies, seed=seed), "augmented")
    if pairings and len(texts) == 2:
        add_unlabelled(augment.pair_texts(train.texts, seed=seed), "augmented")
    if in_domain and train.task.name in IN_DOMAIN and len(texts) == 1:
        name, split = IN_DOMAIN[train.task.name]
        try:
            documents = data.load_split(data.get_task(name), split, data_dir).texts[0]
        except UserError as e:
            raise UserError(f"--in_domain {in_domain} takes {train.task.name}'s in-domain sentences from {name}'s "
                            f"{split} split: {e}, or pass --in_domain 0") from None
        add_unlabelled([augment.sentences(documents, limit=in_domain, seed=seed)], "in_domain")
    return TransferSet(texts, np.concatenate(gold), np.concatenate(origin))


def cached_transfer_set(directory: str, recipe: dict) -> TransferSet | None:
    """The transfer set already in `directory` when it was built by the same recipe (a resumed run, or one
    teacher of several labelling the same texts), else None."""
    path = os.path.join(directory, "meta.json")
    if not os.path.exists(path):
        return None
    with open(path) as f:
        meta = json.load(f)
    if any(meta.get(k) != v for k, v in recipe.items()):
        return None
    return TransferSet.load(directory)


def tokens_per_text(split: data.Split, length: int = 128, teacher_dir: str | None = None, sample: int = 2000,
                    seed: int = 0) -> float:
    """The mean teacher tokens of a text of `split` (of both texts, for pairs), cut at `length` as the teacher
    reads them, over a seeded sample of at most `sample` texts: what a recipe's budgets are sized by
    (recipes.scaled_flags), measured in seconds even on IMDb's reviews."""
    from embbert_tf import teacher

    tok = teacher.TeacherTokenizer(teacher_dir or teacher.pretrained_dir())
    _, _, lengths = tok.encode(split.sample(sample, seed).texts, length)
    return float(np.minimum(lengths, length).mean())


def teacher_stage(task: data.Task, output_dir: str, *, data_dir: str | None = None, seed: int = 0,
                  teacher_dir: str | None = None, length: int = 128, epochs: int = 3, batch_size: int = 32,
                  learning_rate: float = 5e-5, copies: int = 20, pairings: bool = True, in_domain: int = 0,
                  train_limit: int | None = None, label_batch_size: int = 256, examples: int | None = None,
                  verbose: int = 1) -> dict:
    """Fine-tune the teacher on the task, build the transfer set and label it; resumable stage by stage.

    `examples` fine-tunes the teacher on a seeded sample of that many training texts (default all); the
    transfer set is built from all of them either way.

    Writes <output_dir>/teacher/result.json (the teacher's scores on the selection and reported splits,
    costs) and returns it; the logits are in <output_dir>/teacher/logits/.
    """
    import keras

    from embbert_tf import metrics, teacher

    tdir = os.path.join(output_dir, TEACHER_DIR)
    result_path = os.path.join(tdir, "result.json")
    if os.path.exists(result_path):
        with open(result_path) as f:
            return json.load(f)
    os.makedirs(tdir, exist_ok=True)
    started = time.time()
    task_data = data.load_task(task, data_dir, seed, train_limit=train_limit)
    # The transfer set first: a missing in-domain source stops the run before the teacher is even loaded.
    transfer_dir = os.path.join(output_dir, TRANSFER_DIR)
    built = time.time()
    recipe = {"copies": copies, "in_domain": in_domain, "seed": seed, "train_examples": len(task_data.train)}
    if len(task_data.train.texts) == 2:
        recipe["pairings"] = pairings
    transfer = cached_transfer_set(transfer_dir, recipe)
    if transfer is None:
        transfer = build_transfer_set(task_data.train, copies=copies, pairings=pairings, in_domain=in_domain,
                                      data_dir=data_dir, seed=seed)
        transfer.save(transfer_dir)
        shutil.rmtree(os.path.join(tdir, "logits"), ignore_errors=True)  # cached for other texts
        with open(os.path.join(transfer_dir, "meta.json"), "w") as f:  # so a resumed run keeps it and its logits
            json.dump({**recipe, "examples": len(transfer), "fingerprint": transfer.fingerprint()}, f, indent=2)
    build_seconds = time.time() - built

    source = teacher_dir or teacher.pretrained_dir()
    tok = teacher.TeacherTokenizer(source)
    config = teacher.read_config(source)
    regression = task.is_regression

    def encode(split):  # ids, segments, untruncated lengths
        return tok.encode(split.texts, length)

    fit_split = task_data.train.sample(examples, seed) if examples else task_data.train
    train_ids, train_seg, _ = encode(fit_split)
    labels = np.asarray(fit_split.labels, np.float32 if regression else np.int64)
    sel_ids, sel_seg, _ = encode(task_data.validation)
    model = teacher.build_teacher(config, task.num_classes)
    teacher.load_pretrained(model, source)
    fit_path = os.path.join(tdir, "finetune.json")
    if os.path.exists(fit_path):  # fine-tuned before an interruption: keep it
        model.load_weights(os.path.join(tdir, "teacher.weights.h5"))
        with open(fit_path) as f:
            fit = json.load(f)
    else:
        fit = teacher.finetune(model, (train_ids, train_seg, labels), (sel_ids, sel_seg, task_data.validation.labels),
                               directory=tdir, metric=task.metric, regression=regression, epochs=epochs,
                               batch_size=batch_size, learning_rate=learning_rate, seed=seed, verbose=verbose)
        fit["examples"] = len(labels)
        with open(fit_path, "w") as f:
            json.dump(fit, f, indent=2, default=float)
    ev_ids, ev_seg, ev_len = encode(task_data.evaluation)
    scores = metrics.compute(task_data.evaluation.labels, teacher.predict(
        model, ev_ids, ev_seg, progress=f"teacher on {task_data.evaluation.name}" if verbose else None), regression)

    labelled = time.time()
    ids, segments, lengths = tok.encode(transfer.texts, length)
    logits = teacher.label(model, ids, segments, os.path.join(tdir, "logits"), batch_size=label_batch_size,
                           progress=bool(verbose))
    counts = {o: int((transfer.origin == i).sum()) for i, o in enumerate(ORIGINS)}
    meta = {**recipe, "examples": len(transfer), "by_origin": counts,
            "augmentation": "Tang et al. 2019: mask p=0.1, n-gram p=0.25 (n<=5); no POS replacement"
                            + ("; new pairings (augment.pair_texts)" if recipe.get("pairings") else ""),
            "fingerprint": transfer.fingerprint(),
            "tokens_mean": float(np.minimum(lengths, length).mean()), "build_seconds": round(build_seconds, 1)}
    with open(os.path.join(transfer_dir, "meta.json"), "w") as f:
        json.dump(meta, f, indent=2)
    agree = None
    if not regression:  # how often the teacher agrees with the gold label on the original training texts
        own = transfer.origin == 0
        agree = float((logits[own].argmax(-1) == transfer.gold[own]).mean())
    result = {
        "teacher": os.path.basename(os.path.normpath(source)), "backend": keras.backend.backend(),
        "where": teacher.where(),
        "length": length, "truncated": float((ev_len > length).mean()),
        "finetune": fit, "selection": {task.metric: fit["best_score"], "split": task_data.validation.source},
        "evaluation": {**scores, "split": task.eval_split, "examples": len(ev_ids)},
        "transfer": meta, "train_agreement": agree,
        "label_seconds": round(time.time() - labelled, 1), "seconds": round(time.time() - started, 1),
    }
    with open(result_path, "w") as f:
        json.dump(result, f, indent=2, default=float)
    return result


def load_labelled(output_dir: str) -> tuple[TransferSet, np.ndarray]:
    """The transfer set and the teacher's logits for it, checked to belong together."""
    transfer = TransferSet.load(os.path.join(output_dir, TRANSFER_DIR))
    folder = os.path.join(output_dir, TEACHER_DIR, "logits")
    parts = sorted(p for p in os.listdir(folder) if p.startswith("logits_") and p.endswith(".npy")) \
        if os.path.isdir(folder) else []
    if not parts:
        raise UserError(f"{folder} holds no teacher logits; run the teacher stage first")
    logits = np.concatenate([np.load(os.path.join(folder, p)) for p in parts])
    if len(logits) != len(transfer):
        raise UserError(f"{folder} has logits for {len(logits)} texts but the transfer set has {len(transfer)}; "
                        "the teacher stage was interrupted: run it again with --resume")
    return transfer, logits.astype(np.float32)
