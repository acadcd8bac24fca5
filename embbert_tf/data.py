"""Task registry and dataset readers.

Files are read from `<data_dir>/<task dir>/<split>.<tsv|csv|jsonl|jsonl.gz|parquet>`; the data folder is
`--data_dir`, else $EMBBERT_DATA_DIR, else a cache that is filled from Hugging Face `datasets` when the
user is online. Nothing here prints: problems are raised as one-line UserErrors.
"""
from __future__ import annotations

import csv
import dataclasses
import os
from typing import Callable

import numpy as np
import pandas as pd

from embbert_tf.errors import UserError

DATA_ENV = "EMBBERT_DATA_DIR"
CACHE_DIR = os.path.join(os.path.expanduser("~"), ".cache", "embbert_tf", "data")
EXTENSIONS = ("tsv", "csv", "jsonl", "jsonl.gz", "parquet")


@dataclasses.dataclass(frozen=True)
class Task:
    name: str
    directory: str
    text_columns: tuple[str, ...]
    label_column: str
    classes: tuple[str, ...] | None  # class names in label-id order; None for regression
    metric: str  # the metric that selects the best epoch and heads the report
    eval_split: str  # the split the paper reports (GLUE: validation, TinyNLP: test)
    splits: tuple[str, ...]  # the labelled splits the data has
    hf: tuple[str, str | None]  # Hugging Face dataset (path, config) for online download
    hf_columns: dict = dataclasses.field(default_factory=dict)  # ours -> Hugging Face column names
    read_options: dict = dataclasses.field(default_factory=dict)
    label_values: tuple | None = None  # raw label values in class order, when they are not 0..C-1
    prepare: Callable[[pd.DataFrame], pd.DataFrame] | None = None
    # The training split holds every phrase of each sentence's parse tree (SST): a held-out split must be
    # whole sentences, without their phrases in training, or it scores sub-phrases the model was fit on.
    phrases: bool = False
    folder: str | None = None  # a user's own data folder (`--task PATH`): its files, read from there

    @property
    def num_classes(self) -> int:
        return 1 if self.classes is None else len(self.classes)

    @property
    def is_regression(self) -> bool:
        return self.classes is None


_TSV = {"sep": "\t", "quoting": csv.QUOTE_NONE, "keep_default_na": False}


def _ag_news(df: pd.DataFrame) -> pd.DataFrame:
    # Zhang et al.'s CSV writes newlines as a literal backslash-n; HF's text is title + " " + description.
    text = (df["title"].astype(str) + " " + df["description"].astype(str)).str.replace("\\n", " ", regex=False)
    return pd.DataFrame({"text": text, "label": df["label"].astype(int) - 1})


TASKS: dict[str, Task] = {
    t.name: t
    for t in (
        Task("sst2", "sst2", ("sentence",), "label", ("negative", "positive"), "accuracy", "validation",
             ("train", "validation"), ("nyu-mll/glue", "sst2"), read_options=_TSV, phrases=True),
        Task("cola", "cola", ("sentence",), "label", ("unacceptable", "acceptable"), "mcc", "validation",
             ("train", "validation"), ("nyu-mll/glue", "cola"),
             read_options={**_TSV, "header": None, "names": ["source", "label", "judgment", "sentence"]}),
        Task("mrpc", "mrpc", ("#1 String", "#2 String"), "Quality", ("not_equivalent", "equivalent"),
             "f1_weighted", "validation", ("train", "validation"), ("nyu-mll/glue", "mrpc"),
             hf_columns={"#1 String": "sentence1", "#2 String": "sentence2", "Quality": "label"},
             read_options={**_TSV, "encoding": "utf-8-sig"}),
        Task("stsb", "stsb", ("sentence1", "sentence2"), "label", None, "spearman", "validation",
             ("train", "validation", "test"), ("nyu-mll/glue", "stsb")),
        Task("rte", "rte", ("sentence1", "sentence2"), "label", ("entailment", "not_entailment"), "accuracy",
             "validation", ("train", "validation"), ("nyu-mll/glue", "rte")),
        Task("imdb", "imdb", ("text",), "label", ("neg", "pos"), "accuracy", "test", ("train", "test"),
             ("stanfordnlp/imdb", None)),
        Task("ag_news", "ag_news", ("text",), "label", ("World", "Sports", "Business", "Sci/Tech"), "accuracy",
             "test", ("train", "test"), ("fancyzhx/ag_news", None),
             read_options={"header": None, "names": ["label", "title", "description"], "keep_default_na": False},
             prepare=_ag_news),
        Task("emotion", "emotion", ("text",), "label", ("sadness", "joy", "love", "anger", "fear", "surprise"),
             "accuracy", "test", ("train", "validation", "test"), ("dair-ai/emotion", "split")),
        Task("cyberbullying", "cyberbullying", ("tweet_text",), "cyberbullying_type",
             ("age", "ethnicity", "gender", "not_cyberbullying", "other_cyberbullying", "religion"), "accuracy",
             "test", ("train", "test"), ("", None), read_options={"keep_default_na": False},
             label_values=("age", "ethnicity", "gender", "not_cyberbullying", "other_cyberbullying", "religion")),
        Task("limit", "limit", ("sentence",), "motion", ("no", "yes"), "accuracy", "test", ("train", "test"),
             ("IBM/limit", None), label_values=("no", "yes")),
        Task("nlu", "nlu_evaluation_data", ("answer_from_anno",), "scenario",
             ("alarm", "audio", "calendar", "cooking", "datetime", "email", "general", "iot", "lists", "music",
              "news", "play", "qa", "recommendation", "social", "takeaway", "transport", "weather"),
             "accuracy", "test", ("train", "test"), ("xingkunliuxtracta/nlu_evaluation_data", None),
             hf_columns={"answer_from_anno": "text"},
             read_options={"dtype": False},
             label_values=("alarm", "audio", "calendar", "cooking", "datetime", "email", "general", "iot", "lists",
                           "music", "news", "play", "qa", "recommendation", "social", "takeaway", "transport",
                           "weather")),
    )
}


METRICS = ("accuracy", "f1_weighted", "mcc", "spearman")


def get_task(name: str, text_columns: list[str] | None = None, label_column: str | None = None,
             metric: str | None = None) -> Task:
    """A built-in task by name, or a folder of your own data (see `folder_task`)."""
    if name in TASKS:
        return TASKS[name]
    if os.path.isdir(name):
        return folder_task(name, text_columns, label_column, metric)
    raise UserError(f"unknown task {name!r}: choose one of {', '.join(sorted(TASKS))}, or give a folder holding "
                    f"train.<{'|'.join(EXTENSIONS)}>")


def task_to_dict(task: Task) -> dict:
    """What a run records of a folder task, so evaluation and export need not read its folder again."""
    return {"name": task.name, "folder": task.folder, "text_columns": list(task.text_columns),
            "label_column": task.label_column, "classes": list(task.classes) if task.classes else None,
            "label_values": list(task.label_values) if task.label_values else None, "metric": task.metric,
            "eval_split": task.eval_split, "splits": list(task.splits)}


def task_from_dict(d: dict) -> Task:
    return Task(d["name"], d["folder"], tuple(d["text_columns"]), d["label_column"],
                tuple(d["classes"]) if d["classes"] else None, d["metric"], d["eval_split"], tuple(d["splits"]),
                ("", None), read_options={"keep_default_na": False},
                label_values=tuple(d["label_values"]) if d["label_values"] else None, folder=d["folder"])


def _folder_file(folder: str, split: str) -> str | None:
    for ext in EXTENSIONS:
        path = os.path.join(folder, f"{split}.{ext}")
        if os.path.exists(path):
            return path
    return None


def folder_task(folder: str, text_columns: list[str] | None = None, label_column: str | None = None,
                metric: str | None = None) -> Task:
    """A task made from a folder of your own data: train.<ext>, optionally validation.<ext> and test.<ext>.

    Columns: `text` (or `sentence`), or `text_a` + `text_b` for pairs, and `label`; other names with
    `text_columns` / `label_column`. Labels that are strings or integers are classes (sorted); other
    numbers make a regression task (metric Spearman). The reported split is test if there is one, else
    validation, else a seeded hold-out of train; the selection split is never the reported one.
    """
    folder = os.path.abspath(folder)
    train = _folder_file(folder, "train")
    if train is None:
        raise UserError(f"{folder} has no train.<{'|'.join(EXTENSIONS)}>; put the training split there "
                        "(columns text, label)")
    probe = Task(os.path.basename(folder), folder, (), "", None, "accuracy", "", (), ("", None),
                 read_options={"keep_default_na": False}, folder=folder)
    frame = _read_frame(train, probe)
    columns = list(frame.columns)
    if text_columns:
        texts = tuple(text_columns)
    else:
        texts = next((c for c in (("text",), ("sentence",), ("text_a", "text_b")) if set(c) <= set(columns)), None)
    missing = [c for c in (texts or ()) if c not in columns]
    if texts is None or missing or len(texts) not in (1, 2):
        raise UserError(f"{train} has no text column{' ' + repr(missing[0]) if missing else ''} (columns found: "
                        f"{columns}); name it text (or sentence), or text_a and text_b for pairs, or pass "
                        "--text_columns")
    label = label_column or "label"
    if label not in columns:
        raise UserError(f"{train} has no label column {label!r} (columns found: {columns}); name it label or "
                        "pass --label_column")
    raw = frame[label]
    numeric = pd.to_numeric(raw, errors="coerce")
    regression = bool(numeric.notna().all() and (numeric % 1 != 0).any())
    if regression:
        classes = values = None
    else:
        labels = numeric.astype(int) if numeric.notna().all() else raw.astype(str)
        values = sorted(labels.unique().tolist())
        counts = labels.value_counts()
        if len(values) < 2:
            raise UserError(f"{train} has a single class {values[0]!r} in column {label!r}; a classifier needs "
                            "at least two")
        single = [v for v in values if counts[v] < 2]
        if single:
            raise UserError(f"{train}: class {single[0]!r} has a single example; the stratified selection split "
                            "needs at least two of each class: add examples or drop the class")
        classes = tuple(str(v) for v in values)
    if metric and metric not in METRICS:
        raise UserError(f"unknown --metric {metric!r}: choose one of {', '.join(METRICS)}")
    splits = tuple(s for s in ("train", "validation", "test") if _folder_file(folder, s))
    evaluation = "test" if "test" in splits else "validation" if "validation" in splits else "holdout"
    return Task(os.path.basename(folder), folder, texts, label, classes,
                metric or ("spearman" if regression else "accuracy"), evaluation, splits, ("", None),
                read_options={"keep_default_na": False}, label_values=tuple(values) if values else None,
                folder=folder)


@dataclasses.dataclass
class Split:
    """One labelled split: texts (one list per text column) and labels (int class ids or float scores)."""

    task: Task
    name: str
    texts: list[list[str]]
    labels: np.ndarray
    source: str  # where it came from, for the report
    skipped: int = 0  # rows without text, left out (folder tasks)

    def __len__(self) -> int:
        return len(self.labels)

    def subset(self, index: np.ndarray, name: str | None = None, source: str | None = None) -> "Split":
        return Split(self.task, name or self.name, [[col[i] for i in index] for col in self.texts],
                     self.labels[index], source or self.source)

    def sample(self, k: int, seed: int) -> "Split":
        """A seeded sample of k examples, in their order (the whole split where k >= its size)."""
        if k >= len(self):
            return self
        return self.subset(seeded_sample(len(self), k, seed), source=f"{self.source} (seeded sample of {k})")

    def head(self, n: int) -> "Split":
        return self.subset(np.arange(min(n, len(self))), source=f"{self.source} (first {n})")


def seeded_sample(n: int, k: int, seed: int) -> np.ndarray:
    """The sorted indices of a seeded sample of k of n items (all n where k >= n)."""
    return np.sort(np.random.default_rng(seed).permutation(n)[:k])


def resolve_data_dir(data_dir: str | None) -> str | None:
    return data_dir or os.environ.get(DATA_ENV) or None


def find_file(task: Task, split: str, data_dir: str | None) -> str | None:
    return _folder_file(os.path.join(data_dir, task.directory), split)


def _not_utf8(path: str) -> str:
    """Where a text file first stops being UTF-8, as a line number (read in chunks: bounded memory)."""
    import codecs
    import gzip

    decoder = codecs.getincrementaldecoder("utf-8")()
    line = 1
    with (gzip.open if path.endswith(".gz") else open)(path, "rb") as f:
        while chunk := f.read(1 << 20):
            pending = len(decoder.getstate()[0])  # a character cut by the previous chunk's end
            try:
                decoder.decode(chunk)
            except UnicodeDecodeError as e:
                at = max(0, e.start - pending)
                line += chunk.count(b"\n", 0, at)
                return (f"{path} line {line} is not UTF-8 (byte 0x{chunk[at]:02x}); re-encode the file as "
                        "UTF-8, e.g. `iconv -f latin1 -t utf-8`")
            line += chunk.count(b"\n")
    return f"{path} is not UTF-8; re-encode the file as UTF-8"


def _read_frame(path: str, task: Task) -> pd.DataFrame:
    opts = dict(task.read_options)
    try:
        if path.endswith(".parquet"):
            return pd.read_parquet(path)
        if path.endswith((".jsonl", ".jsonl.gz")):
            return pd.read_json(path, lines=True, dtype=opts.get("dtype", True))
        opts.pop("dtype", None)
        if path.endswith(".tsv"):
            return pd.read_csv(path, **{"sep": "\t", **opts})
        return pd.read_csv(path, **opts)
    except UnicodeDecodeError:
        raise UserError(_not_utf8(path)) from None
    except (ValueError, OSError, pd.errors.ParserError, EOFError) as e:
        first = str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__
        raise UserError(f"cannot read {path}: {first}; the file looks corrupt, replace it with a fresh copy") from None


def _labels(frame: pd.DataFrame, task: Task, path: str) -> np.ndarray:
    raw = frame[task.label_column]
    if task.is_regression:
        try:
            return raw.astype(np.float32).to_numpy()
        except ValueError:
            raise UserError(f"{path}: labels of regression task {task.name} must be numbers") from None
    if task.label_values is not None:
        if task.folder:  # the user's labels, compared as the training split read them
            numeric = all(isinstance(v, int) for v in task.label_values)
            raw = pd.to_numeric(raw, errors="coerce") if numeric else raw.astype(str)
        index = {v: i for i, v in enumerate(task.label_values)}
        bad = ~raw.isin(list(index))
        ids = raw.map(index)
    else:
        numeric = pd.to_numeric(raw, errors="coerce")
        bad = numeric.isna() | ~numeric.isin(range(task.num_classes))
        ids = numeric
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        allowed = task.label_values or tuple(range(task.num_classes))
        value = raw.iloc[row].item() if hasattr(raw.iloc[row], "item") else raw.iloc[row]
        fix = ("fix the row, or add the class to the training split" if task.folder
               else "fix the row or pick the right --task")
        raise UserError(f"{path} row {row + 1}: label {value!r} is not one of task {task.name}'s classes "
                        f"{list(allowed)}; {fix}")
    return ids.astype(np.int64).to_numpy()


def read_file(task: Task, split: str, path: str) -> Split:
    frame = _read_frame(path, task)
    if task.prepare is not None:
        frame = task.prepare(frame)
    columns = (*task.text_columns, task.label_column)
    missing = [c for c in columns if c not in frame.columns]
    if missing:
        raise UserError(
            f"{path} has no column {missing[0]!r} (found {list(frame.columns)[:8]}); "
            f"it is not task {task.name}'s {split} file"
        )
    if len(frame) == 0:
        raise UserError(f"{path} has no rows; task {task.name} needs a non-empty {split} split")
    skipped = 0
    if task.folder:  # your own data: rows with no text at all are skipped and counted, not fatal
        empty = np.logical_and.reduce([frame[c].fillna("").astype(str).str.strip() == "" for c in task.text_columns])
        skipped = int(empty.sum())
        frame = frame[~empty].reset_index(drop=True)
        if len(frame) == 0:
            raise UserError(f"{path} has no row with text; task {task.name} needs a non-empty {split} split")
    texts = [frame[c].fillna("").astype(str).tolist() for c in task.text_columns]
    return Split(task, split, texts, _labels(frame, task, path), path, skipped)


def _download(task: Task, split: str) -> str:
    """Fetch a split with Hugging Face `datasets` into the cache, in our canonical layout."""
    if not task.hf[0]:
        raise UserError(f"task {task.name} has no public download; put its files in <data_dir>/{task.directory}/")
    try:
        import datasets  # optional: only the online path needs it
    except ImportError:
        raise UserError(
            f"no local data for {task.name}: set --data_dir or {DATA_ENV}, or `pip install datasets` to download"
        ) from None
    hf_split = {"validation": "validation", "train": "train", "test": "test"}[split]
    try:
        ds = datasets.load_dataset(task.hf[0], task.hf[1], split=hf_split)
    except Exception as e:  # network, missing split: one line, not a traceback
        raise UserError(f"could not download {task.hf[0]} ({split}) for task {task.name}: {e}") from None
    frame = ds.to_pandas().rename(columns={v: k for k, v in task.hf_columns.items()})
    folder = os.path.join(CACHE_DIR, task.directory)
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, f"{split}.parquet")
    frame.to_parquet(path)
    return path


def load_split(task: Task, split: str, data_dir: str | None = None) -> Split:
    """Read one split from the data folder, the download cache, or (online) Hugging Face."""
    if task.folder:
        path = _folder_file(task.folder, split)
        if path is None:
            raise UserError(f"{task.folder} has no {split}.<{'|'.join(EXTENSIONS)}>")
        return read_file(task, split, path)
    data_dir = resolve_data_dir(data_dir)
    if data_dir is not None:
        if not os.path.isdir(data_dir):
            raise UserError(f"data folder {data_dir} does not exist; fix --data_dir or {DATA_ENV}")
        path = find_file(task, split, data_dir)
        if path is None:
            raise UserError(
                f"missing data file for task {task.name}, split {split}: no {task.directory}/{split}."
                f"{{{','.join(EXTENSIONS)}}} in {data_dir}; add it or point --data_dir elsewhere"
            )
        return read_file(task, split, path)
    path = find_file(task, split, CACHE_DIR) or _download(task, split)
    return read_file(task, split, path)


@dataclasses.dataclass
class TaskData:
    train: Split
    validation: Split  # selects the best epoch
    evaluation: Split  # the split reported (may be the validation split itself)
    notes: list[str]


def _stratified(labels: np.ndarray, fraction: float, rng: np.random.Generator) -> np.ndarray:
    held = []
    for c in np.unique(labels):
        idx = rng.permutation(np.flatnonzero(labels == c))
        held.append(idx[: max(1, int(round(fraction * len(idx))))])
    return np.sort(np.concatenate(held))


def _spans(tokens: tuple, phrases: set, lengths: list[int]) -> set:
    """The sub-spans of `tokens` that are phrases of the dataset (`lengths`: their distinct lengths). Only
    those are ever looked up; keeping just them bounds memory by the input's size, where every sub-span of
    a 5,000-word line would be cubic in its length."""
    n, found = len(tokens), set()
    for length in lengths:
        if length > n:
            break
        for a in range(n - length + 1):
            span = tokens[a: a + length]
            if span in phrases:
                found.add(span)
    return found


def split_phrases(split: Split, fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """(rest, held-out) indices of a phrase-level split such as SST-2's: held out are a stratified `fraction`
    of the whole sentences (phrases no other phrase contains); left out of training are their phrases that
    no training sentence contains, as SST's own dev split leaves them out."""
    tokens = [tuple(" ".join(parts).split()) for parts in zip(*split.texts)]
    phrases = set(tokens)
    lengths = sorted({len(t) for t in phrases})
    covered, roots = set(), []
    for i in sorted(range(len(tokens)), key=lambda i: -len(tokens[i])):
        if tokens[i] not in covered:  # a longer phrase would have been seen first and covered it
            roots.append(i)
            covered |= _spans(tokens[i], phrases, lengths)
    roots = np.array(sorted(roots))
    held = roots[_stratified(split.labels[roots], fraction, np.random.default_rng(seed))]
    kept = set()
    for i in np.setdiff1d(roots, held):
        kept |= _spans(tokens[i], phrases, lengths)
    rest = np.array([i for i in range(len(tokens)) if tokens[i] in kept], dtype=np.int64)
    return rest, held


def split_off(split: Split, fraction: float, seed: int) -> tuple[Split, Split]:
    """A fixed, seeded (stratified for classification, by sentence for phrase data) split of `split` into
    (rest, held-out)."""
    rng = np.random.default_rng(seed)
    if split.task.phrases:
        rest, held = split_phrases(split, fraction, seed)
    elif split.task.is_regression:
        order = rng.permutation(len(split))
        n = max(1, int(round(fraction * len(split))))
        held, rest = order[:n], order[n:]
    else:
        held = _stratified(split.labels, fraction, rng)
        rest = np.setdiff1d(np.arange(len(split)), held)
    src = f"{split.source} (seeded {fraction:.0%} split, seed {seed})"
    return split.subset(rest, "train", src), split.subset(held, "validation", src)


def load_task(task: Task, data_dir: str | None = None, seed: int = 0, validation_fraction: float = 0.1,
              train_limit: int | None = None) -> TaskData:
    """Train, selection and evaluation splits. The split that picks the best epoch (and PTQ vs QAT) is never
    the split reported: where a task has no validation split of its own, or is scored on it (GLUE dev), a
    seeded 10 % of the training split selects, as the reference code does for every task."""
    train = load_split(task, "train", data_dir)
    skipped = {train.source: train.skipped}
    notes = []
    evaluation = None
    if task.eval_split == "holdout":  # a folder with a training split only: report on a seeded hold-out
        train, evaluation = split_off(train, validation_fraction, seed + 1)
        evaluation.name = "holdout"
        notes.append(f"{task.name} has no test or validation split: {len(evaluation)} training examples "
                     f"({validation_fraction:.0%}, seed {seed + 1}) were held out as the reported split")
    if "validation" in task.splits and task.eval_split != "validation":
        validation = load_split(task, "validation", data_dir)
        skipped[validation.source] = validation.skipped
    else:
        train, validation = split_off(train, validation_fraction, seed)
        why = ("is scored on its validation split" if "validation" in task.splits else "has no validation split")
        kind = "" if task.is_regression else ", stratified"
        if task.phrases:
            notes.append(
                f"{task.name} {why}: {len(validation)} whole training sentences ({validation_fraction:.0%} of "
                f"them{kind}, seed {seed}) were held out to select the best epoch, and their phrases that no "
                f"other training sentence contains left training ({len(train)} phrases remain)"
            )
        else:
            notes.append(
                f"{task.name} {why}: {len(validation)} training examples ({validation_fraction:.0%}{kind}, "
                f"seed {seed}) were held out to select the best epoch"
            )
    if evaluation is None:
        evaluation = load_split(task, task.eval_split, data_dir)
        skipped[evaluation.source] = evaluation.skipped
    notes += [f"{path}: {n} row{'s' if n > 1 else ''} without text skipped" for path, n in skipped.items() if n]
    if train_limit and train_limit < len(train):  # a seeded sample (quick runs, tests)
        train = train.sample(train_limit, seed)
        notes.append(f"training on a seeded sample of {train_limit} examples (--train_limit)")
    return TaskData(train, validation, evaluation, notes)
