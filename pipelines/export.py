"""Stage 4: a trained int8 model -> a ready TFLite-Micro C++ application (and, with --arduino, an Arduino
library).

    python -m pipelines.export --model runs/sst2 --output_dir build/sst2_app
    cmake -S build/sst2_app -B build/sst2_host -DTFLM_DIR=/path/to/tflm_tree && cmake --build build/sst2_host

The output is the tflm_app/ project with the model-specific sources generated into generated/: the model
as a C++ array, an op resolver holding exactly the model's ops (each op and its tensor types checked
against TFLM's int8 kernels), the arena size measured on the tflite-micro interpreter, the vocabulary and
the tokenizer's Unicode tables. export.json records model bytes, arena bytes and their sum.
"""
from __future__ import annotations

import os

from absl import flags

from pipelines import common
from embbert_tf.errors import UserError

FLAGS = flags.FLAGS
common.define_model_flags()
common.define_export_flags()


def main(argv):
    from embbert_tf.export.app import export_run

    if not FLAGS.model:
        raise UserError("--model is required: the run directory of a trained model")
    out = FLAGS.output_dir or os.path.join(FLAGS.model, "tflm_app")
    summary = export_run(FLAGS.model, out, arena_margin=FLAGS.arena_margin, arduino=common.arduino_folder(None))
    print(f"[export] {out}: model {summary['model_bytes']:,} B + arena {summary['arena_bytes']:,} B = "
          f"{summary['total_bytes']:,} B; {len(summary['ops'])} ops: {', '.join(summary['ops'])}")
    if summary["arduino"]:
        print(f"[export] Arduino library in {summary['arduino']}")


if __name__ == "__main__":
    common.run_main(main)
