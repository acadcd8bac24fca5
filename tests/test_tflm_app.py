"""The exported C++ application against the Python TFLM interpreter: bit-exact int8 outputs on the whole
SST-2 validation set on the x86 host build, the same on Cortex-M under QEMU, the ctest suite (the app's
checks and our kernels against TFLM's), the Arduino sketch compiled against a stand-in for the Arduino
API, and the Arduino library on the TFLM Arduino port in C++14, run on a Cortex-M4 under QEMU.

These need a TFLM source tree (see tflm_app/README.md): TFLM_DIR (x86, reference kernels) and, for the
Cortex-M tests, TFLM_DIR_M55 / TFLM_DIR_M4 (trees made for those targets) with arm-none-eabi-gcc and
qemu-system-arm; ARDUINO_TFLM_DIR for the port. Each test skips with the reason when what it needs is
absent. Each run builds in its own folder (TFLM compiles once per run); EMBBERT_APP_TESTS_DIR names a
folder to keep the builds in between runs instead (then run one at a time).
"""
import importlib.metadata
import os
import re
import shutil
import subprocess

import numpy as np
import pytest

from embbert_tf import artifacts, data, micro, tflm_kernels
from conftest import ROOT, run_module

JOBS = str(os.cpu_count() or 2)


def _need_tree(var="TFLM_DIR"):
    path = os.environ.get(var)
    if not path or not os.path.exists(os.path.join(path, "tensorflow/lite/micro/micro_interpreter.h")):
        pytest.skip(f"{var} is not set to a TFLM tree from create_tflm_tree.py (see tflm_app/README.md)")
    return path


@pytest.fixture(scope="module")
def app(sst2_run, tmp_path_factory):
    """The exported project for the small SST-2 run, built for the host."""
    tree = _need_tree()
    if not shutil.which("cmake"):
        pytest.skip("cmake is not installed")
    from pathlib import Path

    out = Path(os.environ.get("EMBBERT_APP_TESTS_DIR") or tmp_path_factory.mktemp("app_tests"))
    project, arduino = out / "project", tmp_path_factory.mktemp("arduino")
    run_module("pipelines.export", "--model", str(sst2_run), "--output_dir", str(project), "--arduino", str(arduino))
    build = out / "host"
    subprocess.run(["cmake", "-S", str(project), "-B", str(build), f"-DTFLM_DIR={tree}"], check=True,
                   capture_output=True)
    subprocess.run(["cmake", "--build", str(build), "-j", JOBS], check=True, capture_output=True)
    return {"run": sst2_run, "project": project, "build": build, "arduino": arduino}


def _validation(run_dir):
    run = artifacts.Run(str(run_dir))
    split = data.load_split(data.get_task("sst2"), "validation", os.environ["EMBBERT_DATA_DIR"])
    return run, split, run.tokenizer().encode_split(split, run.sequence_length).ids


def _raw_lines(stdout: str) -> np.ndarray:
    return np.array([[int(v) for v in line.split("\t")[0].split()] for line in stdout.strip().splitlines()])


def _versions(tree):
    """Which TFLM each side is: the wheel's commit from its metadata, the tree's from TFLM_COMMIT if the
    tree has one (tflm_app/README.md writes it)."""
    meta = importlib.metadata.metadata("tflite_micro").get_payload() or ""
    wheel = (re.search(r"built from commit\s*\[([0-9a-f]+)\]", meta) or [None, "unknown"])[1]
    stamp = os.path.join(tree, "TFLM_COMMIT")
    built = open(stamp).read().strip() if os.path.exists(stamp) else "unknown (no TFLM_COMMIT file in the tree)"
    return f"tflite_micro wheel built from TFLM {wheel}, C++ tree {tree} at TFLM {built}"


def test_host_app_is_bit_exact_with_the_python_tflm_interpreter(app):
    run, split, ids = _validation(app["run"])
    want, _ = micro.TFLM(run.tflite()).run(ids)
    text = "\n".join(split.texts[0]) + "\n"
    out = subprocess.run([str(app["build"] / "embbert_app"), "--raw"], input=text.encode(), capture_output=True,
                         check=True).stdout.decode()
    got = _raw_lines(out)
    assert got.shape == want.shape == (872, 2)
    rows = np.nonzero((got != want).any(axis=1))[0]
    assert not len(rows), (f"{len(rows)} of 872 sentences differ (rows {rows[:5].tolist()}: C++ "
                           f"{got[rows[:5]].tolist()} vs Python {want[rows[:5]].tolist()}); "
                           f"{_versions(os.environ['TFLM_DIR'])}")


def test_ctest_suite_passes(app):
    proc = subprocess.run(["ctest", "--test-dir", str(app["build"]), "--output-on-failure"], capture_output=True,
                          text=True)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert "100% tests passed" in proc.stdout


def test_generated_resolver_holds_exactly_the_models_ops(app):
    summary = artifacts.read_json(str(app["project"] / "export.json"))
    settings = (app["project"] / "generated" / "model_settings.h").read_text()
    ops = summary["ops"]
    assert "MixedOpResolver<kNumOps" in settings and f"kNumOps = {len(ops)};" in settings
    # Every op has TFLM's kernel (one define away for those that also have ours).
    assert settings.count("resolver.tflm().Add") == len(ops)
    assert settings.count("resolver.AddOwn(") == len([op for op in ops if op in tflm_kernels.OWN_KERNELS]) >= 1
    assert summary["total_bytes"] == summary["model_bytes"] + summary["arena_bytes"]


def test_arduino_sketch_compiles_and_classifies_with_a_stand_in_arduino_api(app, tmp_path):
    tree = _need_tree()
    (library,) = [p for p in app["arduino"].iterdir() if p.is_dir()]
    props = (library / "library.properties").read_text()
    assert "name=EmbBERT_SST2" in props and "depends=Arduino_TensorFlowLite" in props
    (sketch,) = list((library / "examples").glob("*/*.ino"))
    stub = os.path.join(ROOT, "tests", "arduino_stub")
    main = tmp_path / "sketch.cc"
    main.write_text('#include "Arduino.h"\n' + sketch.read_text())
    lib = str(app["build"] / "libtflm.a")
    cmd = ["g++", "-std=c++17", "-O1", "-DTF_LITE_STATIC_MEMORY", "-I", stub, "-I", str(library / "src"),
           "-I", tree, "-I", f"{tree}/third_party/flatbuffers/include", "-I", f"{tree}/third_party/gemmlowp",
           "-I", f"{tree}/third_party/ruy",  # TFLM's reference kernels, which ours call, include its profiler
           str(main), os.path.join(stub, "sketch_main.cc"), *map(str, sorted((library / "src").glob("*.cc"))),
           lib, "-o", str(tmp_path / "sketch")]
    subprocess.run(cmd, check=True, capture_output=True)
    out = subprocess.run([str(tmp_path / "sketch")], input=b"a gorgeous , witty , seductive movie .\n\xff\n",
                         capture_output=True, check=True).stdout.decode()
    lines = out.strip().splitlines()
    assert lines[0].startswith("EmbBERT sst2 ready")
    assert lines[1].split("\t")[0] in ("negative", "positive") and lines[1].endswith(" ms")
    assert lines[2] == "error: text is not valid UTF-8"


def _cortex_m_build(app, target, var):
    """The app built for `target` against the tree in $`var` (skips without one)."""
    tree = _need_tree(var)
    for tool in ("arm-none-eabi-g++", "qemu-system-arm"):
        if not shutil.which(tool):
            pytest.skip(f"{tool} is not installed (apt install gcc-arm-none-eabi qemu-system-arm ...)")
    build = app["build"].parent / var
    subprocess.run(["cmake", "-S", str(app["project"]), "-B", str(build), f"-DTFLM_DIR={tree}",
                    f"-DEMBBERT_TARGET={target}",
                    f"-DCMAKE_TOOLCHAIN_FILE={app['project'] / 'cmake' / 'arm-none-eabi.cmake'}"],
                   check=True, capture_output=True)
    subprocess.run(["cmake", "--build", str(build), "-j", JOBS], check=True, capture_output=True)
    return build


@pytest.mark.parametrize("target,board,var", [("m55", "mps3-an547", "TFLM_DIR_M55"),
                                              ("m4", "mps2-an386", "TFLM_DIR_M4")])
def test_kernels_on_cortex_m_under_qemu_are_bit_exact_with_tflms(app, target, board, var):
    """kernel_test on the core: the DSP paths of our kernels against TFLM's kernels of that tree."""
    build = _cortex_m_build(app, target, var)
    subprocess.run(["cmake", "--build", str(build), "--target", "kernel_test", "-j", JOBS], check=True,
                   capture_output=True)
    proc = subprocess.run([str(app["project"] / "scripts" / "run.sh"), "--board", board,
                           str(build / "kernel_test.elf"), "300"], capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-2000:] + proc.stderr[-2000:]
    lines = proc.stdout.strip().splitlines()
    # One line a check; SKIP (with its reason) for a kernel that build does not register.
    assert len(lines) == 9 and all(line.startswith(("PASS ", "SKIP ")) for line in lines), proc.stdout
    assert sum(line.startswith("PASS ") for line in lines) >= 8, proc.stdout


@pytest.mark.parametrize("target,board,var", [("m55", "mps3-an547", "TFLM_DIR_M55"),
                                              ("m4", "mps2-an386", "TFLM_DIR_M4")])
def test_cortex_m_under_qemu_matches_the_host(app, target, board, var):
    build = _cortex_m_build(app, target, var)
    run, split, ids = _validation(app["run"])
    n = 40  # instruction-set emulation is slow; a slice of the validation set
    want, _ = micro.TFLM(run.tflite()).run(ids[:n])
    text = "\n".join(split.texts[0][:n]) + "\n"
    proc = subprocess.run([str(app["project"] / "scripts" / "run.sh"), "--board", board,
                           str(build / "embbert_app.elf"), "--raw"], input=text.encode(), capture_output=True,
                          timeout=900)
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    np.testing.assert_array_equal(_raw_lines(proc.stdout.decode()), want)


def _need_port():
    port = os.environ.get("ARDUINO_TFLM_DIR")
    if not port or not os.path.exists(os.path.join(port, "src", "TensorFlowLite.h")):
        pytest.skip("ARDUINO_TFLM_DIR is not set to a checkout of tensorflow/tflite-micro-arduino-examples "
                    "(see tflm_app/README.md)")
    if not shutil.which("arm-none-eabi-g++"):
        pytest.skip("arm-none-eabi-g++ is not installed (apt install gcc-arm-none-eabi libnewlib-arm-none-eabi)")
    return port


def test_arduino_library_compiles_as_cpp14_against_the_tflm_arduino_port(app, tmp_path):
    """Each source of the exported library, as the Nano 33 BLE core compiles it: -std=gnu++14, Cortex-M4F,
    only the port's src/ and the library's own src/ on the include path, ARDUINO defined."""
    port = _need_port()
    (library,) = [p for p in app["arduino"].iterdir() if p.is_dir()]
    sources = sorted((library / "src").glob("*.cc"))
    assert {"batch_matmul.cc", "classifier.cc", "tokenizer.cc"} <= {s.name for s in sources}
    for source in sources:
        proc = subprocess.run(["arm-none-eabi-g++", "-std=gnu++14", "-mcpu=cortex-m4", "-mfpu=fpv4-sp-d16",
                               "-mfloat-abi=hard", "-mthumb", "-Os", "-DARDUINO=10819", "-Wall", "-Wextra", "-Werror",
                               "-isystem", os.path.join(port, "src"), "-I", str(library / "src"), "-c", str(source),
                               "-o", str(tmp_path / (source.name + ".o"))], capture_output=True, text=True)
        assert proc.returncode == 0, f"{source.name}: {proc.stderr[-2000:]}"


def test_arduino_port_build_on_cortex_m4_classifies_as_the_python_interpreter(app):
    """The app against the port's TFLM (its CMSIS-NN kernels and our BATCH_MATMUL, in the port's larger
    Arduino arena) on QEMU's M4 board. The port is a 2023 TFLM whose kernels round differently from the
    pinned one: on the shipped SST-2 model 516 of 872 sentences differ by up to 7 int8 steps, and every
    label is the same (tflm_app/README.md)."""
    port = _need_port()
    if not shutil.which("qemu-system-arm"):
        pytest.skip("qemu-system-arm is not installed")
    build = app["build"].parent / "arduino_port_m4"
    subprocess.run(["cmake", "-S", str(app["project"]), "-B", str(build), f"-DTFLM_DIR={port}", "-DEMBBERT_TARGET=m4",
                    f"-DCMAKE_TOOLCHAIN_FILE={app['project'] / 'cmake' / 'arm-none-eabi.cmake'}"],
                   check=True, capture_output=True)
    subprocess.run(["cmake", "--build", str(build), "-j", JOBS], check=True, capture_output=True)
    run, split, ids = _validation(app["run"])
    n = 40
    want, _ = micro.TFLM(run.tflite()).run(ids[:n])
    proc = subprocess.run([str(app["project"] / "scripts" / "run.sh"), "--board", "mps2-an386",
                           str(build / "embbert_app.elf"), "--raw"],
                          input=("\n".join(split.texts[0][:n]) + "\n").encode(), capture_output=True, timeout=900)
    assert proc.returncode == 0, proc.stderr.decode()[-2000:]
    got = _raw_lines(proc.stdout.decode())
    assert got.shape == want.shape
    assert np.abs(got.astype(int) - want).max() <= 8
    assert (got.argmax(axis=1) == want.argmax(axis=1)).mean() >= 0.95
