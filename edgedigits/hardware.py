"""What machine this is: board model, CPU model and CPU feature flags, read from /proc (``root`` is for tests)."""

from __future__ import annotations

import platform
from pathlib import Path


def _read(path: Path) -> str | None:
    try:
        return path.read_text(errors="replace").replace("\x00", "").strip()
    except OSError:
        return None


def _cpuinfo(root: Path, keys: tuple[str, ...]) -> list[str]:
    """The values of the /proc/cpuinfo lines whose key is in ``keys``."""
    values = []
    for line in (_read(root / "proc/cpuinfo") or "").splitlines():
        key, _, value = line.partition(":")
        if key.strip() in keys:
            values.append(value.strip())
    return values


def board_model(root: Path = Path("/")) -> str | None:
    """'Raspberry Pi 5 Model B Rev 1.0', from the device tree or cpuinfo; None on other machines."""
    return _read(root / "proc/device-tree/model") or next(iter(_cpuinfo(root, ("Model",))), None)


def cpu_model(root: Path = Path("/")) -> str:
    return next(iter(_cpuinfo(root, ("model name",))), None) or platform.processor() or platform.machine()


def cpu_features(root: Path = Path("/")) -> set[str]:
    """ISA flags: x86 'flags' (avx2, avx512_vnni, ...) or Arm 'Features' (asimd, asimddp, ...)."""
    return {flag for value in _cpuinfo(root, ("flags", "Features")) for flag in value.split()}
