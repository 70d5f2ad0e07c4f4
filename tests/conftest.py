"""Shared fixtures. MNIST comes from $EDGEDIGITS_DATA, defaulting to ../shared/data/mnist beside the checkout."""

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
_default = ROOT.parent / "shared" / "data" / "mnist"
if not os.environ.get("EDGEDIGITS_DATA") and _default.is_dir():
    os.environ["EDGEDIGITS_DATA"] = str(_default)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
DATA = os.environ.get("EDGEDIGITS_DATA")

needs_mnist = pytest.mark.skipif(not DATA or not Path(DATA).exists(), reason="MNIST not found (set EDGEDIGITS_DATA)")


def run_cli(*args, env=None, timeout=600, **kwargs):
    """Run the CLI as a user would, in a fresh interpreter."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "edgedigits", *map(str, args)], capture_output=True, text=True,
                          env=full_env, timeout=timeout, **kwargs)


@pytest.fixture(scope="session")
def mnist():
    if not DATA or not Path(DATA).exists():
        pytest.skip("MNIST not found (set EDGEDIGITS_DATA)")
    from edgedigits import data

    return data.load(DATA)


@pytest.fixture(scope="session")
def tiny_digits():
    """Small random uint8 digit sets for format tests: (train_x, train_y, test_x, test_y)."""
    rng = np.random.default_rng(0)
    return (rng.integers(0, 256, (30, 28, 28), dtype=np.uint8), rng.integers(0, 10, 30, dtype=np.uint8),
            rng.integers(0, 256, (12, 28, 28), dtype=np.uint8), rng.integers(0, 10, 12, dtype=np.uint8))


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory, mnist):
    """A seed model trained once for a single epoch on 2,000 images: real weights for the CLI and export tests."""
    from edgedigits.train import TrainConfig, train

    out = tmp_path_factory.mktemp("tiny_run")
    cfg = TrainConfig(arch="seed", epochs=1, batch_size=64, val_split=0.1, limit=2000, distribute="none")
    model_path, _, state = train(cfg, out, data=DATA, verbose=0)
    return model_path, state


@pytest.fixture(scope="session")
def exported(tiny_run, tmp_path_factory):
    """Every format (and the TFLM sources) exported from the tiny model, verified on 1,000 test digits."""
    from edgedigits.export import export
    from edgedigits.formats import parse_formats

    out = tmp_path_factory.mktemp("export")
    manifest = export(tiny_run[0], parse_formats("all"), out=out, verify_samples=1000, min_agreement=0.95,
                      data=DATA, calib_n=200)
    return out, manifest
