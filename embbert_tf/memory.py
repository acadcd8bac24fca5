"""Memory accounting: weights, the spec's activation estimate, and what TFLM really needs."""
from __future__ import annotations

from embbert_tf.config import EmbBERTConfig


def activation_estimate(config: EmbBERTConfig, length: int) -> int:
    """Spec §3: values alive at the peak, L² + 2·L·d (the attention matrix plus two L×d buffers)."""
    return length * length + 2 * length * config.hidden


def estimate(config: EmbBERTConfig, num_classes: int, length: int) -> dict:
    """Paper-style accounting (spec §3) for one sequence of `length` tokens."""
    params = config.backbone_params() + (config.hidden + 1) * num_classes
    acts = activation_estimate(config, length)
    return {
        "config": config.name,
        "sequence_length": length,
        "parameters": params,
        "weights_fp32_bytes": 4 * params,
        "weights_int8_bytes": params,
        "activation_values": acts,
        "activations_fp32_bytes": 4 * acts,
        "activations_int8_bytes": acts,
        "total_fp32_bytes": 4 * (params + acts),
        "total_int8_bytes": params + acts,
    }


def measured(tflite_bytes: int, arena_bytes: int, allocations: dict | None = None) -> dict:
    """What a microcontroller needs: the flatbuffer in flash, the arena in RAM."""
    out = {"tflite_bytes": tflite_bytes, "arena_bytes": arena_bytes, "total_bytes": tflite_bytes + arena_bytes}
    if allocations:
        out.update({f"arena_{k}_bytes": allocations[k] for k in ("head", "tail") if k in allocations})
    return out
