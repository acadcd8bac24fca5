"""Benchmark: the exported C++ app on the x86 host and on Cortex-M55 / Cortex-M4 under QEMU.

    ./run python -m benchmarks.device --model models/sst2 [--model_256 runs/benchmark_sst2]

Needs TFLM trees (tflm_app/README.md) in environment variables: TFLM_DIR (x86, reference kernels),
TFLM_DIR_REF_M55, TFLM_DIR_M55 (CMSIS-NN), TFLM_DIR_REF_M4, TFLM_DIR_M4 (CMSIS-NN); plus cmake,
arm-none-eabi-gcc and qemu-system-arm. A configuration whose tree is missing is reported as skipped.

For each model: x86 latency per inference (median of the app's own timing over the sentences), the
instructions executed inside Invoke on each QEMU board (a TCG plugin between two marker functions: exact,
repeatable), flash and RAM from arm-none-eabi-size, and whether the int8 outputs are bit-exact with the
Python TFLM interpreter. Results: benchmarks/results/device.json and device.md.
"""
from __future__ import annotations

import dataclasses
import os
import re
import shutil
import statistics
import subprocess
import tempfile

import numpy as np
from absl import app, flags

from benchmarks import write_results
from embbert_tf import artifacts, data, flatbuffer, micro

FLAGS = flags.FLAGS
flags.DEFINE_multi_string("model", ["models/sst2"], "Run directories (or shipped model folders) to benchmark.")
flags.DEFINE_string("work_dir", None, "Build folder (default: a temporary one; reuse it to skip rebuilding TFLM).")
flags.DEFINE_integer("sentences", 20, "SST-2 validation sentences per board (QEMU is slow).")
flags.DEFINE_string("results_dir", "benchmarks/results", "Where device.json / device.md go.")

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BOARDS = [  # name, target, QEMU board, tree variable, kernels, our kernels (tflm_app/src) on
    ("M55 reference", "m55", "mps3-an547", "TFLM_DIR_REF_M55", "reference", False),
    ("M55 CMSIS-NN", "m55", "mps3-an547", "TFLM_DIR_M55", "cmsis-nn", False),
    ("M55 CMSIS-NN + ours", "m55", "mps3-an547", "TFLM_DIR_M55", "cmsis-nn + ours", True),
    ("M4 reference", "m4", "mps2-an386", "TFLM_DIR_REF_M4", "reference", False),
    ("M4 CMSIS-NN", "m4", "mps2-an386", "TFLM_DIR_M4", "cmsis-nn", False),
    ("M4 CMSIS-NN + ours", "m4", "mps2-an386", "TFLM_DIR_M4", "cmsis-nn + ours", True),
]
TARGETS = {"M55": 10.0, "M4": 4.0}  # issue 16: CMSIS-NN + ours vs reference kernels, instructions per Invoke
HEAVY_OPS = ("FULLY_CONNECTED", "BATCH_MATMUL", "DEPTHWISE_CONV_2D")  # the ops that hold the multiply-adds


def sh(cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw)


def tree(var):
    path = os.environ.get(var)
    return path if path and os.path.exists(os.path.join(path, "tensorflow/lite/micro/micro_interpreter.h")) else None


def build(project, build_dir, tree_dir, target, own=True):
    """Configure and build; the same build folder with our kernels on or off recompiles only the app's own
    sources, so TFLM compiles once per tree. Returns the executable, copied aside for that setting."""
    args = ["cmake", "-S", project, "-B", build_dir, f"-DTFLM_DIR={tree_dir}", f"-DEMBBERT_TARGET={target}",
            "-DEMBBERT_PROFILE=ON",  # the marker calls the instruction-counting plugin needs
            f"-DEMBBERT_OWN_KERNELS={'ON' if own else 'OFF'}"]
    if target != "host":
        args.append(f"-DCMAKE_TOOLCHAIN_FILE={os.path.join(project, 'cmake', 'arm-none-eabi.cmake')}")
    sh(args)
    sh(["cmake", "--build", build_dir, "-j", str(os.cpu_count() or 2)])
    exe = os.path.join(build_dir, "embbert_app" if target == "host" else "embbert_app.elf")
    kept = os.path.join(build_dir, f"{'ours' if own else 'tflm'}_{os.path.basename(exe)}")
    shutil.copyfile(exe, kept)
    shutil.copymode(exe, kept)
    return kept


# Our kernels' sources (tflm_app/src/): their tables and sums live on the stack during their Eval.
KERNEL_SOURCES = ("add_sub.cc", "batch_matmul.cc", "depthwise_conv.cc", "fully_connected.cc", "logistic_table.cc",
                  "mean_last_axis.cc", "mul_broadcast.cc")


def kernel_stack(build_dir):
    """The largest stack frame (bytes, GCC's -fstack-usage) of each of our kernel sources in that build."""
    frames = {}
    for source in KERNEL_SOURCES:
        su = os.path.join(build_dir, "CMakeFiles", "embbert.dir", "src", source + ".su")
        if os.path.exists(su):
            with open(su) as f:
                frames[source] = max((int(line.split("\t")[1]) for line in f if line.strip()), default=0)
    return frames


def raw_outputs(stdout):
    return np.array([[int(v) for v in line.split("\t")[0].split()] for line in stdout.strip().splitlines()])


def plugin(work):
    lib = os.path.join(work, "libinsncount.so")
    source = os.path.join(ROOT, "tflm_app", "plugins", "insn_count.c")
    if not os.path.exists(lib) or os.path.getmtime(lib) < os.path.getmtime(source):
        sh(["cc", "-O2", "-shared", "-fPIC", os.path.join(ROOT, "tflm_app", "plugins", "insn_count.c"), "-o", lib])
    return lib


def by_op(tflite, per_op):
    """Instructions of the first Invoke by op type, largest first ({} if the counts do not match the ops)."""
    model = flatbuffer.read(tflite)
    names = [flatbuffer.op_name(model, op) for op in model.subgraphs[0].operators]
    if len(names) != len(per_op):
        return {}
    totals = {}
    for name, count in zip(names, per_op):
        totals[name] = totals.get(name, 0) + count
    return dict(sorted(totals.items(), key=lambda kv: -kv[1]))


def symbol(elf, name):
    out = sh(["arm-none-eabi-nm", elf]).stdout
    m = re.search(rf"^([0-9a-f]+) T {name}$", out, re.M)
    return int(m.group(1), 16)


def size(elf):
    text, data_bytes, bss = (int(v) for v in sh(["arm-none-eabi-size", elf]).stdout.splitlines()[1].split()[:3])
    return {"text": text, "data": data_bytes, "bss": bss, "flash": text + data_bytes, "ram": data_bytes + bss}


def bench_model(model_dir, work, sentences):
    run = artifacts.Run(model_dir)
    split = data.load_split(data.get_task(run.task), "validation" if run.task != "imdb" else "test", None)
    texts = split.texts[0][:sentences]
    ids = run.tokenizer().encode_split(split.head(sentences), run.sequence_length).ids
    want, _ = micro.TFLM(run.tflite()).run(ids)
    # One project folder and one build folder per tree for every model: TFLM compiles once per tree, and a
    # new model only recompiles its generated sources.
    project = os.path.join(work, "project")
    sh([os.path.join(ROOT, "run"), "python", "-m", "pipelines.export", "--model", model_dir, "--output_dir", project])
    export = artifacts.read_json(os.path.join(project, artifacts.EXPORT_SUMMARY))
    text = "\n".join(texts) + "\n"
    result = {"model": model_dir, "task": run.task, "sequence_length": run.sequence_length,
              "model_bytes": export["model_bytes"], "arena_bytes": export["arena_bytes"], "boards": {}}

    host_tree = tree("TFLM_DIR")
    if host_tree:
        b = os.path.join(work, "build_host")
        exes = {own: build(project, b, host_tree, "host", own) for own in (False, True)}
        # The two builds alternate, round by round, so the machine's load falls on both alike.
        us = {False: [], True: []}
        for _ in range(5):
            for own, exe in exes.items():  # median of 4 Classify() per sentence, 5 rounds
                timed = sh([exe, "--time", "4"], input=text).stdout
                us[own] += [float(line.rsplit("\t", 1)[1].split()[0]) for line in timed.strip().splitlines()]
        result["host"] = {"bit_exact": bool((raw_outputs(sh([exes[False], "--raw"], input=text).stdout) == want).all()),
                          "bit_exact_ours": bool((raw_outputs(sh([exes[True], "--raw"], input=text).stdout) == want).all()),
                          "median_ms_per_classify": statistics.median(us[False]) / 1000,
                          "median_ms_per_classify_ours": statistics.median(us[True]) / 1000}
    for name, target, board, var, kernels, own in BOARDS:
        t = tree(var)
        if not t or not shutil.which("qemu-system-arm") or not shutil.which("arm-none-eabi-g++"):
            result["boards"][name] = {"skipped": f"{var} not set or toolchain/QEMU missing"}
            continue
        elf = build(project, os.path.join(work, f"build_{var}"), t, target, own)
        spec = (f"{plugin(work)},begin={symbol(elf, 'embbert_invoke_begin'):#x},end={symbol(elf, 'embbert_invoke_end'):#x},"
                f"op_begin={symbol(elf, 'embbert_op_begin'):#x},op_end={symbol(elf, 'embbert_op_end'):#x}")
        proc = subprocess.run([os.path.join(project, "scripts", "run.sh"), "--board", board, "--plugin", spec, elf,
                               "--raw"], input=text, capture_output=True, text=True, timeout=3600)
        counts = [int(c) for c in re.findall(r"invoke=\d+ instructions=(\d+)", proc.stdout + proc.stderr)]
        per_op = [int(c) for c in re.findall(r"op=\d+ instructions=(\d+)", proc.stdout + proc.stderr)]
        # The smallest arena this build (32-bit pointers, these kernels' scratch buffers) allocates in.
        found = subprocess.run([os.path.join(project, "scripts", "run.sh"), "--board", board, elf, "--find-arena"],
                               capture_output=True, text=True, timeout=600).stdout.split()
        lines = [l for l in proc.stdout.splitlines() if not l.startswith("insn_count")]
        errors = [l for l in lines if l.startswith("error")]
        if errors or proc.returncode:
            raise SystemExit(f"{name} on {board} failed (exit {proc.returncode}): "
                             f"{(errors or [proc.stderr.strip()[-500:]])[0]}")
        outputs = raw_outputs("\n".join(lines))
        result["boards"][name] = {"board": board, "kernels": kernels, "instructions_per_invoke": int(np.median(counts)),
                                  "instructions_min_max": [min(counts), max(counts)], "invokes": len(counts),
                                  "bit_exact_with_python_tflm": bool(outputs.shape == want.shape and (outputs == want).all()),
                                  "min_arena_bytes": int(found[-1]) if found and found[-1].isdigit() else None,
                                  "instructions_by_op": by_op(run.tflite(), per_op),
                                  **size(elf)}
        if own:
            result["boards"][name]["kernel_stack_bytes"] = kernel_stack(os.path.join(work, f"build_{var}"))
        if result["boards"][name]["min_arena_bytes"]:
            result["boards"][name]["model_plus_min_arena_bytes"] = (export["model_bytes"]
                                                                    + result["boards"][name]["min_arena_bytes"])
    for m in TARGETS:
        ref = result["boards"].get(f"{m} reference", {}).get("instructions_per_invoke")
        for suffix, key in (("CMSIS-NN", "cmsis_nn_speedup"), ("CMSIS-NN + ours", "ours_speedup")):
            opt = result["boards"].get(f"{m} {suffix}", {}).get("instructions_per_invoke")
            if ref and opt:
                result[f"{m}_{key}"] = ref / opt
    return result


def markdown(results):
    lines = ["# EmbBERT on the device: x86 host and Cortex-M under QEMU", "",
             "Instruction counts are those executed inside `Invoke()` (QEMU TCG plugin between two marker "
             "functions; they repeat exactly). App flash = text + data, app RAM = data + bss (the whole program: "
             "model, TFLM, tokenizer tables, the static arena of kTensorArenaSize, stack and heap). The smallest "
             "arena is what `embbert_app --find-arena` finds on that build (32-bit pointers, that build's "
             "kernels); the model + smallest arena column is the memory EmbBERT itself needs there.", ""]
    for r in results:
        lines += [f"## {r['task']} model, L = {r['sequence_length']} ({r['model_bytes']:,} B model, "
                  f"{r['arena_bytes']:,} B arena)", ""]
        if "host" in r:
            h = r["host"]
            lines.append(f"x86 host app, reference kernels: {h['median_ms_per_classify']:.2f} ms per Classify() "
                         f"(tokenize + Invoke; median over sentences and 5 alternating rounds of 4 runs); "
                         f"bit-exact with the Python TFLM interpreter: {h['bit_exact']}.")
            if "median_ms_per_classify_ours" in h:
                lines.append(f"With our kernels: {h['median_ms_per_classify_ours']:.2f} ms "
                             f"({h['median_ms_per_classify'] / h['median_ms_per_classify_ours']:.2f}× faster, "
                             f"measured side by side); bit-exact: {h['bit_exact_ours']}.")
        lines += ["", "| board | kernels | instructions / invoke | app flash B | app RAM B | smallest arena B | "
                  "model + smallest arena B | bit-exact |", "|---|---|---|---|---|---|---|---|"]
        for name, b in r["boards"].items():
            if "skipped" in b:
                lines.append(f"| {name} | – | skipped: {b['skipped']} | | | | | |")
            else:
                arena = b.get("min_arena_bytes")
                memory = f"{arena:,} | **{b['model_plus_min_arena_bytes']:,}**" if arena else "– | –"
                lines.append(f"| {name} | {b['kernels']} | {b['instructions_per_invoke']:,} | {b['flash']:,} | "
                             f"{b['ram']:,} | {memory} | {b['bit_exact_with_python_tflm']} |")
        for name, b in r["boards"].items():
            without = r["boards"].get(name.replace(" + ours", ""), {})
            if b.get("kernel_stack_bytes") and "flash" in without:
                lines.append(f"\n{name}: our kernels take {b['flash'] - without['flash']:+,} B of flash; their "
                             "tables and sums live on the stack during their Eval only (no arena, no static RAM), "
                             "largest frame per source: " + ", ".join(
                                 f"{source} {n:,} B" for source, n in b["kernel_stack_bytes"].items()) + ".")
        boards = [(n, b) for n, b in r["boards"].items() if b.get("instructions_by_op")]
        if boards:
            ops = list(boards[0][1]["instructions_by_op"])
            lines += ["", "Instructions of one Invoke by op type (the first sentence):", "",
                      "| op | " + " | ".join(n for n, _ in boards) + " |", "|---|" + "---|" * len(boards)]
            for op in ops:
                lines.append(f"| {op} | " + " | ".join(f"{b['instructions_by_op'].get(op, 0):,}" for _, b in boards) + " |")
        for m, target in TARGETS.items():
            if f"{m}_cmsis_nn_speedup" not in r:
                continue
            lines.append(f"\n{m}: CMSIS-NN executes {r[f'{m}_cmsis_nn_speedup']:.1f}× fewer instructions than the "
                         "reference kernels" + (f"; CMSIS-NN + ours {r[f'{m}_ours_speedup']:.1f}× (target ≥ "
                                                f"{target:g}×: {'met' if r[f'{m}_ours_speedup'] >= target else 'not met'})"
                                                if f"{m}_ours_speedup" in r else "") + ".")
            best = r["boards"].get(f"{m} CMSIS-NN + ours") or r["boards"][f"{m} CMSIS-NN"]
            ops = best.get("instructions_by_op")
            if ops:
                total = sum(ops.values())
                rest = {op: n for op, n in ops.items() if op not in HEAVY_OPS and n > 0.05 * total}
                lines.append(f"Largest ops outside {', '.join(HEAVY_OPS)} on {m} {best['kernels']}: "
                             + ", ".join(f"{op} {100 * n / total:.0f} %" for op, n in rest.items())
                             + f" of its Invoke (target: none above 20 %); the heavy three take "
                             f"{100 * sum(ops.get(op, 0) for op in HEAVY_OPS) / total:.0f} %.")
        lines.append("")
    return "\n".join(lines)


def at_256(model_dir, work):
    """A run directory for the L=256 flatbuffer that pipelines.full keeps beside the model, if any."""
    src = os.path.join(model_dir, "model_int8_L256.tflite")
    if not os.path.exists(src):
        return None
    dst = os.path.join(work, "L256_run")
    os.makedirs(dst, exist_ok=True)
    dataclasses.replace(artifacts.RunInfo.load(model_dir), sequence_length=256).save(dst)
    shutil.copyfile(os.path.join(model_dir, artifacts.VOCAB), os.path.join(dst, artifacts.VOCAB))
    shutil.copyfile(src, os.path.join(dst, "model_int8.tflite"))
    return dst


def main(argv):
    os.chdir(ROOT)
    work = FLAGS.work_dir or tempfile.mkdtemp(prefix="embbert_device_")
    models = list(FLAGS.model) + [d for d in (at_256(m, work) for m in FLAGS.model) if d]
    results = [bench_model(m, work, FLAGS.sentences) for m in models]
    write_results(FLAGS.results_dir, "device", results, markdown(results))


if __name__ == "__main__":
    app.run(main)
