"""Test helpers shared by the test modules (imported as ``tests.helpers``; conftest.py holds only fixtures and
hooks)."""

import contextlib
import os
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _find_mnist() -> str | None:
    """MNIST where the product finds it (``$EDGEDIGITS_DATA``, then its cache, which the README's first command
    fills), or ../shared/data/mnist beside the checkout; None when none holds it (no test downloads it)."""
    from edgedigits.training import mnist
    from edgedigits.training.mnist.idx import has_idx

    for place in (os.environ.get(mnist.ENV_VAR), mnist.cache_dir(), ROOT.parent / "shared" / "data" / "mnist"):
        if place and Path(place).exists() and (Path(place).is_file() or has_idx(Path(place))):
            return str(place)
    return None


DATA = _find_mnist()
if DATA:
    os.environ["EDGEDIGITS_DATA"] = DATA  # the CLI the tests run reads the same files
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
HAVE_MNIST = DATA is not None


def run_cli(*args, env=None, timeout=600, **kwargs):
    """Run the CLI as a user would, in a fresh interpreter."""
    full_env = {**os.environ, **(env or {})}
    return subprocess.run([sys.executable, "-m", "edgedigits", *map(str, args)], capture_output=True, text=True,
                          env=full_env, timeout=timeout, check=False, **kwargs)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for_port(port: int, proc: subprocess.Popen, seconds: float = 60) -> None:
    """Wait until something listens on ``port``, failing if ``proc`` ends first."""
    deadline = time.time() + seconds
    while time.time() < deadline:
        assert proc.poll() is None, "the process ended early"
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.2)
    raise AssertionError(f"nothing listens on {port} after {seconds} s")


@contextlib.contextmanager
def mjpeg_source(image: Path):
    """``image`` as a live camera: a separate process streaming it as MJPEG (kill it to lose the camera).
    Yields (URL, process)."""
    port = free_port()
    script = textwrap.dedent(f"""
        import time, cv2
        from edgedigits.reader.outputs.live import LiveServer
        server = LiveServer("127.0.0.1:{port}")
        frame = cv2.imread({str(image)!r})
        while True:
            server.publish(frame)
            time.sleep(0.1)
    """)
    proc = subprocess.Popen([sys.executable, "-c", script], cwd=ROOT)
    try:
        wait_for_port(port, proc)
        yield f"http://127.0.0.1:{port}/stream.mjpg", proc
    finally:
        proc.kill()
        proc.wait()
