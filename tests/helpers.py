"""Test helpers shared by the test modules (imported as ``tests.helpers``; conftest.py holds only fixtures and
hooks). MNIST comes from $EDGEDIGITS_DATA, defaulting to ../shared/data/mnist beside the checkout."""

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
_default = ROOT.parent / "shared" / "data" / "mnist"
if not os.environ.get("EDGEDIGITS_DATA") and _default.is_dir():
    os.environ["EDGEDIGITS_DATA"] = str(_default)
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
DATA = os.environ.get("EDGEDIGITS_DATA")
HAVE_MNIST = bool(DATA) and Path(DATA).exists()


def run_cli(*args, env=None, timeout=600, **kwargs):
    """Run the CLI as a user would, in a fresh interpreter."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "edgedigits", *map(str, args)], capture_output=True, text=True,
                          env=full_env, timeout=timeout, check=False, **kwargs)
