"""EmbBERT in TensorFlow: a BERT-like text classifier small enough for a microcontroller.

tfmot's quantization-aware training only works with Keras 2 (tf-keras), so the whole package uses
tf-keras. The variable must be set before TensorFlow is first imported anywhere in the process.
"""
import os

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # TensorFlow's C++ log; our errors come as exceptions

from embbert_tf import quiet  # noqa: E402

quiet.install()

__version__ = "0.1.0"
