"""Running on a Raspberry Pi: a systemd unit for the camera, and a doctor that says what is missing and how to fix it."""

from __future__ import annotations

import os
import platform
import pwd
import re
import grp
import shlex
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from importlib import util
from pathlib import Path

from edgedigits.errors import EdgeDigitsError
from edgedigits.files import atomic_write
from edgedigits import environment
from edgedigits.backends import BACKENDS
from edgedigits.environment import board_model, cpu_features

UNIT_DIR = Path("/etc/systemd/system")
UNIT_NAME = re.compile(r"[A-Za-z0-9:_.\\@-]{1,240}")  # systemd.unit(5): these characters, 255 with ".service"


def check_unit_name(name: str) -> str:
    """A service name systemd accepts, and one that cannot leave ``UNIT_DIR`` or add a line to the unit."""
    if not UNIT_NAME.fullmatch(name) or name.startswith(".") or name.startswith("-"):
        raise EdgeDigitsError(f"{name!r} is not a valid service name: use letters, digits and : _ . - @ "
                              "(no slash, space or newline)")
    return name


# ---------------------------------------------------------------- systemd


def invoking_user() -> str:
    """The user behind sudo, or the current one. The service never runs as root."""
    user = os.environ.get("SUDO_USER") or pwd.getpwuid(os.getuid()).pw_name
    if user == "root":
        raise EdgeDigitsError("the camera service runs as a normal user: run this with sudo from that user's shell, "
                              "or pass --user NAME")
    return user


def unit_text(camera_args: list[str], user: str, name: str = "edgedigits") -> str:
    check_unit_name(name)
    if user == "root":
        raise EdgeDigitsError("the camera service must not run as root: pass --user NAME")
    try:
        entry = pwd.getpwnam(user)
    except KeyError:
        raise EdgeDigitsError(f"no such user: {user}") from None
    group = grp.getgrgid(entry.pw_gid).gr_name
    command = shlex.join([sys.executable, "-m", "edgedigits", "camera", *camera_args])
    return f"""[Unit]
Description=edgedigits camera: reads handwritten digits ({name})
Documentation=https://pypi.org/project/edgedigits/
After=network-online.target
Wants=network-online.target

[Service]
Type=simple
User={user}
Group={group}
SupplementaryGroups=video
WorkingDirectory={entry.pw_dir}
Environment=PYTHONUNBUFFERED=1
ExecStart={command}
Restart=on-failure
RestartSec=5
KillSignal=SIGTERM
TimeoutStopSec=15
StandardOutput=journal
StandardError=journal
SyslogIdentifier={name}

[Install]
WantedBy=multi-user.target
"""


def camera_command(source: str, serve: str | None, model: Path | None, extra: list[str]) -> list[str]:
    """The ``edgedigits camera`` options the service runs with: JSON lines to the journal, always."""
    args = ["--source", source, "--json"]
    if serve:
        args += ["--serve", serve]
    if model:
        args += ["--model", str(Path(model).resolve())]
    return args + list(extra)


def _systemctl(*args: str) -> subprocess.CompletedProcess:
    if shutil.which("systemctl") is None:
        raise EdgeDigitsError("systemctl not found: the service needs systemd (Raspberry Pi OS has it)")
    return subprocess.run(["systemctl", *args], capture_output=True, text=True)


def _need_root(action: str) -> None:
    if os.geteuid() != 0:
        raise EdgeDigitsError(f"{action} writes to {UNIT_DIR}: run it with sudo (the service still runs as you)")


def install_service(unit: str, name: str) -> Path:
    check_unit_name(name)
    _need_root("service install")
    path = UNIT_DIR / f"{name}.service"
    atomic_write(path, unit)
    for args in (("daemon-reload",), ("enable", "--now", f"{name}.service")):
        result = _systemctl(*args)
        if result.returncode != 0:
            raise EdgeDigitsError(f"systemctl {' '.join(args)} failed: {result.stderr.strip().splitlines()[-1:]}")
    return path


def uninstall_service(name: str) -> None:
    check_unit_name(name)
    _need_root("service uninstall")
    path = UNIT_DIR / f"{name}.service"
    if not path.exists():
        raise EdgeDigitsError(f"{path} does not exist: nothing to uninstall")
    _systemctl("disable", "--now", f"{name}.service")
    path.unlink()
    _systemctl("daemon-reload")


def service_status(name: str) -> tuple[int, str]:
    result = _systemctl("status", "--no-pager", f"{name}.service")
    return result.returncode, (result.stdout + result.stderr).strip()


# ---------------------------------------------------------------- doctor


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
    from edgedigits import runtime
    from edgedigits.registry import BUNDLED_DIR

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

    models, default_model = [], runtime.default_model()
    for path in sorted(BUNDLED_DIR.glob("*.tflite")) + sorted(BUNDLED_DIR.glob("*.onnx")):
        try:
            clf = runtime.load(path)
            default = ", the default" if path == default_model else ""
            models.append(f"{path.name} ({path.stat().st_size / 1024:.0f} KB, {clf.classes} classes, loads{default})")
        except EdgeDigitsError as exc:
            models.append(f"{path.name} (does not load)")
            report.problem(f"{path.name} does not load: {exc}", "pip install --force-reinstall edgedigits")
    report.fact("bundled models", "; ".join(models) or "none")
    return report
