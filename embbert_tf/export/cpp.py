"""C++ sources generated from a trained run, from the small templates in templates/."""
from __future__ import annotations

import importlib.metadata as md
import os
import string

from embbert_tf.config import CLS_ID, PAD_ID, SEP_ID, UNK_ID
from embbert_tf.export import unicode_tables
from embbert_tf.tokenizer import Tokenizer

TEMPLATES = os.path.join(os.path.dirname(__file__), "templates")


def render(template: str, /, **values) -> str:
    with open(os.path.join(TEMPLATES, template + ".tmpl")) as f:
        return string.Template(f.read()).substitute(values)


def numbers(values, per_line: int = 12) -> str:
    values = [str(int(v)) for v in values]
    return "".join("    " + ", ".join(values[i : i + per_line]) + ",\n" for i in range(0, len(values), per_line))


def c_string(data: bytes, per_line: int = 64) -> str:
    """Bytes as adjacent C string literals; octal escapes keep any byte (and NULs) exact."""
    if not data:
        return '    ""'
    lines = []
    for i in range(0, len(data), per_line):
        chunk = data[i : i + per_line]
        lines.append('    "' + "".join(
            chr(b) if 32 <= b < 127 and chr(b) not in '"\\?' else f"\\{b:03o}" for b in chunk) + '"')
    return "\n".join(lines)


def hex_bytes(data: bytes, per_line: int = 16) -> str:
    return "".join("    " + ", ".join(f"0x{b:02x}" for b in data[i : i + per_line]) + ",\n"
                   for i in range(0, len(data), per_line))


def _pool(entries: list[bytes]) -> tuple[bytes, list[int]]:
    offsets, pool = [0], bytearray()
    for e in entries:
        pool += e
        offsets.append(len(pool))
    return bytes(pool), offsets


MAX_NORMAL_FORM = 32  # kMaxNormalForm in tokenizer.cc


def _split_run(run):
    """Runs longer than a uint16 length, as several (kind and value hold for every piece)."""
    first, length, kind, value = run
    while length > 0xFFFF:
        yield [first, 0xFFFF, kind, value]
        first, length = first + 0xFFFF, length - 0xFFFF
    yield [first, length, kind, value]


def tokenizer_sources(tokenizer: Tokenizer, vocab_source: str) -> dict[str, str]:
    """{file name: contents} for tokenizer_data.h/.cc."""
    entries = sorted((w.encode("utf-8"), i) for i, w in enumerate(tokenizer.vocab))
    vocab_pool, vocab_offsets = _pool([e for e, _ in entries])
    tables = unicode_tables.compact(tokenizer.vocab)
    runs = [piece for r in tables["runs"] for piece in _split_run(r)]
    keys = sorted(tables["multi"])
    if any(len(tables["multi"][k]) > MAX_NORMAL_FORM for k in keys):
        raise ValueError(f"a normal form is longer than the C++ tokenizer's {MAX_NORMAL_FORM} code points")
    multi_pool, multi_offsets = _pool([tables["multi"][k].encode("utf-8") for k in keys])
    split = [v for lo_hi in tables["split"] for v in lo_hi]
    cc = render(
        "tokenizer_data.cc",
        vocab_source=vocab_source, vocab_size=len(entries), tf_version=md.version("tensorflow"),
        tf_text_version=md.version("tensorflow-text"),
        vocab_pool=c_string(vocab_pool), vocab_offsets_len=len(vocab_offsets), vocab_offsets=numbers(vocab_offsets),
        vocab_ids=numbers(i for _, i in entries),
        run_count=len(runs), run_first=numbers(r[0] for r in runs), run_length=numbers(r[1] for r in runs),
        run_kind=numbers(r[2] for r in runs), run_value=numbers(r[3] for r in runs),
        multi_count=len(keys), multi_keys=numbers(keys), multi_offsets_len=len(multi_offsets),
        multi_offsets=numbers(multi_offsets), multi_pool=c_string(multi_pool),
        split_len=len(split), split_ranges=numbers(split), split_count=len(tables["split"]),
        pad_id=PAD_ID, unk_id=UNK_ID, cls_id=CLS_ID, sep_id=SEP_ID,
    )
    return {"tokenizer_data.h": render("tokenizer_data.h"), "tokenizer_data.cc": cc}


def write(directory: str, files: dict[str, str]) -> list[str]:
    os.makedirs(directory, exist_ok=True)
    paths = []
    for name, text in files.items():
        path = os.path.join(directory, name)
        with open(path, "w") as f:
            f.write(text)
        paths.append(path)
    return paths


def model_sources(tflite: bytes, source: str) -> dict[str, str]:
    return {"model_data.h": render("model_data.h", model_bytes=len(tflite)),
            "model_data.cc": render("model_data.cc", source=source, data=hex_bytes(tflite), model_bytes=len(tflite))}


def settings_sources(*, ops: list[str], sequence_length: int, head_tokens: int, class_names: list[str],
                     measured_arena: int, margin: int, arena: int, arduino_arena: int, source: str) -> dict[str, str]:
    """model_settings.{h,cc}: `arena` and `arduino_arena` are the kTensorArenaSize values (`export.arena_bytes`)
    for TFLM and for the Arduino port, from the `measured_arena` and `margin` the header explains;
    `head_tokens` is what a too-long text keeps of its start (`Tokenizer.head_tokens`)."""
    from embbert_tf.export import ARDUINO_PORT_ARENA_FACTOR
    from embbert_tf.tflm_kernels import OWN_KERNELS, RESOLVER_METHODS

    def tflm(op):
        return f"  if (resolver.tflm().{RESOLVER_METHODS[op]}() != kTfLiteOk) return kTfLiteError;"

    def own(op):
        registration, parser, _ = OWN_KERNELS[op]
        return (f"  if (resolver.AddOwn(tflite::BuiltinOperator_{op}, {registration}(), {parser}) != kTfLiteOk) {{\n"
                f"    return kTfLiteError;\n  }}")

    lines = [tflm(op) for op in ops if op not in OWN_KERNELS]
    for op in (op for op in ops if op in OWN_KERNELS):
        lines += [f"#if {OWN_KERNELS[op][2]}", own(op), "#else", tflm(op), "#endif"]
    register = "\n".join(lines)
    names = ", ".join('"' + n.replace("\\", "\\\\").replace('"', '\\"') + '"' for n in class_names)
    tail = ("" if head_tokens >= sequence_length - 2 else
            f" and its last {sequence_length - 2 - head_tokens}")
    h = render("model_settings.h", source=source, sequence_length=sequence_length, num_classes=len(class_names),
               head_tokens=head_tokens, head_note=f"its first {head_tokens} word pieces{tail}",
               measured=measured_arena, margin=margin, arena=arena, num_ops=len(ops),
               arduino_arena=arduino_arena,
               arduino_factor=ARDUINO_PORT_ARENA_FACTOR,
               num_own_ops=max(1, sum(op in OWN_KERNELS for op in ops)), register_ops=register)
    return {"model_settings.h": h, "model_settings.cc": render("model_settings.cc", class_names=names)}
