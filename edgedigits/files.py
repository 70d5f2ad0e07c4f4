"""Files: written so that a crash or a kill never leaves a half-written one under the real name, hashed, cached."""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


@contextlib.contextmanager
def atomic_path(path: str | Path) -> Iterator[Path]:
    """A hidden temporary path beside ``path`` (same suffix, for writers that check it) to write to; renamed
    into place when the block ends, deleted if it raises. The file gets the mode a plain ``open`` would give."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=f".tmp{''.join(path.suffixes)}")
    os.close(fd)
    try:
        yield Path(tmp)
        os.chmod(tmp, 0o666 & ~_umask())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write(path: str | Path, data: bytes | str) -> None:
    """Write ``data`` to ``path`` through ``atomic_path``."""
    with atomic_path(path) as tmp:
        tmp.write_bytes(data.encode() if isinstance(data, str) else data)


def write_json(path: str | Path, obj) -> None:
    atomic_write(path, json.dumps(obj, indent=2) + "\n")


def cache_dir(name: str) -> Path:
    """``$XDG_CACHE_HOME/edgedigits/NAME`` (``~/.cache`` when unset): downloads and exports made on demand."""
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "edgedigits" / name


def sha256(path: Path) -> str:
    """A file's SHA-256, hex."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()
