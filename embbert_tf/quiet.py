"""C-level output off the console: `capture_fd`, and TensorFlow's start-up noise.

Importing TensorFlow prints, from C++ before any log level applies, lines such as "All log messages
before absl::InitializeLog() is called are written to STDERR" and "Could not find cuda drivers"; every
evaluation worker process prints them again. `install()` makes the first `import tensorflow` run with
the C-level stderr captured and writes back only the lines that are not that noise, so a real problem
still shows. TF_CPP_MIN_LOG_LEVEL=3 (set in embbert_tf/__init__.py) quiets what TensorFlow logs later.
"""
from __future__ import annotations

import contextlib
import importlib.abc
import importlib.util
import os
import re
import sys
import tempfile

NOISE = re.compile(
    r"All log messages before absl::InitializeLog|cudart_stub\.cc|cuda_platform\.cc|cuda_dnn|cuda_fft|cuda_blas|"
    r"oneDNN custom operations|port\.cc:\d+\]|This TensorFlow binary is optimized|To enable the following "
    r"instructions|rebuild TensorFlow with the appropriate compiler flags|TF-TRT Warning|computation placer|"
    r"Unable to register cu")


@contextlib.contextmanager
def capture_fd(fd: int):
    """Capture what C code writes to a file descriptor (TFLM's errors, the converter's logging). Yields a
    list that receives the text once the block ends."""
    out: list[str] = []
    saved = os.dup(fd)
    with tempfile.TemporaryFile(mode="w+b") as tmp:
        os.dup2(tmp.fileno(), fd)
        try:
            yield out
        finally:
            os.dup2(saved, fd)
            os.close(saved)
            tmp.seek(0)
            out.append(tmp.read().decode("utf-8", "replace"))


class _QuietImport(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name != "tensorflow":
            return None
        sys.meta_path.remove(self)  # once: TensorFlow's own submodules import as usual
        spec = importlib.util.find_spec(name)
        if spec is None or spec.loader is None:
            return spec
        inner = spec.loader

        class Loader(importlib.abc.Loader):
            def create_module(self, spec):
                return inner.create_module(spec)

            def exec_module(self, module):
                log: list[str] = []
                try:
                    with capture_fd(2) as log:
                        inner.exec_module(module)
                finally:  # a failed import still shows what it printed
                    kept = [line for line in "".join(log).splitlines(True)
                            if line.strip() and not NOISE.search(line)]
                    if kept:
                        sys.stderr.write("".join(kept))

        spec.loader = Loader()
        return spec


def install() -> None:
    """Quiet the first `import tensorflow` of this process (no effect once it is imported)."""
    if "tensorflow" not in sys.modules and not any(isinstance(f, _QuietImport) for f in sys.meta_path):
        sys.meta_path.insert(0, _QuietImport())
