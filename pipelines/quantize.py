"""Stage 2: float model -> int8. Post-training quantization and quantization-aware training (tfmot),
both converted to fully-int8 TFLite and measured on the TFLM reference; the better one on the selection
split is shipped as model_int8.tflite (embbert_tf/quantize.py).

    python -m pipelines.quantize --output_dir runs/sst2
"""
from __future__ import annotations

from absl import flags

from pipelines import common

FLAGS = flags.FLAGS
common.define_quantize_flags()


def main(argv):
    from embbert_tf.quantize import quantize_run

    quantize_run(common.output_dir(), common.quantize_settings(), data_dir=FLAGS.data_dir)


if __name__ == "__main__":
    common.run_main(main)
