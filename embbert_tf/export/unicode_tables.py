"""The tokenizer's text normalisation, as tables a C++ tokenizer can apply code point by code point.

text.BertTokenizer(lower_case=True) case-folds (ICU NFKC_Casefold), decomposes (NFD), drops non-spacing
marks (\\p{Mn}), turns control and format characters (\\p{Cc}, \\p{Cf}) into spaces, then splits on
whitespace and keeps punctuation and CJK ideographs as tokens of their own. Rather than re-implement ICU
and RE2's Unicode classes, the tables are read off TensorFlow itself: every code point is put through
the same ops, so the C++ side applies exactly what the Python tokenizer does.
"""
from __future__ import annotations

import functools

import numpy as np
import tensorflow as tf
import tensorflow_text as text

MAX_CODE_POINT = 0x10FFFF
_SURROGATES = range(0xD800, 0xE000)

# tensorflow-text's BasicTokenizer split pattern (bert_tokenizer.py), without the whitespace part.
SPLIT_PATTERN = "|".join([
    r"[!-/]", r"[:-@]", r"[\[-`]", r"[{-~]", r"[\p{P}]",
    r"[\x{4E00}-\x{9FFF}]", r"[\x{3400}-\x{4DBF}]", r"[\x{20000}-\x{2A6DF}]", r"[\x{2A700}-\x{2B73F}]",
    r"[\x{2B740}-\x{2B81F}]", r"[\x{2B820}-\x{2CEAF}]", r"[\x{F900}-\x{FAFF}]", r"[\x{2F800}-\x{2FA1F}]",
])


def normalise(strings: tf.Tensor) -> tf.Tensor:
    """BasicTokenizer's normalisation (lower_case=True), before splitting."""
    s = text.case_fold_utf8(strings)
    s = text.normalize_utf8(s, "NFD")
    s = tf.strings.regex_replace(s, r"\p{Mn}", "")
    return tf.strings.regex_replace(s, r"\p{Cc}|\p{Cf}", " ")


def _code_points() -> np.ndarray:
    cps = np.arange(MAX_CODE_POINT + 1, dtype=np.int64)
    return cps[(cps < _SURROGATES.start) | (cps >= _SURROGATES.stop)]


@functools.lru_cache(maxsize=1)
def tables() -> dict:
    """{"map": {code point: replacement str}, "split": [(lo, hi), ...]} for every valid code point."""
    cps = _code_points()
    chars = tf.strings.unicode_encode(tf.constant(cps[:, None], tf.int32), "UTF-8")
    mapping: dict[int, str] = {}
    split = np.zeros(len(cps), bool)
    for start in range(0, len(cps), 1 << 16):
        part = chars[start : start + (1 << 16)]
        out = normalise(part).numpy()
        for cp, value in zip(cps[start : start + len(out)], out):
            value = value.decode("utf-8")
            if value != chr(cp):
                mapping[int(cp)] = value
        split[start : start + len(out)] = tf.strings.regex_full_match(part, SPLIT_PATTERN).numpy()
    return {"map": mapping, "split": _ranges(cps[split])}


def _ranges(values: np.ndarray) -> list[tuple[int, int]]:
    out: list[tuple[int, int]] = []
    for v in values.tolist():
        if out and v == out[-1][1] + 1:
            out[-1] = (out[-1][0], v)
        else:
            out.append((v, v))
    return out


def _hangul(cp: int) -> str:
    """Unicode's algorithmic decomposition of a precomposed Hangul syllable (what NFD gives)."""
    s = cp - 0xAC00
    lead, vowel, tail = 0x1100 + s // 588, 0x1161 + (s % 588) // 28, 0x11A7 + s % 28
    return chr(lead) + chr(vowel) + (chr(tail) if tail != 0x11A7 else "")


HANGUL_FIRST, HANGUL_LAST = 0xAC00, 0xD7A3
EMPTY, DELTA, CONSTANT = 0, 1, 2


def compact(vocab: list[str]) -> dict:
    """The tables in the form the C++ tokenizer reads, pruned to what can change this vocabulary's ids.

    - Hangul syllables decompose algorithmically (checked here against TensorFlow's output).
    - Code points whose normal form is one code point or nothing become runs (first, length, kind,
      value): nothing, cp + delta, or one constant code point.
    - Longer normal forms are listed with their UTF-8 bytes.
    A mapping is dropped when it cannot change the ids: neither the character nor its normal form
    occurs in any vocabulary entry (so the word becomes [UNK] either way) and it neither removes the
    character, nor introduces a space, nor changes where words split.
    """
    t = tables()
    split = _in_ranges(t["split"])
    vocab_chars = {c for w in vocab for c in w.removeprefix("##")}
    runs, multi = [], {}
    for cp in sorted(t["map"]):
        value = t["map"][cp]
        if HANGUL_FIRST <= cp <= HANGUL_LAST:
            if value != _hangul(cp):
                raise RuntimeError(f"U+{cp:04X} does not decompose as Unicode's Hangul algorithm says")
            continue
        keep = (value == "" or " " in value or chr(cp) in vocab_chars or any(c in vocab_chars for c in value)
                or split(cp) != any(split(ord(c)) for c in value) or (split(cp) and len(value) != 1))
        if not keep:
            continue
        if len(value) > 1:
            multi[cp] = value
            continue
        kind, val = (EMPTY, 0) if value == "" else (CONSTANT, ord(value))
        last = runs[-1] if runs else None
        if last and last[0] + last[1] == cp:
            if kind == EMPTY and last[2] == EMPTY:
                last[1] += 1
                continue
            if kind == CONSTANT and last[2] == CONSTANT and last[3] == val:
                last[1] += 1
                continue
            if kind == CONSTANT and last[2] == DELTA and val - cp == last[3]:
                last[1] += 1
                continue
            if kind == CONSTANT and last[2] == CONSTANT and last[1] == 1 and val - cp == last[3] - last[0]:
                last[1], last[2], last[3] = 2, DELTA, val - cp  # two consecutive shifts: a delta run
                continue
        runs.append([cp, 1, kind, val])
    return {"runs": runs, "multi": multi, "split": t["split"]}


def _in_ranges(ranges):
    import bisect

    starts = [lo for lo, _ in ranges]

    def inside(cp: int) -> bool:
        i = bisect.bisect_right(starts, cp) - 1
        return i >= 0 and ranges[i][0] <= cp <= ranges[i][1]

    return inside
