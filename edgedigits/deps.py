"""Optional dependencies: import them, or fail with the install line that provides them."""

from __future__ import annotations

import contextlib
import importlib
import os
import re
import sys
import tempfile

from edgedigits.errors import EdgeDigitsError


def require(module: str, extra: str):
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise EdgeDigitsError(
            f"{module} is not installed ({exc}); install it with: pip install 'edgedigits[{extra}]'"
        ) from None


@contextlib.contextmanager
def silenced_native_output(fds: tuple[int, ...] = (1, 2), keep: bool = False):
    """Take what native code (TensorFlow, its converters, LiteRT, libpng, the TFLM allocator) writes to ``fds``
    away from the terminal, whatever its log level says. With ``keep``, the yielded list receives that text when the
    block ends; without, it goes to /dev/null."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(fd) for fd in fds]
    captured: list[str] = []
    with (tempfile.TemporaryFile(mode="w+", errors="replace") if keep else open(os.devnull, "w")) as sink:
        try:
            for fd in fds:
                os.dup2(sink.fileno(), fd)
            yield captured
        finally:
            sys.stdout.flush()
            for fd, copy in zip(fds, saved):
                os.dup2(copy, fd)
                os.close(copy)
            if keep:
                sink.seek(0)
                captured.append(sink.read())


# What TensorFlow's native code logs on a machine without a GPU, and on every tf.data map: noise, not warnings.
NATIVE_NOISE = re.compile(rb"cuInit|cuda drivers|cudart_stub|Unable to register cu|computation placer|"
                          rb"NodeDef mentions attribute|All log messages before absl::InitializeLog|oneDNN custom "
                          rb"operations|TensorFlow binary is optimized|TF-TRT Warning|rebuild TensorFlow")
_LOG_PREFIX = re.compile(rb"^([EWIF]\d{4} |WARNING: All log)")
_filter_thread = None


def _pump(read_fd: int, out_fd: int) -> None:
    """Copy ``read_fd`` to ``out_fd`` as it comes, holding back only a native log line until it is whole, and
    dropping those that match ``NATIVE_NOISE``."""
    pending = b""
    while True:
        chunk = os.read(read_fd, 65536)
        if not chunk:
            break
        pending += chunk
        while pending:
            if _LOG_PREFIX.match(pending) or (len(pending) < 16 and _LOG_PREFIX.match(pending + b"0000 ")):
                line, newline, rest = pending.partition(b"\n")
                if not newline:
                    break  # a log line still coming
                if not NATIVE_NOISE.search(line):
                    os.write(out_fd, line + newline)
                pending = rest
            else:
                cut = pending.find(b"\n") + 1 or len(pending)
                os.write(out_fd, pending[:cut])
                pending = pending[cut:]
    if pending:
        os.write(out_fd, pending)


def quiet_native_stderr() -> None:
    """From now on, fd 2 passes through a filter that drops TensorFlow's known native noise (``NATIVE_NOISE``)
    and keeps everything else, real warnings and errors included. Flushed and undone at exit."""
    global _filter_thread
    if _filter_thread is not None:
        return
    import atexit
    import threading

    sys.stderr.flush()
    read_fd, write_fd = os.pipe()
    original = os.dup(2)
    os.dup2(write_fd, 2)
    os.close(write_fd)
    _filter_thread = threading.Thread(target=_pump, args=(read_fd, original), daemon=True, name="stderr-filter")
    _filter_thread.start()

    def restore():
        sys.stderr.flush()
        os.dup2(original, 2)  # the pipe's last writer closes: the pump drains and ends
        _filter_thread.join(timeout=5)

    atexit.register(restore)


def tensorflow():
    """Import TensorFlow quietly (training and export only; the runtime never calls this)."""
    if "tensorflow" in sys.modules:
        return sys.modules["tensorflow"]
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    with silenced_native_output():
        tf = require("tensorflow", "train")
    tf.get_logger().setLevel("ERROR")
    quiet_native_stderr()
    return tf


def keras_backend() -> str:
    """Import Keras for training, on TensorFlow (imported quietly) unless $KERAS_BACKEND names another backend
    (jax: a GPU machine without TensorFlow); returns the backend's name."""
    if os.environ.get("KERAS_BACKEND", "tensorflow") == "tensorflow":
        tensorflow()
    return require("keras", "train").backend.backend()
