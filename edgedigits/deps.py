"""Optional dependencies: import them, or fail with the install line that provides them."""

from __future__ import annotations

import contextlib
import importlib
import os
import sys

from edgedigits.errors import EdgeDigitsError


def require(module: str, extra: str):
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        raise EdgeDigitsError(
            f"{module} is not installed ({exc}); install it with: pip install 'edgedigits[{extra}]'"
        ) from None


@contextlib.contextmanager
def silenced_native_output():
    """Hide what TensorFlow and its converters write to fds 1 and 2 (whatever the log level says)."""
    sys.stdout.flush()
    sys.stderr.flush()
    saved = [os.dup(1), os.dup(2)]
    try:
        with open(os.devnull, "w") as devnull:
            os.dup2(devnull.fileno(), 1)
            os.dup2(devnull.fileno(), 2)
            yield
    finally:
        sys.stdout.flush()
        for fd, copy in zip((1, 2), saved):
            os.dup2(copy, fd)
            os.close(copy)


def tensorflow():
    """Import TensorFlow quietly (training and export only; the runtime never calls this)."""
    if "tensorflow" in sys.modules:
        return sys.modules["tensorflow"]
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    with silenced_native_output():
        tf = require("tensorflow", "train")
    tf.get_logger().setLevel("ERROR")
    return tf


def keras_backend() -> str:
    """Import Keras for training, on TensorFlow (imported quietly) unless $KERAS_BACKEND names another backend
    (jax: a GPU machine without TensorFlow); returns the backend's name."""
    if os.environ.get("KERAS_BACKEND", "tensorflow") == "tensorflow":
        tensorflow()
    return require("keras", "train").backend.backend()
