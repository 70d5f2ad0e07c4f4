"""The environment a result comes from: board, CPU model and feature flags (read from /proc; ``root`` is for
tests), library versions and the git commit. Training metrics, export manifests, bench and doctor record them."""

from __future__ import annotations

import os
import platform
import subprocess
import time
from importlib import metadata
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


def version(dist: str) -> str | None:
    """The installed version of a distribution, or None."""
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


LIBRARIES = ("edgedigits", "numpy", "tensorflow", "tensorflow-cpu", "keras", "onnx", "onnxruntime", "tf2onnx",
             "ai-edge-litert", "opencv-python-headless", "jax")


def library_versions() -> dict:
    """Python and the installed versions of the libraries a result depends on."""
    found = {dist: version(dist) for dist in LIBRARIES}
    return {"python": platform.python_version(), **{d: v for d, v in found.items() if v}}


def git_commit() -> str | None:
    try:
        proc = subprocess.run(
            ["git", "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5,
            cwd=Path(__file__).resolve().parent,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return proc.stdout.strip() or None if proc.returncode == 0 else None


ISA_FLAGS = ("avx2", "fma", "avx512f", "avx512_vnni", "avx_vnni", "amx_tile", "amx_int8", "asimd", "asimddp", "sve")


def system_info() -> dict:
    """The machine a measurement ran on: date, CPU, cores, the ISA flags that matter for inference, versions."""
    flags = cpu_features()
    return {"date": time.strftime("%Y-%m-%d %H:%M"), "machine": platform.machine(), "cores": os.cpu_count(),
            "cpu": cpu_model(), "isa": [f for f in ISA_FLAGS if f in flags], "versions": library_versions()}
