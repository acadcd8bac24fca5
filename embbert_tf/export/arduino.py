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
# Flash besides the model: TFLM (the port, with this model's ops), the classifier, the tokenizer and its
# tables with the SST-2 vocabulary, and newlib, measured as a Cortex-M4 build against the port (QEMU
# mps2-an386, -Os): 699,496 B of text, 379,428 of them the model. A board's core comes on top.
CODE_BYTES = 320_068
CORE_ALLOWANCE = 256 * 1024  # flash left for the board's core (Mbed OS on the boards below)
STACK_ALLOWANCE = 64 * 1024  # RAM for the stack, the core and the sketch besides the arena
# Arduino architectures the port targets (its Arm Cortex-M boards), with their smallest board.
BOARDS = (  # (architectures value, board, flash bytes, RAM bytes)
    ("mbed_nano", "Nano 33 BLE / BLE Sense (nRF52840)", 1024 * 1024, 256 * 1024),
    ("mbed_nicla", "Nicla Vision (STM32H747)", 2048 * 1024, 1024 * 1024),
    ("mbed_portenta", "Portenta H7 (STM32H747)", 2048 * 1024, 1024 * 1024),
    ("mbed_giga", "GIGA R1 WiFi (STM32H747)", 2048 * 1024, 1024 * 1024),
)


def fitting_architectures(model_bytes: int, arena: int) -> list[str]:
    """The `architectures` of BOARDS whose flash holds the model, the code and a core, and whose RAM holds the
    arena and a stack.

    Example:

    >>> fitting_architectures(379_424, 82_528)
    ['mbed_nano', 'mbed_nicla', 'mbed_portenta', 'mbed_giga']
    >>> fitting_architectures(1_500_000, 82_528)
    ['mbed_nicla', 'mbed_portenta', 'mbed_giga']
    """
    return [arch for arch, _, flash, ram in BOARDS
            if model_bytes + CODE_BYTES + CORE_ALLOWANCE <= flash and arena + STACK_ALLOWANCE <= ram]


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
    arena = summary["arduino_arena_bytes"]
    fits = fitting_architectures(summary["model_bytes"], arena)
    if not fits:
        print(f"[export] warning: no board in {', '.join(b[1] for b in BOARDS)} has the flash and RAM this model "
              f"needs ({summary['model_bytes'] + CODE_BYTES:,} B flash, {arena:,} B arena)")
    values = dict(name=name, task=task, version="0.1.0", model_bytes=summary["model_bytes"],
                  num_ops=len(summary["ops"]), arena_bytes=arena, flash_bytes=summary["model_bytes"] + CODE_BYTES,
                  architectures=",".join(fits) or "*", guard=name.upper() + "_H_")
    cpp.write(root, {"library.properties": cpp.render("arduino/library.properties", **values)})
    cpp.write(src, {f"{name}.h": cpp.render("arduino/library.h", **values)})
    cpp.write(os.path.join(root, "examples", example), {f"{example}.ino": cpp.render("arduino/example.ino", **values)})
    return root
