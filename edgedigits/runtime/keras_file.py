"""A .keras file opened safely: a one-line error for anything that is not one, and no archive that would
allocate gigabytes before Keras notices.
"""

from __future__ import annotations

import json
import math
import zipfile
from pathlib import Path

from edgedigits.deps import keras_backend
from edgedigits.errors import EdgeDigitsError


def load_keras(path: Path):
    """Load a .keras model for inference, with a one-line error for anything that is not one."""
    path = Path(path)
    if not path.is_file():
        raise EdgeDigitsError(f"model file not found: {path}")
    if not zipfile.is_zipfile(path):
        raise EdgeDigitsError(f"{path} is not a Keras model (.keras files are zip archives)")
    _check_keras_sizes(path)
    keras_backend()  # TensorFlow, quietly, unless $KERAS_BACKEND names another
    import keras

    try:
        return keras.models.load_model(path, compile=False)
    except Exception as exc:  # Keras raises many types for a damaged archive
        raise EdgeDigitsError(f"{path} is not a valid Keras model ({type(exc).__name__}: {exc})") from None


MAX_ARCHIVE_BYTES = 1 << 30  # what a .keras archive may unpack to


def _declared_params(config) -> int:
    """A lower bound on the weights a Keras config declares (filters x kernel, units, embeddings), read from
    the config alone, before anything is built."""
    total = 0
    if isinstance(config, dict):
        inner = config.get("config") if isinstance(config.get("config"), dict) else {}
        kind = config.get("class_name") if isinstance(config.get("class_name"), str) else ""  # a damaged config
        size = inner.get("filters") or inner.get("units") or 0                               # may hold anything

        def whole(value) -> int:
            return value if isinstance(value, int) and not isinstance(value, bool) else 0

        if kind.endswith(("Conv1D", "Conv2D", "Conv3D")) and whole(size):
            kernel = inner.get("kernel_size", 1)
            kernel = math.prod(whole(k) for k in kernel) if isinstance(kernel, (list, tuple)) else whole(kernel)
            total += size * kernel
        elif kind == "Dense":
            total += whole(size)
        elif kind == "Embedding":
            total += whole(inner.get("input_dim")) * whole(inner.get("output_dim"))
        total += sum(_declared_params(v) for v in config.values() if isinstance(v, (dict, list)))
    elif isinstance(config, list):
        total += sum(_declared_params(v) for v in config)
    return total


def _check_keras_sizes(path: Path) -> None:
    """Refuse an archive that unpacks to more than ``MAX_ARCHIVE_BYTES``, or whose config declares more weights
    than its weights file holds (a config asking for a million filters would allocate gigabytes first)."""
    try:
        with zipfile.ZipFile(path) as archive:
            sizes = {info.filename: info.file_size for info in archive.infolist()}
            if sum(sizes.values()) > MAX_ARCHIVE_BYTES:
                raise EdgeDigitsError(f"{path} unpacks to {sum(sizes.values()):,} bytes, over {MAX_ARCHIVE_BYTES:,}")
            config = json.loads(archive.read("config.json")) if "config.json" in sizes else None
    except EdgeDigitsError:
        raise
    except Exception as exc:  # a damaged archive: bad zip, unsupported compression or flags, truncated members
        raise EdgeDigitsError(f"{path} is not a valid Keras model ({type(exc).__name__})") from None
    weights = sizes.get("model.weights.h5", 0)
    declared = _declared_params(config) * 4  # float32 bytes
    if config is not None and declared > weights + (1 << 20):
        raise EdgeDigitsError(f"{path} declares at least {declared:,} bytes of weights but holds {weights:,}")
