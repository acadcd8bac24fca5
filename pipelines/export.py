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
from embbert_tf import artifacts
from embbert_tf.errors import UserError
from embbert_tf.export import ARENA_MARGIN

FLAGS = flags.FLAGS
flags.DEFINE_string("arduino", None, "Also write an Arduino library (Arduino 1.5 layout) into this folder.")
flags.DEFINE_integer("arena_margin", ARENA_MARGIN, "Bytes added to the measured arena in kTensorArenaSize for "
                     "optimized kernels' scratch buffers; `embbert_app --find-arena` gives a build's exact need.")


def export_app(run_dir: str, output_dir: str, arena_margin: int = ARENA_MARGIN, arduino: str | None = None) -> dict:
    """The TFLM C++ application (and with `arduino` an Arduino library) for a run's shipped int8 model."""
    from embbert_tf.export import app  # TensorFlow: imported once the flags are checked

    run = artifacts.Run(run_dir)
    return app.export_cpp(run.tflite(), run.tokenizer(), run.info.get("classes") or ["score"], output_dir,
                          arduino=arduino, text_columns=len(run.task_spec.text_columns), arena_margin=arena_margin,
                          task=run.task, source=os.path.join(run_dir, artifacts.INT8_MODEL),
                          vocab_source=os.path.join(run_dir, "vocab.txt"))


def main(argv):
    if not FLAGS.model:
        raise UserError("--model is required: the run directory of a trained model")
    out = FLAGS.output_dir or os.path.join(FLAGS.model, "tflm_app")
    summary = export_app(FLAGS.model, out, FLAGS.arena_margin, FLAGS.arduino)
    print(f"[export] {out}: model {summary['model_bytes']:,} B + arena {summary['arena_bytes']:,} B = "
          f"{summary['total_bytes']:,} B; {len(summary['ops'])} ops: {', '.join(summary['ops'])}")
    if summary["arduino"]:
        print(f"[export] Arduino library in {summary['arduino']}")


if __name__ == "__main__":
    from pipelines import evaluate  # noqa: F401  (defines --model)

    common.run_main(main)
