"""The distillation transfer set: the task's training text, augmented copies of it, and unlabelled
in-domain text, all to be labelled by the teacher.

Augmentation follows Tang et al. 2019 (arXiv 1903.12136, §3.2): each word is masked with probability
`p_mask`, then with probability `p_ngram` a random n-gram (n = 1..5) of the result is kept instead of the
whole; repeated `copies` times per text, duplicates dropped. Their third rule, POS-guided word
replacement, needs a part-of-speech tagger, and none installs offline from a package registry, so it is
left out. Pairs (MRPC, RTE, STS-B) are masked on both sides and never cut to an n-gram (that would break
the pair).

Pairs also get new pairings (`pair_texts`): copies of the task's pairs teach the student only the ~5k
relations the task has, and a student from scratch learns which sentences score high rather than how two
sentences compare (STS-B: Spearman 0.06 on the reported split). Each text beside a masked copy of itself,
beside the other side of a random pair, and each pair swapped, all scored by the teacher, show it what
alike and unlike look like.

Texts are plain strings; a masked word is the literal MASK ("[MASK]"), which the teacher's tokenizer
reads as its mask token and `student_text` turns into a word the student's vocabulary does not hold
([UNK] for the student, as Tang et al. give their student).

Example:

>>> texts = augment_texts([["a gripping , funny film"]], copies=3, seed=0)
>>> len(texts[0]) <= 3
True
"""
from __future__ import annotations

import re

import numpy as np

from embbert_tf import data

MASK = "[MASK]"
# A private-use character: never in real text, so never in a learned vocabulary, and left as it is by
# BERT's normalisation (which would turn U+2047 into "??").
STUDENT_MASK = "\ue000"


def _augment_words(words: list[str], rng: np.random.Generator, p_mask: float, p_ngram: float,
                   max_n: int, cut: bool) -> str:
    masked = np.where(rng.random(len(words)) < p_mask, MASK, np.asarray(words, dtype=object)).tolist()
    if cut and len(masked) > 1 and rng.random() < p_ngram:
        n = int(rng.integers(1, min(max_n, len(masked)) + 1))
        start = int(rng.integers(0, len(masked) - n + 1))
        masked = masked[start: start + n]
    return " ".join(masked)


def augment_texts(columns: list[list[str]], copies: int = 20, p_mask: float = 0.1, p_ngram: float = 0.25,
                  max_n: int = 5, seed: int = 0) -> list[list[str]]:
    """Augmented copies of a task's texts, as text columns (one column, or two for pairs).

    Args:
        columns: the task's text columns (`Split.texts`).
        copies: draws per text (Tang et al.: 20); duplicates of a draw or of the original are dropped.
        p_mask: probability of masking each word.
        p_ngram: probability of keeping only a random n-gram (single texts only).
        max_n: the longest n-gram kept.
        seed: the draws are a function of the seed and the texts alone.
    """
    rng = np.random.default_rng(seed)
    pair = len(columns) == 2
    out: list[list[str]] = [[] for _ in columns]
    for i in range(len(columns[0])):
        words = [c[i].split() for c in columns]
        seen = {tuple(" ".join(w) for w in words)}
        for _ in range(copies):
            draw = tuple(_augment_words(w, rng, p_mask, p_ngram, max_n, not pair) if w else "" for w in words)
            if draw not in seen and any(draw):
                seen.add(draw)
                for col, text in zip(out, draw):
                    col.append(text)
    return out


def pair_texts(columns: list[list[str]], p_mask: float = 0.1, seed: int = 0) -> list[list[str]]:
    """New pairs from a pair task's texts, for the teacher to score: for every pair (a, b), (a, masked a),
    (b, masked b), (a, b of a random other pair), (b, a of a random other pair) and (b, a).

    Example:

    >>> a, b = pair_texts([["a man plays a guitar", "a dog runs"], ["a man is playing", "the dog is running"]])
    >>> len(a) == len(b) == 10 and ("the dog is running", "a dog runs") in zip(a, b)
    True
    """
    if len(columns) != 2:
        raise ValueError(f"pair_texts needs two text columns, got {len(columns)}")
    rng = np.random.default_rng(seed)
    first, second = columns
    n = len(first)
    out: tuple[list[str], list[str]] = ([], [])

    def add(x: str, y: str):
        out[0].append(x)
        out[1].append(y)

    for i in range(n):
        a, b = first[i], second[i]
        for text in (a, b):
            add(text, _augment_words(text.split(), rng, p_mask, 0.0, 1, False) if text else text)
        others = rng.integers(0, n - 1, size=2) if n > 1 else np.zeros(2, np.int64)
        others = others + (others >= i)  # never the pair itself
        add(a, second[others[0] % n])
        add(b, first[others[1] % n])
        add(b, a)
    return [out[0], out[1]]


_BREAK = re.compile(r"<br\s*/?>", re.IGNORECASE)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=\S)")


def sentences(documents: list[str], min_words: int = 3, max_words: int = 50, limit: int | None = None,
              seed: int = 0) -> list[str]:
    """Sentences cut from documents (e.g. IMDb training reviews, in-domain for SST-2), of `min_words` to
    `max_words` words, HTML line breaks removed; a seeded sample of `limit` when given."""
    found = []
    for doc in documents:
        for s in _SENTENCE_END.split(_BREAK.sub(" ", doc)):
            n = len(s.split())
            if min_words <= n <= max_words:
                found.append(" ".join(s.split()))
    found = list(dict.fromkeys(found))  # unique, first-seen order
    if limit is not None and limit < len(found):
        found = [found[i] for i in data.seeded_sample(len(found), limit, seed)]
    return found


def student_text(text: str) -> str:
    """The transfer text as the student reads it: a masked word becomes one unknown word."""
    return text.replace(MASK, STUDENT_MASK)
