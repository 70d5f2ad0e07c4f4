"""The CLI under mutated models, images and MNIST files (benchmarks/fuzz.py): no traceback, crash, hang or
non-finite output, and bounded memory. A few inputs of each kind by default; ``pytest -m fuzz`` runs the full
set (1,000 of each model and image kind, 300 MNIST folders) and rewrites benchmarks/results/fuzz.md."""

import importlib.util
import sys

import pytest

from tests.helpers import ROOT


def _fuzz_module():
    spec = importlib.util.spec_from_file_location("fuzz", ROOT / "benchmarks" / "fuzz.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _assert_clean(report, max_rss_mb):
    for kind, counts in report["counts"].items():
        assert counts["tracebacks"] == counts["crashes"] == counts["hangs"] == counts["non_finite"] == 0, \
            (kind, counts, report["examples"])
        assert counts["peak_rss_mb"] < max_rss_mb, (kind, counts)


def test_a_few_mutations_of_each_kind(tmp_path):
    fuzz = _fuzz_module()
    report = fuzz.fuzz(per_kind=6, mnist=2, seed=1, timeout=120, progress=lambda line: None)
    assert all(report["counts"][kind]["inputs"] == 6 for kind in ("tflite", "onnx", "keras", "png", "jpeg"))
    _assert_clean(report, fuzz.MAX_RSS_MB)


@pytest.mark.fuzz
def test_thousands_of_mutations():
    fuzz = _fuzz_module()
    report = fuzz.fuzz(per_kind=1000, mnist=300, seed=0, timeout=120,
                       progress=lambda line: print(line, file=sys.stderr))
    fuzz.write_report(report, ROOT / "benchmarks" / "results")
    assert all(report["counts"][kind]["inputs"] == 1000 for kind in ("tflite", "onnx", "keras", "png", "jpeg"))
    _assert_clean(report, fuzz.MAX_RSS_MB)
