"""A task's splits as model inputs: token ids at one sequence length, plus labels."""
from __future__ import annotations

import dataclasses

import numpy as np

from embbert_tf.data import Split
from embbert_tf.tokenizer import Tokenizer


@dataclasses.dataclass
class Encoded:
    ids: np.ndarray  # (N, L) int32
    labels: np.ndarray
    lengths: np.ndarray  # untruncated token counts
    split: Split

    @property
    def truncated(self) -> float:
        return float((self.lengths > self.ids.shape[1]).mean())


def encode(tokenizer: Tokenizer, split: Split, sequence_length: int) -> Encoded:
    ids, lengths = tokenizer.encode_columns(split.texts, sequence_length)
    return Encoded(ids, split.labels, lengths, split)


def sample_ids(ids: np.ndarray, n: int, seed: int) -> np.ndarray:
    """A seeded sample of rows, e.g. the representative data for int8 calibration."""
    index = np.random.default_rng(seed).permutation(len(ids))[: min(n, len(ids))]
    return ids[np.sort(index)]
