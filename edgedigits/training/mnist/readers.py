"""MNIST found and read: an explicit path (IDX folder, Keras ``mnist.npz``, Kaggle CSV), then ``$EDGEDIGITS_DATA``,
then the user cache, then a download.
"""

from __future__ import annotations

import csv
import os
import zipfile
import zlib
from pathlib import Path

import numpy as np

from edgedigits.digit import IMAGE_SIZE
from edgedigits.errors import EdgeDigitsError
from edgedigits.training.mnist.download import cache_dir, download_mnist
from edgedigits.training.mnist.idx import Dataset, has_idx, load_idx_dir, pair, verify

ENV_VAR = "EDGEDIGITS_DATA"


def load_npz(path: str | Path) -> Dataset:
    path = Path(path)
    try:
        with np.load(path, allow_pickle=False) as npz:
            data = {k: npz[k] for k in npz.files}
    except (OSError, ValueError, zipfile.BadZipFile, EOFError, zlib.error) as exc:
        raise EdgeDigitsError(f"{path} is not a readable .npz file ({exc})") from None
    keys = {"x_train", "y_train", "x_test", "y_test"}
    if not keys <= data.keys():
        raise EdgeDigitsError(f"{path} must hold {sorted(keys)}, found {sorted(data)}")
    for key in keys:
        if data[key].dtype != np.uint8:
            if not np.issubdtype(data[key].dtype, np.integer) or data[key].min() < 0 or data[key].max() > 255:
                raise EdgeDigitsError(f"{path}: {key} must hold uint8 values, got {data[key].dtype}")
            data[key] = data[key].astype(np.uint8)
    arrays = {
        "train-images-idx3-ubyte": data["x_train"],
        "train-labels-idx1-ubyte": data["y_train"],
        "t10k-images-idx3-ubyte": data["x_test"],
        "t10k-labels-idx1-ubyte": data["y_test"],
    }
    md5, full = verify(arrays, {k: f"{path}[{k}]" for k in arrays})
    return Dataset(
        source=str(path),
        train=pair(data["x_train"], data["y_train"], str(path)),
        test=pair(data["x_test"], data["y_test"], str(path)),
        md5=md5,
        verified=full,
    )


def load_kaggle_csv(path: str | Path) -> Dataset:
    """Kaggle Digit Recognizer: ``train.csv`` (label + 784 pixels) or ``test.csv`` (784 pixels, unlabelled)."""
    path = Path(path)
    try:
        with open(path, newline="") as fh:
            reader = csv.reader(fh)
            header = next(reader, None)
            rows = [row for row in reader if row]
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise EdgeDigitsError(f"cannot read {path} as CSV ({exc})") from None
    if header is None:
        raise EdgeDigitsError(f"{path} is empty")
    labelled = header[0] == "label"
    width = 785 if labelled else 784
    if len(header) != width or (not labelled and header[0] != "pixel0"):
        raise EdgeDigitsError(
            f"{path} is not a Digit Recognizer CSV: expected 'label,pixel0..pixel783' or 'pixel0..pixel783'"
        )
    try:
        table = np.array(rows, dtype=np.int64)
    except ValueError:
        raise EdgeDigitsError(f"{path}: every row must hold {width} integers") from None
    if table.ndim != 2 or table.shape[1] != width:
        raise EdgeDigitsError(f"{path}: every row must hold {width} integers")
    if table.size and (table.min() < 0 or table[:, -784:].max() > 255):
        raise EdgeDigitsError(f"{path}: pixel values must be 0-255")
    images = table[:, -IMAGE_SIZE**2:].astype(np.uint8).reshape(-1, IMAGE_SIZE, IMAGE_SIZE)
    labels = table[:, 0].astype(np.uint8) if labelled else None
    split = pair(images, labels, str(path))
    return Dataset(source=str(path), train=split if labelled else None, test=None if labelled else split)


def load_path(path: str | Path) -> Dataset:
    path = Path(path).expanduser()
    if path.is_dir():
        return load_idx_dir(path)
    if not path.exists():
        raise EdgeDigitsError(f"no such file or directory: {path}")
    if path.suffix == ".npz":
        return load_npz(path)
    if path.suffix == ".csv":
        return load_kaggle_csv(path)
    raise EdgeDigitsError(f"{path}: unsupported data file (use an IDX directory, mnist.npz or a Kaggle .csv)")


def load(data: str | Path | None = None, download: bool = True) -> Dataset:
    """Find MNIST: ``data``, then ``$EDGEDIGITS_DATA``, then the cache, then a download into the cache."""
    if data:
        return load_path(data)
    env = os.environ.get(ENV_VAR)
    if env:
        return load_path(env)
    cache = cache_dir()
    if has_idx(cache):
        return load_idx_dir(cache)
    if not download:
        raise EdgeDigitsError(f"MNIST not found: pass --data, set {ENV_VAR}, or allow the download into {cache}")
    return download_mnist(cache)
