"""MNIST's IDX files: parse and write them, find them in a folder, check them against the official MD5.
"""

from __future__ import annotations

import gzip
import hashlib
import struct
import zlib
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from edgedigits.digit import IMAGE_SIZE
from edgedigits.errors import EdgeDigitsError
from edgedigits.files import atomic_write

# Official MD5 of the decompressed IDX files (yann.lecun.com/exdb/mnist).
OFFICIAL_MD5 = {
    "train-images-idx3-ubyte": "6bbc9ace898e44ae57da46a324031adb",
    "train-labels-idx1-ubyte": "a25bea736e30d166cdddb491f175f624",
    "t10k-images-idx3-ubyte": "2646ac647ad5339dbf082846283269ea",
    "t10k-labels-idx1-ubyte": "27ae3e4e09519cfbb04c329615203637",
}


FULL_SIZE = {"train": 60000, "t10k": 10000}
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


def read_bytes(path: Path) -> bytes:
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


def find_idx(directory: Path, stem: str) -> Path | None:
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


def check_md5(stem: str, digest: str, where: str, expected: dict[str, str]) -> None:
    want = expected.get(stem)
    if want is not None and want != digest:
        raise EdgeDigitsError(f"checksum mismatch for {where}: MD5 {digest}, expected {want} (corrupt or wrong file)")


def verify(stems_arrays: dict[str, np.ndarray], where: dict[str, str], extra: dict[str, str] | None = None):
    """MD5 every payload; full-size MNIST must match the official values, ``extra`` must match too."""
    md5 = {stem: hashlib.md5(idx_bytes(arr)).hexdigest() for stem, arr in stems_arrays.items()}
    full = all(len(arr) == FULL_SIZE[stem.split("-")[0]] for stem, arr in stems_arrays.items())
    for stem, digest in md5.items():
        if full:
            check_md5(stem, digest, where[stem], OFFICIAL_MD5)
        if extra:
            check_md5(stem, digest, where[stem], extra)
    return md5, full


def pair(images: np.ndarray, labels: np.ndarray | None, where: str) -> Split:
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
        path = find_idx(directory, stem)
        if path is None:
            continue
        arrays[stem] = parse_idx(read_bytes(path), str(path))
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
    md5, full = verify(arrays, where, _md5_sidecar(directory))
    ds = Dataset(source=str(directory), md5=md5, verified=full and len(arrays) == 4)
    for prefix, split in (("train", "train"), ("t10k", "test")):
        if f"{prefix}-images-idx3-ubyte" in arrays:
            setattr(
                ds,
                split,
                pair(arrays[f"{prefix}-images-idx3-ubyte"], arrays[f"{prefix}-labels-idx1-ubyte"], str(directory)),
            )
    return ds


def has_idx(directory: Path) -> bool:
    return all(find_idx(directory, stem) for stem in OFFICIAL_MD5)
