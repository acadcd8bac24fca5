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


# The TFLM Arduino port (an older TFLM, built without TF_LITE_STATIC_MEMORY, so every tensor struct is
# larger, and older CMSIS-NN scratch buffers) needs more arena than the x86 measurement: 73,776 B for the
# SST-2 model where x86 measured 62,736 (+17.6 %; tflm_app/README.md). Its arena is scaled by this.
ARDUINO_PORT_ARENA_FACTOR = 1.25


def arena_bytes(measured: int, margin: int = ARENA_MARGIN, factor: float = 1.0) -> int:
    """kTensorArenaSize: the measured arena (times `factor`) plus the margin, rounded up to TFLM's 16-byte
    alignment.

    Example:

    >>> arena_bytes(62_736), arena_bytes(62_736, factor=ARDUINO_PORT_ARENA_FACTOR)
    (66832, 82528)
    """
    return (int(measured * factor) + margin + 15) // 16 * 16
