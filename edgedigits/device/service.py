"""The camera as a systemd service: the unit written, installed, removed and asked about.
"""

from __future__ import annotations

import grp
import os
import pwd
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

from edgedigits.errors import EdgeDigitsError
from edgedigits.files import atomic_write

UNIT_DIR = Path("/etc/systemd/system")
UNIT_NAME = re.compile(r"[A-Za-z0-9:_.\\@-]{1,240}")  # systemd.unit(5): these characters, 255 with ".service"


def check_unit_name(name: str) -> str:
    """A service name systemd accepts, and one that cannot leave ``UNIT_DIR`` or add a line to the unit."""
    if not UNIT_NAME.fullmatch(name) or name.startswith(".") or name.startswith("-"):
        raise EdgeDigitsError(f"{name!r} is not a valid service name: use letters, digits and : _ . - @ "
                              "(no slash, space or newline)")
    return name


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
ExecReload=/bin/kill -HUP $MAINPID
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
