"""WordPiece tokenizer: vocabulary learned with tensorflow-text, tokenization with text.BertTokenizer.

Inputs are `[CLS] a [SEP]` or `[CLS] a [SEP] b [SEP]`, right-padded with [PAD] = 0. Normalisation is
BERT's uncased one (NFKC case folding, NFD, accents stripped) both when learning and when tokenizing, so
the vocabulary matches the splits it is used with.

A text longer than the sequence length keeps its start ("head"), or its first quarter and its end
("head+tail": Sun et al. 2019, for reviews, whose verdict is often in the last lines); pairs are trimmed
longest-first. The on-device tokenizer (tflm_app/src/tokenizer.cc) cuts the same way.
"""
from __future__ import annotations

import dataclasses
import os
from typing import TYPE_CHECKING, Callable, Iterable, Sequence

import numpy as np
import tensorflow as tf
import tensorflow_text as text
from tensorflow_text.tools.wordpiece_vocab import bert_vocab_from_dataset as bert_vocab

from embbert_tf.artifacts import VOCAB
from embbert_tf.config import CLS_ID, PAD_ID, SEP_ID, SPECIAL_TOKENS, TRUNCATION, TRUNCATIONS, UNK_ID
from embbert_tf.errors import UserError

VOCAB_FILE = VOCAB  # vocab.txt, a run directory's name for it

if TYPE_CHECKING:
    from embbert_tf.data import Split


@dataclasses.dataclass
class Encoded:
    """A task split as model inputs: token ids at one sequence length, its labels, and how long each text
    was before truncation."""

    ids: np.ndarray  # (N, L) int32
    labels: np.ndarray
    lengths: np.ndarray  # untruncated token counts
    split: "Split"

    @property
    def truncated(self) -> float:
        return float((self.lengths > self.ids.shape[1]).mean())


class Tokenizer:
    """WordPiece over `vocab` (which starts with the special tokens); `truncation` says what a single text
    longer than the sequence length keeps: "head" (its start) or "head+tail" (`head_tokens` from its start,
    the rest of the room from its end)."""

    def __init__(self, vocab: Sequence[str], truncation: str = TRUNCATION):
        if truncation not in TRUNCATIONS:
            raise UserError(f"truncation {truncation!r} is not one of {', '.join(TRUNCATIONS)}")
        self.truncation = truncation
        vocab = list(vocab)
        if tuple(vocab[: len(SPECIAL_TOKENS)]) != SPECIAL_TOKENS:
            raise ValueError(f"vocabulary must start with {SPECIAL_TOKENS}, got {vocab[:5]}")
        self.vocab = vocab
        table = tf.lookup.StaticVocabularyTable(
            tf.lookup.KeyValueTensorInitializer(vocab, tf.range(len(vocab), dtype=tf.int64)), num_oov_buckets=1
        )
        self._tokenizer = text.BertTokenizer(
            table, lower_case=True, unknown_token=SPECIAL_TOKENS[UNK_ID], token_out_type=tf.int64
        )

    @property
    def vocab_size(self) -> int:
        return len(self.vocab)

    # --- learning, saving ---------------------------------------------------------------------------
    @classmethod
    def learn(cls, texts: Iterable[str], vocab_size: int, truncation: str = TRUNCATION) -> "Tokenizer":
        """Learn a WordPiece vocabulary of at most `vocab_size` entries (specials included)."""
        dataset = tf.data.Dataset.from_tensor_slices(tf.constant(list(texts), tf.string)).batch(1024)
        vocab = bert_vocab.bert_vocab_from_dataset(
            dataset,
            vocab_size=vocab_size,
            reserved_tokens=list(SPECIAL_TOKENS),
            bert_tokenizer_params={"lower_case": True},
            learn_params={},
        )
        # The learner aims at vocab_size but may overshoot by a little; the model's table is fixed.
        return cls(vocab[:vocab_size], truncation)

    def save(self, directory: str) -> str:
        os.makedirs(directory, exist_ok=True)
        path = os.path.join(directory, VOCAB_FILE)
        with open(path, "w", encoding="utf-8") as f:
            f.write("\n".join(self.vocab) + "\n")
        return path

    @classmethod
    def load(cls, directory_or_file: str, truncation: str = TRUNCATION) -> "Tokenizer":
        path = directory_or_file
        if os.path.isdir(path):
            path = os.path.join(path, VOCAB_FILE)
        with open(path, encoding="utf-8") as f:
            return cls([line.rstrip("\n") for line in f], truncation)

    def head_tokens(self, sequence_length: int) -> int:
        """How many word pieces from its start a too-long single text keeps at `sequence_length`.

        >>> tok = Tokenizer(list(SPECIAL_TOKENS))
        >>> tok.head_tokens(256), Tokenizer(list(SPECIAL_TOKENS), truncation="head").head_tokens(256)
        (63, 254)
        """
        room = sequence_length - 2  # [CLS] and [SEP]
        return room // 4 if self.truncation == "head+tail" else room

    # --- tokenizing ---------------------------------------------------------------------------------
    def _pieces(self, texts: Sequence[str]) -> tf.RaggedTensor:
        return self._tokenizer.tokenize(tf.constant(list(texts), tf.string)).merge_dims(-2, -1)

    def tokenize(self, texts: Sequence[str], batch_size: int = 4096) -> list[list[int]]:
        """Word-piece ids of each text, without special tokens."""
        out: list[list[int]] = []
        for start in range(0, len(texts), batch_size):
            out.extend(self._pieces(texts[start : start + batch_size]).to_list())
        return out

    def encode(
        self, texts_a: Sequence[str], texts_b: Sequence[str] | None = None, sequence_length: int = 128
    ) -> tuple[np.ndarray, np.ndarray]:
        """-> (ids (N, sequence_length) int32, full length of each input before truncation).

        A long single text is cut as `truncation` says; pairs are trimmed longest-first (as Hugging Face
        does) so both segments keep their [SEP].
        """
        a = self.tokenize(texts_a)
        b = self.tokenize(texts_b) if texts_b is not None else None
        ids = np.full((len(a), sequence_length), PAD_ID, np.int32)
        lengths = np.zeros(len(a), np.int64)
        head = self.head_tokens(sequence_length)
        for i, pa in enumerate(a):
            pb = b[i] if b is not None else None
            row = _combine(pa, pb, sequence_length, head)
            lengths[i] = len(pa) + 2 + (len(pb) + 1 if pb is not None else 0)
            ids[i, : len(row)] = row
        return ids, lengths

    def encode_split(self, split: "Split", sequence_length: int) -> Encoded:
        """A task split (one or two text columns) as ids at `sequence_length`, with its labels."""
        ids, lengths = self.encode_columns(split.texts, sequence_length)
        return Encoded(ids, split.labels, lengths, split)

    def encode_columns(self, columns: Sequence[Sequence[str]], sequence_length: int) -> tuple[np.ndarray, np.ndarray]:
        """encode() for a task's text columns: one column is single sentences, two are pairs."""
        if len(columns) not in (1, 2):
            raise ValueError(f"expected 1 or 2 text columns, got {len(columns)}")
        return self.encode(columns[0], columns[1] if len(columns) == 2 else None, sequence_length)


def run_vocabulary(directory: str, texts: Callable[[], Iterable[str]], vocab_size: int, *, vocab: str | None = None,
                   resume: bool = False, source: str = "the training text", stage: str = "vocab",
                   truncation: str = TRUNCATION) -> Tokenizer:
    """The vocabulary a run uses, saved into `directory`: `vocab` (a vocab.txt, or a folder holding one, such
    as a pre-trained backbone's) when given, the one `directory` holds when resuming, else one learned from
    `texts()` (called only then, so a large corpus is read only when needed); it cuts long texts as
    `truncation` says."""
    if vocab:
        tokenizer = Tokenizer.load(vocab, truncation)
    elif resume and os.path.exists(os.path.join(directory, VOCAB_FILE)):
        tokenizer = Tokenizer.load(directory, truncation)
    else:
        print(f"[{stage}] learning a WordPiece vocabulary of at most {vocab_size} entries from {source}")
        tokenizer = Tokenizer.learn(texts(), vocab_size, truncation)
        print(f"[{stage}] {vocabulary_note(tokenizer.vocab_size, vocab_size)}")
    if tokenizer.vocab_size > vocab_size:
        raise UserError(f"the vocabulary has {tokenizer.vocab_size} entries but the model's table holds "
                        f"{vocab_size}; use a smaller vocabulary or a bigger config")
    tokenizer.save(directory)
    return tokenizer


def vocabulary_note(learned: int, asked: int) -> str:
    """One line on a learned vocabulary's size beside the size asked for, with why they differ."""
    if learned >= asked:
        return f"learned a {learned}-entry WordPiece vocabulary"
    return (f"learned a {learned}-entry WordPiece vocabulary of the {asked} asked for: the learner keeps only "
            f"word pieces frequent enough in the training text, and this text has no more (more text gives more)")


def _combine(a: list[int], b: list[int] | None, length: int, head: int) -> list[int]:
    budget = length - (3 if b is not None else 2)
    if budget < 1:
        raise ValueError(f"sequence length {length} leaves no room for text")
    a, b = list(a), (list(b) if b is not None else None)
    if b is None:
        if len(a) > budget:
            a = a[:head] + a[len(a) - (budget - head):]  # head == budget: the start alone
        return [CLS_ID] + a + [SEP_ID]
    while len(a) + len(b) > budget:  # longest first
        (a if len(a) >= len(b) else b).pop()
    return [CLS_ID] + a + [SEP_ID] + b + [SEP_ID]


def choose_sequence_length(lengths: np.ndarray, cap: int, percentile: float = 99.9, multiple: int = 16) -> int:
    """A length that fits `percentile` % of the inputs, rounded up to a multiple of 16, at most `cap`."""
    need = float(np.percentile(lengths, percentile))
    return int(min(cap, max(multiple, int(np.ceil(need / multiple)) * multiple)))
