"""The TFLM C++ application (and optionally an Arduino library) for an int8 model, from objects in memory.

Example:

>>> import embbert_tf as eb
>>> summary = eb.export_cpp(tflite, tokenizer, ["negative", "positive"], "build/app")  # doctest: +SKIP
>>> summary["total_bytes"]  # flash (model) + RAM (arena)                                # doctest: +SKIP
"""
from __future__ import annotations

import os
import shutil

from embbert_tf import artifacts, flatbuffer, micro, tflm_kernels
from embbert_tf.errors import UserError
from embbert_tf.export import APP_TEMPLATE, ARDUINO_PORT_ARENA_FACTOR, ARENA_MARGIN, GENERATED, arena_bytes, cpp



def generate(tflite: bytes, tokenizer, class_names: list[str], *, text_columns: int = 1,
             arena_margin: int = ARENA_MARGIN, source: str = "model", vocab_source: str = "vocab.txt",
             task: str = "model") -> tuple[dict[str, str], dict]:
    """{file: contents} of the generated sources, and a summary (bytes, arena, ops)."""
    audit = tflm_kernels.audit(tflite, os.path.basename(source))
    if audit.problems or audit.float_tensors:
        first = audit.problems[0] if audit.problems else f"float tensor {audit.float_tensors[0]}"
        raise UserError(f"cannot export {source}: {first}; TFLM cannot run this model in int8")
    graph = flatbuffer.read(tflite).subgraphs[0]
    sequence_length = int(graph.tensors[graph.inputs[0]].shape[1])
    # The arena does not depend on the ids' values; any input measures it.
    probe = tokenizer.encode_columns([["a probe sentence"]] * text_columns, sequence_length)[0][0]
    arena = micro.minimal_arena(tflite, probe)
    summary = {"model": source, "task": task, "model_bytes": len(tflite), "measured_arena_bytes": arena,
               "arena_margin_bytes": arena_margin, "arena_bytes": arena_bytes(arena, arena_margin),
               "arduino_arena_bytes": arena_bytes(arena, arena_margin, ARDUINO_PORT_ARENA_FACTOR),
               "ops": audit.ops, "op_types": audit.op_types, "sequence_length": sequence_length,
               "classes": list(class_names)}
    summary["total_bytes"] = summary["model_bytes"] + summary["arena_bytes"]
    files = {}
    files.update(cpp.model_sources(tflite, source))
    files.update(cpp.settings_sources(ops=list(audit.ops), sequence_length=sequence_length,
                                      head_tokens=tokenizer.head_tokens(sequence_length),
                                      class_names=list(class_names), measured_arena=arena, margin=arena_margin,
                                      arena=summary["arena_bytes"], arduino_arena=summary["arduino_arena_bytes"],
                                      source=source))
    files.update(cpp.tokenizer_sources(tokenizer, vocab_source))
    return files, summary


def export_cpp(tflite: bytes, tokenizer, class_names: list[str], output_dir: str, *, arduino: str | None = None,
               text_columns: int = 1, arena_margin: int = ARENA_MARGIN, task: str = "model",
               source: str = "model", vocab_source: str = "vocab.txt") -> dict:
    """Write the TFLM C++ application for an int8 model into `output_dir` (CMake, Bazel, the classifier with
    its on-device tokenizer, and the generated model, vocabulary and settings), and with `arduino` an
    Arduino library into that folder.

    Args:
        tflite: a fully-int8 flatbuffer (`to_int8_tflite`).
        tokenizer: the `Tokenizer` the model was trained with.
        class_names: printed by the app and the sketch for each output.
        output_dir: the application's folder.
        arduino: a folder for the Arduino library, or None.
        text_columns: 2 for sentence-pair models.
        arena_margin: bytes added to the measured arena for optimized kernels' scratch buffers.
        task: names the Arduino library (EmbBERT_<TASK>).
        source, vocab_source: where the model and vocabulary came from, for the generated comments.
    Returns a summary: model_bytes, arena_bytes, total_bytes, ops, and `arduino` (the library's path).
    """
    files, summary = generate(tflite, tokenizer, class_names, text_columns=text_columns, arena_margin=arena_margin,
                              source=source, vocab_source=vocab_source, task=task)
    if os.path.abspath(output_dir) == os.path.abspath(APP_TEMPLATE):
        raise UserError("--output_dir must not be the tflm_app/ template itself")
    shutil.copytree(APP_TEMPLATE, output_dir, dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns(GENERATED, "build*", "__pycache__"))
    cpp.write(os.path.join(output_dir, GENERATED), files)
    artifacts.write_json(os.path.join(output_dir, artifacts.EXPORT_SUMMARY), summary)
    summary["arduino"] = None
    if arduino:
        from embbert_tf.export import arduino as library

        summary["arduino"] = library.write_library(task, arduino, os.path.join(output_dir, GENERATED))
    return summary



def export_run(run_dir: str, output_dir: str | None = None, *, arena_margin: int = ARENA_MARGIN,
               arduino: str | None = None) -> dict:
    """`export_cpp` for a run directory's shipped int8 model, into `output_dir` (default <run>/tflm_app)."""
    run = artifacts.Run(run_dir)
    return export_cpp(run.tflite(), run.tokenizer(), run.info.classes or ["score"],
                      output_dir or run.path(artifacts.APP_DIR), arduino=arduino,
                      text_columns=len(run.task_spec.text_columns), arena_margin=arena_margin, task=run.task,
                      source=run.path(artifacts.INT8_MODEL), vocab_source=run.path(artifacts.VOCAB))
