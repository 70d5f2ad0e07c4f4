"""Opt-in: `pytest -m arm64` (root; Debian registries and PyPI reachable; about 10 minutes from scratch)."""

import os
from pathlib import Path

import pytest

pytestmark = pytest.mark.arm64
REPORT = Path(__file__).resolve().parents[2] / "benchmarks" / "results" / "arm64.md"


@pytest.fixture(scope="module")
def results():
    if os.geteuid() != 0:
        pytest.skip("the arm64 check needs root (debootstrap, chroot, mount)")
    import harness

    return harness.check(keep_going=True, report=REPORT)


def test_no_tensorflow_in_the_pi_venv(results):
    env = results["env"]
    assert not env["tensorflow_installed"]
    assert env["python"].startswith("3.11")  # bookworm's Python, as on Raspberry Pi OS
    assert 0 < env["venv_mb"] <= 250  # issue 13: [runtime] is numpy, OpenCV and ai-edge-litert only
    assert env["opencv_wheels"] == ["opencv-python-headless"]  # no second OpenCV pulled in


@pytest.mark.parametrize("model", ["seed.int8.tflite", "seed.onnx"])
@pytest.mark.parametrize("cpu", ["cortex-a72", "cortex-a76"])
def test_same_digits_and_boxes_as_x86(results, model, cpu):
    run = next(r for r in results["runs"] if r["model"] == model and r["cpu"] == cpu)
    assert run["frames"] == 50 and run["images"] == 12 and run["digits"] > 100
    assert run["same_digits"], run["differences"]  # every digit and number read the same on both machines
    assert run["max_box_shift_px"] <= 1, run["differences"]  # OpenCV's float rounding differs on AVX2 and NEON


def test_doctor_and_service_inside_the_rootfs(results):
    doctor = results["doctor"]["output"]
    assert "Raspberry Pi 5" in doctor and "aarch64" in doctor and "NEON yes, dotprod yes" in doctor
    assert "seed.int8.tflite" in doctor and "does not load" not in doctor
    unit = results["service_dry_run"]
    assert unit["exit"] == 0 and "User=nobody" in unit["output"] and "ExecStart=/opt/edgedigits/bin/python" in unit["output"]
