"""``edgedigits doctor``: the board, its CPU features, and the JSON report."""

import json

from edgedigits import environment
from edgedigits.device import doctor
from tests.helpers import run_cli


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


def test_doctor_says_when_versions_differ_from_the_pins(tmp_path, monkeypatch):
    from edgedigits.device import pins

    pinned = tmp_path / "runtime-x86_64.txt"
    pinned.write_text("# a comment\nnumpy==0.0.1 --hash=sha256:00\nno-such-package-xyz==1.0 --hash=sha256:00\n")
    monkeypatch.setattr(pins, "pin_file", lambda machine=None: pinned)
    assert pins.read_pins(pinned) == {"numpy": "0.0.1", "no-such-package-xyz": "1.0"}
    wrong = {name: have for name, _, have in pins.differences()}
    assert wrong == {"numpy": environment.version("numpy"), "no-such-package-xyz": None}
    problems = dict(doctor.doctor(tmp_path).problems)
    said = next(p for p in problems if "checked device set" in p)
    assert "numpy" in said and "no-such-package-xyz missing" in said
    assert problems[said] == f"pip install --require-hashes -r {pinned}"


def test_the_shipped_pins_hold_every_device_requirement():
    from edgedigits.device import pins

    for machine in pins.MACHINES:
        pinned = pins.read_pins(pins.pin_file(machine))
        wanted = {req.split("=")[0].split(">")[0].split("<")[0] for req in pins.device_requirements()}
        assert wanted <= pinned.keys(), machine
        assert pinned["opencv-python-headless"] == pins.HOLD["opencv-python-headless"]
        lines = [line for line in pins.pin_file(machine).read_text().splitlines() if not line.startswith("#")]
        assert all(" --hash=sha256:" in line for line in lines), machine


def test_doctor_names_the_model_in_use_and_a_damaged_one(tmp_path, monkeypatch):
    import shutil

    from edgedigits.export import promote
    from edgedigits.runtime import bundled

    monkeypatch.setenv("EDGEDIGITS_HOME", str(tmp_path / "home"))
    assert dict(doctor.doctor(_fake_pi(tmp_path / "pi")).facts)["model in use"].startswith("camera.int8.tflite (bundled")
    mine = tmp_path / "mine.int8.tflite"
    shutil.copyfile(bundled.bundled("micro", ".int8.tflite"), mine)
    promote.use(str(mine))
    report = doctor.doctor(tmp_path / "pi")
    assert dict(report.facts)["model in use"].startswith("mine.int8.tflite (yours")
    stored = tmp_path / "home" / "models" / "mine" / "mine.int8.tflite"
    data = stored.read_bytes()
    stored.write_bytes(data[:-1] + bytes([data[-1] ^ 0xFF]))  # one byte changed, as a failing SD card does
    report = doctor.doctor(tmp_path / "pi")
    assert dict(report.facts)["model in use"].startswith("camera.int8.tflite (bundled")
    assert any("does not match its manifest" in problem for problem, _ in report.problems)
