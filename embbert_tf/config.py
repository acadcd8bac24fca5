"""EmbBERT configurations: the paper's scaling family (spec §2.2) plus a small one for tests."""
from __future__ import annotations

import dataclasses

from embbert_tf import presets as _presets

# The special ids are fixed by the reference tokenizer (spec §4.1) and read by the model itself:
# PAD marks padding (masked keys, segment 0) and SEP starts segment 2.
PAD_ID, UNK_ID, CLS_ID, MASK_ID, SEP_ID = 0, 1, 2, 3, 4
SPECIAL_TOKENS = ("[PAD]", "[UNK]", "[CLS]", "[MASK]", "[SEP]")
# What a text longer than the sequence length keeps (tokenizer.Tokenizer), and the cut new runs use.
TRUNCATIONS = ("head", "head+tail")
TRUNCATION = "head+tail"

# torch.nn.RMSNorm's default epsilon for float32 (torch.finfo(torch.float32).eps).
TORCH_FP32_EPS = 1.1920928955078125e-07


@dataclasses.dataclass(frozen=True)
class EmbBERTConfig:
    """Hyper-parameters of one EmbBERT backbone (symbols as in the spec: V, L, d, r, N, f, k)."""

    name: str
    vocab_size: int  # V
    max_sequence_length: int  # L, rows of the position table
    hidden: int  # d
    reduced: int  # r, width of the token and position tables
    num_layers: int  # N
    expansion: float  # f, the conv path has floor(f*d) channels
    kernel_size: int  # k, causal depthwise conv taps
    num_segments: int = 3
    attention_dropout: float = 0.1
    norm_eps: float = TORCH_FP32_EPS
    # The reference code has no identity residual around the block (spec §1.4, §10.1); the paper's
    # wording suggests one. True adds x + Block(RMSNorm(x)).
    residual: bool = False
    # "cls": the reference SequenceClassifier reads position 0; "mean": mean over non-pad tokens.
    pooling: str = "cls"
    # Finite stand-in for -inf on padded keys: big enough that int8 softmax gives them exactly 0.
    mask_value: float = -30.0

    @property
    def inner(self) -> int:
        return int(self.expansion * self.hidden)

    @property
    def depth_multiplier(self) -> int:
        if self.inner % self.hidden:
            raise ValueError(f"forward expansion {self.expansion} must give a multiple of d={self.hidden}")
        return self.inner // self.hidden

    def backbone_params(self) -> int:
        """Parameter count of the backbone (no head), counted as spec §2.1 does."""
        V, L, d, r = self.vocab_size, self.max_sequence_length, self.hidden, self.reduced
        k, di = self.kernel_size, self.inner
        embedder = V * r + r * d + L * r + r * d + self.num_segments * d
        layer = d + 4 * d + 2 * (d * d + d) + (di * k + di) + (di * d + d)
        return embedder + self.num_layers * layer

    def replace(self, **changes) -> "EmbBERTConfig":
        return dataclasses.replace(self, **changes)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "EmbBERTConfig":
        """The config a `to_dict` wrote, also from runs saved before the position table's size was named
        `max_sequence_length` (`max_len`)."""
        d = {_RENAMED.get(k, k): v for k, v in d.items()}
        fields = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in d.items() if k in fields})


_RENAMED = {"max_len": "max_sequence_length"}  # old key in saved config.json files -> field


# Every named configuration, built from the data in presets.py.
PRESETS = {name: EmbBERTConfig(name, **p["config"]) for name, p in _presets.PRESETS.items()}


def get_config(name: str, **overrides) -> EmbBERTConfig:
    """A named configuration (embbert_tf/presets.py), with `overrides` replacing fields.

    Example:

    >>> get_config("embbert").hidden, get_config("embbert", pooling="mean").pooling
    (128, 'mean')
    """
    if name not in PRESETS:
        raise KeyError(f"unknown config {name!r}; choose one of {', '.join(PRESETS)}")
    return PRESETS[name].replace(**overrides) if overrides else PRESETS[name]
