import json
import subprocess
import sys

import numpy as np
import pytest

from edgedigits.measure import bench
from edgedigits.runtime.bundled import bundled
from tests.helpers import DATA, run_cli

ROW_KEYS = {"format", "runtime", "threads", "file", "status", "backend", "size_mb", "load_ms", "first_ms",
            "accuracy", "agreement", "latency_ms", "throughput_ips", "rss_mb", "gmacs"}


def test_percentiles_on_synthetic_timings():
    stats = bench.latency_stats(np.arange(1, 101, dtype=float))
    assert stats["p50"] == pytest.approx(50.5) and stats["p90"] == pytest.approx(90.1)
    assert stats["p99"] == pytest.approx(99.01) and stats["mean"] == pytest.approx(50.5)
    assert stats["std"] == pytest.approx(np.std(np.arange(1, 101), ddof=1)) and stats["runs"] == 100
    assert bench.latency_stats([2.0])["std"] == 0.0
    with pytest.raises(ValueError):
        bench.latency_stats([])


def test_timed_calls_respects_runs_and_min_time():
    calls = []
    times = bench.timed_calls(lambda: calls.append(1), warmup=3, runs=7, min_time=0.0)
    assert len(times) == 7 and len(calls) == 10  # warm-up calls are made but not timed
    times = bench.timed_calls(lambda: None, warmup=0, runs=1, min_time=0.05)
    assert len(times) > 1 and all(t >= 0 for t in times)


def test_peak_rss_is_plausible_and_grows():
    """In a fresh interpreter: the peak is a high-water mark, so what other tests allocated must not count."""
    script = ("import numpy as np; from edgedigits.measure import bench; before = bench.peak_rss_mb(); "
              "block = np.ones(200 * 1024 * 1024 // 8); print(before, bench.peak_rss_mb())")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr[-1000:]
    before, after = map(float, proc.stdout.split())
    assert 10 < before < 500 and after >= before + 190


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    corrupt = tmp_path_factory.mktemp("bad") / "broken.onnx"
    corrupt.write_bytes(b"\x08\x07 not an onnx graph")
    files = ",".join([str(bundled("seed", ".int8.tflite")), str(bundled("seed", ".keras")), str(corrupt)])
    options = bench.BenchOptions(formats=[], threads=(1,), runs=5, warmup=1, min_time=0.0, samples=300)
    return bench.run_bench(options, model=files, data=DATA)


@pytest.mark.mnist
def test_row_schema(report):
    ok = [r for r in report["rows"] if r["status"] != "failed"]
    assert {r["format"] for r in ok} == {"tflite-int8", "keras"}
    for row in ok:
        assert ROW_KEYS <= row.keys(), ROW_KEYS - row.keys()
        assert set(row["latency_ms"]) == {"mean", "std", "p50", "p90", "p99", "runs"}
        assert row["latency_ms"]["runs"] >= 5 and 0 < row["latency_ms"]["p50"] <= row["latency_ms"]["p99"]
        assert 0.9 < row["accuracy"] <= 1.0 and row["throughput_ips"] > 0
        assert 20 < row["rss_mb"] < 4000  # measured in the row's own process
    keras_row = next(r for r in ok if r["format"] == "keras")
    assert keras_row["agreement"] == 1.0
    assert report["system"]["cores"] >= 1 and "python" in report["system"]["versions"]


@pytest.mark.mnist
def test_corrupt_model_becomes_a_failed_row(report):
    failed = [r for r in report["rows"] if r["status"] == "failed"]
    assert [r["format"] for r in failed] == ["onnx"]
    assert "not a valid ONNX model" in failed[0]["reason"]


@pytest.mark.mnist
def test_reports_written(report, tmp_path):
    bench.write_reports(report, tmp_path)
    assert json.loads((tmp_path / "bench.json").read_text())["rows"][0]["format"]
    csv_lines = (tmp_path / "bench.csv").read_text().splitlines()
    assert csv_lines[0].startswith("status,format,runtime") and len(csv_lines) == 1 + len(report["rows"])
    assert "| ❌ | onnx |" in (tmp_path / "bench.md").read_text()
    assert (tmp_path / "bench.png").stat().st_size > 10_000


@pytest.mark.mnist
@pytest.mark.parametrize("floor,code", [("50", 0), ("100", 1)])
def test_min_accuracy_exit_codes(tmp_path, floor, code):
    proc = run_cli("bench", "--model", bundled("seed", ".int8.tflite"), "--threads", "1", "--runs", "3",
                   "--min-time", "0", "--samples", "1000", "--min-accuracy", floor, "--out", tmp_path)
    assert proc.returncode == code, proc.stderr[-1500:]
    assert (tmp_path / "bench.json").exists()
    assert "benchmark 1/1: tflite-int8 ai-edge-litert 1t:" in proc.stderr  # a progress line, stderr being a pipe
    if code:
        assert "below --min-accuracy 100.0%" in proc.stderr.strip().splitlines()[-1]


def test_bad_options():
    assert run_cli("bench", "--threads", "0").returncode == 2
    assert run_cli("bench", "--batch", "8,64").returncode == 2
    assert run_cli("bench", "--runtimes", "tensorrt").returncode == 2
