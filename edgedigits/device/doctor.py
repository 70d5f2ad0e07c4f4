"""``edgedigits doctor``: what a Raspberry Pi (or any machine) has installed, and the one-line fix for what is missing.
"""

from __future__ import annotations

import grp
import os
import platform
import pwd
from dataclasses import dataclass, field
from importlib import util
from pathlib import Path

from edgedigits import environment
from edgedigits.device import pins
from edgedigits.environment import board_model, cpu_features
from edgedigits.errors import EdgeDigitsError
from edgedigits.runtime import bundled, load, store
from edgedigits.runtime.backends import BACKENDS


@dataclass
class Report:
    facts: list[tuple[str, str]] = field(default_factory=list)
    problems: list[tuple[str, str]] = field(default_factory=list)  # (what is wrong, the one-line fix)

    def fact(self, key: str, value: str) -> None:
        self.facts.append((key, value))

    def problem(self, what: str, fix: str) -> None:
        self.problems.append((what, fix))

    def to_json(self) -> dict:
        return {"facts": dict(self.facts), "problems": [{"problem": p, "fix": f} for p, f in self.problems]}


def doctor(root: Path = Path("/")) -> Report:
    report = Report()
    machine = platform.machine()
    model = board_model(root)
    report.fact("board", model or "not a Raspberry Pi (no device-tree model)")
    report.fact("architecture", f"{machine}, Python {platform.python_version()}")
    flags = cpu_features(root)
    if machine in ("aarch64", "arm64", "armv7l"):
        neon = "yes" if flags & {"asimd", "neon"} else "no"
        dotprod = "yes" if "asimddp" in flags else "no (Pi 4 and older: int8 runs slower than on a Pi 5)"
        report.fact("cpu features", f"NEON {neon}, dotprod {dotprod}")
    else:
        report.fact("cpu features", ", ".join(f for f in ("avx2", "avx512f", "avx512_vnni", "amx_int8") if f in flags)
                    or "none of avx2/avx512/vnni")
    if machine == "armv7l":
        report.problem("32-bit OS: ai-edge-litert has no armv7l wheels",
                       "pip install tflite-runtime 'numpy<2' (or use the .onnx model where onnxruntime has a wheel)")

    device = [b for b in BACKENDS.values() if b.extra != "train"]  # the backends a device installs
    runtimes = [f"{b.package} {environment.version(b.package) or ('present' if b.installed() else 'missing')}"
                for b in device]
    cv2 = environment.version("opencv-python-headless") or environment.version("opencv-python")
    runtimes += [f"opencv-python-headless {cv2 or ('present' if util.find_spec('cv2') else 'missing')}",
                 f"numpy {environment.version('numpy')}"]
    report.fact("runtimes", "; ".join(runtimes))
    for engine, formats in (("litert", ".tflite (the default int8 model)"), ("onnxruntime", ".onnx")):
        choices = [b for b in device if b.engine == engine]
        if not any(b.installed() for b in choices):
            report.problem(f"no {engine} backend: {formats} models cannot run",
                           f"pip install 'edgedigits[{choices[0].extra}]' (or pip install {choices[0].package})")
    if util.find_spec("cv2") is None:
        report.problem("OpenCV missing: predict and camera cannot read images", "pip install opencv-python-headless")
    wrong = pins.differences(machine)
    if wrong:
        said = ", ".join(f"{name} {have or 'missing'} (checked: {want})" for name, want, have in wrong)
        report.problem(f"versions differ from the checked device set: {said}",
                       f"pip install --require-hashes -r {pins.pin_file(machine)}")
    elif pins.pin_file(machine).is_file():
        report.fact("versions", f"as checked ({pins.pin_file(machine).name})")
    if util.find_spec("tensorflow") is not None:
        report.fact("tensorflow", "installed (not needed on the device; the runtime never imports it)")

    cameras = sorted(str(p) for p in (root / "dev").glob("video*")) if (root / "dev").is_dir() else []
    picam = util.find_spec("picamera2") is not None
    report.fact("cameras", f"picamera2 {'available' if picam else 'missing'}; V4L2: {', '.join(cameras) or 'none'}")
    if model and "Raspberry Pi" in model and not picam:
        report.problem("picamera2 missing: --source picam will not work",
                       "sudo apt install python3-picamera2, then make the venv with --system-site-packages")
    if not cameras and not picam:
        report.problem("no camera found", "connect a camera (CSI: enable it in raspi-config; USB: check dmesg)")
    try:
        user = pwd.getpwuid(os.getuid()).pw_name
        if cameras and user != "root" and "video" not in {g.gr_name for g in grp.getgrall() if user in g.gr_mem}:
            report.problem(f"{user} is not in the video group", f"sudo usermod -aG video {user} (then log in again)")
    except KeyError:
        pass

    models, default_model = [], bundled.default_model()
    for path in sorted(bundled.BUNDLED_DIR.glob("*.tflite")) + sorted(bundled.BUNDLED_DIR.glob("*.onnx")):
        try:
            clf = load(path)
            default = ", the default" if path == default_model else ""
            models.append(f"{path.name} ({path.stat().st_size / 1024:.0f} KB, {clf.classes} classes, loads{default})")
        except EdgeDigitsError as exc:
            models.append(f"{path.name} (does not load)")
            report.problem(f"{path.name} does not load: {exc}", "pip install --force-reinstall edgedigits")
    report.fact("bundled models", "; ".join(models) or "none")
    mine = store.in_use()
    if store.fallback:
        report.problem(store.fallback, f"edgedigits models use <run or file> to install {mine} again, or "
                       "edgedigits models use camera")
    where = f"yours, from {default_model.parent}" if mine and not store.fallback else "bundled"
    report.fact("model in use", f"{default_model.name} ({where}; change it with edgedigits models use)")
    return report
