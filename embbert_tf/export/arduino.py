"""An Arduino library (1.5 layout) for one trained model: library.properties, src/ with the classifier,
tokenizer, model and vocabulary, and examples/<Task>/<Task>.ino classifying lines typed on Serial.

It builds on the TensorFlow Lite Micro Arduino port (library Arduino_TensorFlowLite, header
TensorFlowLite.h, from tensorflow/tflite-micro-arduino-examples)."""
from __future__ import annotations

import os
import re
import shutil

from embbert_tf import artifacts
from embbert_tf.export import APP_TEMPLATE, cpp

APP_SRC = os.path.join(APP_TEMPLATE, "src")


def library_name(task: str) -> str:
    return "EmbBERT_" + re.sub(r"[^A-Za-z0-9]", "_", task).upper()


def write_library(task: str, parent: str, generated_dir: str) -> str:
    """Write the library for a model of `task` into parent/<name>/ from the app's generated sources (and
    the export.json beside them); returns the path."""
    summary = artifacts.read_json(os.path.join(os.path.dirname(generated_dir), artifacts.EXPORT_SUMMARY))
    name = library_name(task)
    example = name.removeprefix("EmbBERT_").capitalize()
    root = os.path.join(parent, name)
    src = os.path.join(root, "src")
    os.makedirs(src, exist_ok=True)
    for f in sorted(os.listdir(APP_SRC)):
        shutil.copyfile(os.path.join(APP_SRC, f), os.path.join(src, f))
    for f in sorted(os.listdir(generated_dir)):
        shutil.copyfile(os.path.join(generated_dir, f), os.path.join(src, f))
    values = dict(name=name, task=task, version="0.1.0", model_bytes=summary["model_bytes"],
                  num_ops=len(summary["ops"]), arena_bytes=summary["arena_bytes"], guard=name.upper() + "_H_")
    cpp.write(root, {"library.properties": cpp.render("arduino/library.properties", **values)})
    cpp.write(src, {f"{name}.h": cpp.render("arduino/library.h", **values)})
    cpp.write(os.path.join(root, "examples", example), {f"{example}.ino": cpp.render("arduino/example.ino", **values)})
    return root
