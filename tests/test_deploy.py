import json

import pytest

from edgedigits import environment
from edgedigits.device import doctor, service
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


def _fake_pi(tmp_path, model="Raspberry Pi 5 Model B Rev 1.0", features="fp asimd evtstrm crc32 asimddp"):
    (tmp_path / "proc/device-tree").mkdir(parents=True)
    (tmp_path / "proc/device-tree/model").write_text(model + "\x00")
    (tmp_path / "proc/cpuinfo").write_text(f"processor\t: 0\nFeatures\t: {features}\n")
    (tmp_path / "dev").mkdir()
    return tmp_path


def test_doctor_reads_the_board(tmp_path):
    root = _fake_pi(tmp_path)
    assert environment.board_model(root) == "Raspberry Pi 5 Model B Rev 1.0"
    assert {"asimd", "asimddp"} <= environment.cpu_features(root)
    report = doctor.doctor(root)
    facts = dict(report.facts)
    assert facts["board"] == "Raspberry Pi 5 Model B Rev 1.0"
    assert "seed.int8.tflite" in facts["bundled models"] and "loads" in facts["bundled models"]
    fixes = dict(report.problems)
    assert any("picamera2" in p for p in fixes) and "sudo apt install python3-picamera2" in " ".join(fixes.values())
    assert any("no camera" in p for p in fixes)


def test_doctor_cpuinfo_fallback(tmp_path):
    (tmp_path / "proc").mkdir()
    (tmp_path / "proc/cpuinfo").write_text("processor\t: 0\nModel\t\t: Raspberry Pi 4 Model B Rev 1.4\n")
    assert environment.board_model(tmp_path) == "Raspberry Pi 4 Model B Rev 1.4"
    assert environment.board_model(tmp_path / "nothing") is None
    (tmp_path / "proc/cpuinfo").write_text("model name\t: AMD EPYC 9554\nflags\t\t: fpu avx2\n")
    assert environment.cpu_model(tmp_path) == "AMD EPYC 9554" and environment.cpu_features(tmp_path) == {"fpu", "avx2"}


def test_doctor_cli_json():
    proc = run_cli("doctor", "--json")
    report = json.loads(proc.stdout)
    assert {"board", "architecture", "runtimes", "cameras", "bundled models"} <= report["facts"].keys()
    assert proc.returncode == (1 if report["problems"] else 0)
    for item in report["problems"]:
        assert item["fix"] and "\n" not in item["fix"]
