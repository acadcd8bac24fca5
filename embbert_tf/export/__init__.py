"""Everything a microcontroller build needs, generated from a trained run: C++ sources for the model,
its op resolver and arena size, the vocabulary and the tokenizer's Unicode tables, and an Arduino library."""

import os

GENERATED = "generated"  # the app's folder of model-specific sources
# The C++ application's sources: tflm_app/ in a checkout, embbert_tf/tflm_app in an installed package.
_CHECKOUT_APP = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))), "tflm_app")
APP_TEMPLATE = _CHECKOUT_APP if os.path.isdir(_CHECKOUT_APP) else \
    os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "tflm_app")
# Bytes added to the measured arena: optimized kernels' scratch buffers (CMSIS-NN needed up to 1,968 B more
# than the x86 measurement, benchmarks/results/device.md).
ARENA_MARGIN = 4096


def arena_bytes(measured: int, margin: int = ARENA_MARGIN) -> int:
    """kTensorArenaSize: the measured arena plus the margin, rounded up to TFLM's 16-byte alignment."""
    return (measured + margin + 15) // 16 * 16
