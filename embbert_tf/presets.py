"""The named model configurations, as data: EmbBERTConfig's keyword arguments and one line on each.

The first five are the paper's scaling family (spec §2.2); `test` is ours, for tests. `table()` lists
them with their parameter counts, computed from the numbers here.

Example:

>>> from embbert_tf import presets
>>> [row["name"] for row in presets.table()][:3]
['nano', 'tiny', 'embbert']
>>> presets.table()[2]["backbone_params"] > 300_000
True
"""
from __future__ import annotations

PRESETS: dict[str, dict] = {
    "nano": {
        "description": "the paper's smallest: d=64, 2 layers, 2,048-entry vocabulary",
        "config": dict(vocab_size=2048, max_sequence_length=256, hidden=64, reduced=16,
                       num_layers=2, expansion=1, kernel_size=8),
    },
    "tiny": {
        "description": "nano at d=128 with a 16-tap convolution",
        "config": dict(vocab_size=2048, max_sequence_length=256, hidden=128, reduced=16,
                       num_layers=2, expansion=1, kernel_size=16),
    },
    "embbert": {
        "description": "the paper's EmbBERT: d=128, 4 layers, 8,192-entry vocabulary; under 1 MB in int8",
        "config": dict(vocab_size=8192, max_sequence_length=256, hidden=128, reduced=16,
                       num_layers=4, expansion=1, kernel_size=32),
    },
    "med": {
        "description": "d=256, 6 layers, 512 positions, doubled convolution path; for larger boards",
        "config": dict(vocab_size=8192, max_sequence_length=512, hidden=256, reduced=16,
                       num_layers=6, expansion=2, kernel_size=32),
    },
    "big": {
        "description": "d=512, 6 layers, 16,384-entry vocabulary, 1,024 positions; the family's largest",
        "config": dict(vocab_size=16384, max_sequence_length=1024, hidden=512, reduced=32,
                       num_layers=6, expansion=2, kernel_size=64),
    },
    "test": {
        "description": "not from the paper: d=32, 64 positions; trains in seconds, for tests",
        "config": dict(vocab_size=1024, max_sequence_length=64, hidden=32, reduced=8,
                       num_layers=2, expansion=1, kernel_size=4),
    },
}


def table() -> list[dict]:
    """Every preset: name, description, its EmbBERTConfig keyword arguments and backbone parameter count."""
    from embbert_tf.config import get_config

    return [{"name": name, "description": p["description"], **p["config"],
             "backbone_params": get_config(name).backbone_params()} for name, p in PRESETS.items()]
