"""The camera as a systemd service: the unit, never root, install needs root."""


import pytest

from edgedigits.device import service
from edgedigits.errors import EdgeDigitsError
from tests.helpers import run_cli


def test_unit_runs_the_camera_as_the_invoking_user():
    proc = run_cli("service", "install", "--dry-run", "--serve", "0.0.0.0:8080", "--", "--max-fps", "10",
                   env={"SUDO_USER": "nobody"})
    assert proc.returncode == 0, proc.stderr
    unit = proc.stdout
    assert "\nUser=nobody\n" in unit and "User=root" not in unit
    assert "-m edgedigits camera --source picam --json --serve 0.0.0.0:8080 --max-fps 10" in unit
    assert "\nRestart=on-failure\n" in unit and "\nStandardOutput=journal\n" in unit
    assert "\nSupplementaryGroups=video\n" in unit and "\nWantedBy=multi-user.target\n" in unit
    assert unit.startswith("[Unit]\n") and "\n[Service]\n" in unit and "\n[Install]\n" in unit


def test_never_root():
    refused = run_cli("service", "install", "--dry-run", env={"SUDO_USER": "root"})  # sudo from root's shell
    assert refused.returncode == 1 and "runs as a normal user" in refused.stderr and not refused.stdout
    named = run_cli("service", "install", "--dry-run", "--user", "nobody")
    assert named.returncode == 0 and "\nUser=nobody\n" in named.stdout and "User=root" not in named.stdout
    with pytest.raises(EdgeDigitsError, match="must not run as root"):
        service.unit_text(["--source", "0"], "root")
    with pytest.raises(EdgeDigitsError, match="no such user"):
        service.unit_text(["--source", "0"], "no-such-user-xyz")


def test_install_needs_root(monkeypatch):
    monkeypatch.setattr(service.os, "geteuid", lambda: 1000)
    with pytest.raises(EdgeDigitsError, match="run it with sudo"):
        service.install_service("[Unit]\n", "edgedigits-test")
    with pytest.raises(EdgeDigitsError, match="run it with sudo"):
        service.uninstall_service("edgedigits-test")
