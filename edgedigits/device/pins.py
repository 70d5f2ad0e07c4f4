"""The device install that is the same tomorrow: exact versions, with hashes, of everything ``[runtime]`` brings.

One requirements file per machine (``pins/runtime-aarch64.txt`` for Raspberry Pi OS bookworm 64-bit,
``pins/runtime-x86_64.txt``), each for CPython 3.11 and glibc 2.36 (bookworm), installed with
``pip install --require-hashes -r FILE`` and then the project with ``--no-deps``. ``doctor`` says where the installed
versions differ. Refresh both with one command (it asks PyPI for the newest versions that fit, within ``HOLD``):

    python -m edgedigits.device.pins
"""

from __future__ import annotations

import argparse
import hashlib
import platform
import re
import subprocess
import sys
import tempfile
from importlib import metadata
from pathlib import Path

from edgedigits.errors import EdgeDigitsError
from edgedigits.files import atomic_write

PINS_DIR = Path(__file__).resolve().parent / "pins"
PYTHON = "3.11"  # bookworm's Python, as on Raspberry Pi OS
MACHINES = ("aarch64", "x86_64")
GLIBC = 36  # bookworm's glibc 2.36: wheels built for it or any older one install
# Held back, for the Pi's [runtime] venv budget of 250 MB (tests/arm64): OpenCV 5.1 adds 3 MB to it, and numpy
# 2.4 4.4 MB over 2.3 (unpacked aarch64 wheels), with nothing this project uses.
HOLD = {"opencv-python-headless": "5.0.0.93", "numpy": "2.3.5"}
EXTRA = "runtime"


def pin_file(machine: str | None = None) -> Path:
    machine = {"arm64": "aarch64", "amd64": "x86_64"}.get(machine or platform.machine(), machine or platform.machine())
    return PINS_DIR / f"runtime-{machine}.txt"


def read_pins(path: Path) -> dict[str, str]:
    """{normalised name: version} of a pins file."""
    pins = {}
    for line in path.read_text().splitlines():
        found = re.match(r"^([A-Za-z0-9_.\-]+)==([^\s;\\]+)", line)
        if found:
            pins[_normal(found.group(1))] = found.group(2)
    return pins


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def differences(machine: str | None = None) -> list[tuple[str, str, str | None]]:
    """(package, pinned version, installed version or None) for each pin this machine does not match."""
    path = pin_file(machine)
    if not path.is_file():
        return []
    wrong = []
    for name, pinned in read_pins(path).items():
        try:
            installed = metadata.version(name)
        except metadata.PackageNotFoundError:
            installed = None
        if installed != pinned:
            wrong.append((name, pinned, installed))
    return wrong


def device_requirements() -> list[str]:
    """What the base install and ``[runtime]`` ask for, from the installed project's metadata."""
    wanted = []
    for req in metadata.requires("edgedigits") or []:
        spec, _, marker = req.partition(";")
        if not marker.strip() or re.search(rf"extra\s*==\s*['\"]{EXTRA}['\"]", marker):
            name = _normal(re.match(r"[A-Za-z0-9_.\-]+", spec.strip()).group(0))
            wanted.append(f"{name}=={HOLD[name]}" if name in HOLD else spec.strip())
    return sorted(set(wanted))


def refresh(machine: str, out: Path = PINS_DIR) -> Path:
    """Resolve the device requirements for ``machine`` on PyPI (wheels only), and write each wheel's version and
    SHA-256."""
    with tempfile.TemporaryDirectory() as tmp:
        tags = [f"manylinux_2_{minor}_{machine}" for minor in range(GLIBC, 16, -1)] + [f"manylinux2014_{machine}"]
        cmd = [sys.executable, "-m", "pip", "download", "-q", "--only-binary=:all:", "--dest", tmp,
               *(arg for tag in tags for arg in ("--platform", tag)), "--python-version", PYTHON,
               "--implementation", "cp", "--abi", f"cp{PYTHON.replace('.', '')}", *device_requirements()]
        done = subprocess.run(cmd, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            raise EdgeDigitsError(f"pip download for {machine} failed: {done.stderr.strip().splitlines()[-1:]}")
        lines = [f"# edgedigits[{EXTRA}] for {machine}, CPython {PYTHON}, glibc 2.36 (Debian bookworm). Made by:",
                 "#   python -m edgedigits.device.pins",
                 f"# Install: pip install --require-hashes -r {pin_file(machine).name}, then edgedigits with --no-deps."]
        for wheel in sorted(Path(tmp).glob("*.whl"), key=lambda p: p.name.lower()):
            name, version = wheel.name.split("-")[:2]
            digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
            lines.append(f"{_normal(name)}=={version} --hash=sha256:{digest}")
    path = out / pin_file(machine).name
    atomic_write(path, "\n".join(lines) + "\n")
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--machine", choices=MACHINES, action="append",
                        help="refresh only this machine's file (repeatable) [default: all]")
    args = parser.parse_args(argv)
    try:
        for machine in args.machine or MACHINES:
            path = refresh(machine)
            print(f"{path}: {len(read_pins(path))} packages", file=sys.stderr)
    except EdgeDigitsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
