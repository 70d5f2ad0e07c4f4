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


def assert_one_line_error(proc, code=1, match="", lines: int | None = 1):
    """A command that failed as a user should see it: exit ``code``, no traceback, ``lines`` lines on stderr (None:
    one line per bad input, any number), the first holding ``match``."""
    assert proc.returncode == code, (proc.returncode, proc.stderr[-1500:])
    assert "Traceback" not in proc.stderr, proc.stderr[-1500:]
    said = [line for line in proc.stderr.splitlines() if line.strip()]
    assert said and (lines is None or len(said) == lines), proc.stderr[-1500:]
    assert match in said[0], said[0]


def onnx_classifier(path, in_shape=("N", 28, 28, 1), outputs: int = 10, nan: bool = False):
    """A tiny ONNX model with the digit contract's names: reshape, matmul by zeros, softmax over ``outputs`` (or
    0/0 everywhere with ``nan``); ``in_shape`` and ``outputs`` may break the contract on purpose."""
    import numpy as np
    import onnx
    from onnx import TensorProto, helper

    flat = int(np.prod(in_shape[1:]))
    inits = [helper.make_tensor("shape", TensorProto.INT64, [2], [-1, flat]),
             helper.make_tensor("w", TensorProto.FLOAT, [flat, outputs], np.zeros(flat * outputs, np.float32))]
    nodes = [helper.make_node("Reshape", ["input", "shape"], ["flat"]), helper.make_node("MatMul", ["flat", "w"], ["z"]),
             helper.make_node("Div", ["z", "z"], ["probs"]) if nan else helper.make_node("Softmax", ["z"], ["probs"], axis=1)]
    graph = helper.make_graph(nodes, "tiny", [helper.make_tensor_value_info("input", TensorProto.FLOAT, list(in_shape))],
                              [helper.make_tensor_value_info("probs", TensorProto.FLOAT, [in_shape[0], outputs])], inits)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path
