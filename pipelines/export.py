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
import shutil

from absl import flags

from pipelines import common
from embbert_tf import artifacts
from embbert_tf.errors import UserError

FLAGS = flags.FLAGS
# Scratch buffers of optimized kernels: CMSIS-NN needed up to 1,968 B more than the x86 measurement
# (benchmarks/results/device.md).
ARENA_MARGIN = 4096
flags.DEFINE_string("arduino", None, "Also write an Arduino library (Arduino 1.5 layout) into this folder.")
flags.DEFINE_integer("arena_margin", ARENA_MARGIN, "Bytes added to the measured arena in kTensorArenaSize for "
                     "optimized kernels' scratch buffers; `embbert_app --find-arena` gives a build's exact need.")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
APP_TEMPLATE = os.path.join(ROOT, "tflm_app")
GENERATED = "generated"


def generate(run_dir: str, arena_margin: int = ARENA_MARGIN) -> tuple[dict[str, str], dict]:
    """{file: contents} of the generated sources, and a summary (bytes, arena, ops)."""
    from embbert_tf import flatbuffer, micro  # TensorFlow: imported once the flags and the task are checked
    from embbert_tf.export import cpp

    run = artifacts.Run(run_dir)
    tflite = run.tflite()
    audit = flatbuffer.audit(tflite, artifacts.INT8_MODEL)
    if audit.problems or audit.float_tensors:
        first = audit.problems[0] if audit.problems else f"float tensor {audit.float_tensors[0]}"
        raise UserError(f"cannot export {run_dir}: {first}; TFLM cannot run this model in int8")
    tokenizer = run.tokenizer()
    # The arena does not depend on the ids' values; any input measures it.
    columns = len(run.task_spec.text_columns)
    probe = tokenizer.encode_columns([["a probe sentence"]] * columns, run.sequence_length)[0][0]
    arena = micro.minimal_arena(tflite, probe)
    interpreter = micro.TFLM(tflite, arena)
    classes = run.info.get("classes") or ["score"]
    files = {}
    files.update(cpp.model_sources(tflite, os.path.join(run_dir, artifacts.INT8_MODEL)))
    files.update(cpp.settings_sources(ops=list(audit.ops), sequence_length=run.sequence_length,
                                      class_names=classes, output_scale=interpreter.output_scale,
                                      output_zero_point=interpreter.output_zero, measured_arena=arena,
                                      margin=arena_margin, source=run_dir))
    files.update(cpp.tokenizer_sources(tokenizer, os.path.join(run_dir, "vocab.txt")))
    summary = {"model": run_dir, "task": run.task, "model_bytes": len(tflite), "measured_arena_bytes": arena,
               "arena_margin_bytes": arena_margin, "arena_bytes": (arena + arena_margin + 15) // 16 * 16,
               "ops": audit.ops, "op_types": audit.op_types, "sequence_length": run.sequence_length,
               "classes": classes}
    summary["total_bytes"] = summary["model_bytes"] + summary["arena_bytes"]
    return files, summary


def export_app(run_dir: str, output_dir: str, arena_margin: int = ARENA_MARGIN) -> dict:
    files, summary = generate(run_dir, arena_margin)
    if os.path.abspath(output_dir) == os.path.abspath(APP_TEMPLATE):
        raise UserError("--output_dir must not be the tflm_app/ template itself")
    shutil.copytree(APP_TEMPLATE, output_dir, dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns(GENERATED, "build*", "__pycache__"))
    from embbert_tf.export import cpp

    cpp.write(os.path.join(output_dir, GENERATED), files)
    artifacts.write_json(os.path.join(output_dir, "export.json"), summary)
    return summary


def main(argv):
    if not FLAGS.model:
        raise UserError("--model is required: the run directory of a trained model")
    out = FLAGS.output_dir or os.path.join(FLAGS.model, "tflm_app")
    summary = export_app(FLAGS.model, out, FLAGS.arena_margin)
    print(f"[export] {out}: model {summary['model_bytes']:,} B + arena {summary['arena_bytes']:,} B = "
          f"{summary['total_bytes']:,} B; {len(summary['ops'])} ops: {', '.join(summary['ops'])}")
    if FLAGS.arduino:
        from embbert_tf.export import arduino

        path = arduino.write_library(FLAGS.model, FLAGS.arduino, os.path.join(out, GENERATED))
        print(f"[export] Arduino library in {path}")


if __name__ == "__main__":
    from pipelines import evaluate  # noqa: F401  (defines --model)

    common.run_main(main)
