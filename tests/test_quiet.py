"""Quiet, honest output: TensorFlow's native noise is dropped, real warnings and errors are kept."""

import os
import re
import threading

import pytest

from edgedigits import deps
from edgedigits.runtime.bundled import bundled
from tests.helpers import run_cli

NOISE = re.compile(r"cuInit|cudart_stub|NodeDef mentions|absl::InitializeLog|cuda drivers|oneDNN custom")


def test_the_filter_drops_noise_and_keeps_the_rest():
    read_in, write_in = os.pipe()
    read_out, write_out = os.pipe()
    pump = threading.Thread(target=deps._pump, args=(read_in, write_out))
    pump.start()
    lines = [b"E0000 00:00:1.0 1 node_def_util.cc:682] NodeDef mentions attribute use_unbounded_threadpool\n",
             b"W0000 00:00:1.0 1 something.cc:1] a real warning from TensorFlow\n",
             b"I0000 00:00:1.0 1 cudart_stub.cc:31] Could not find cuda drivers on your machine\n",
             b"error: model file not found: x.keras\n",
             b"E0000 00:00:1.0 1 cuda_executor.cc:1] failed call to cuInit: UNKNOWN ERROR (303)\n",
             b"\r epoch 1/2 "]  # a progress update: passed on as it comes, no newline needed
    for line in lines:
        os.write(write_in, line)
    os.close(write_in)
    pump.join(timeout=10)
    os.close(write_out)
    out = os.read(read_out, 65536)
    assert out == lines[1] + lines[3] + lines[5]


@pytest.mark.mnist
def test_commands_that_load_tensorflow_print_no_noise():
    proc = run_cli("evaluate", bundled("micro"), "--split", "test")
    assert proc.returncode == 0, proc.stderr[-1500:]
    assert "accuracy" in proc.stderr and not NOISE.search(proc.stderr), proc.stderr[-1500:]


def test_without_rich_the_output_is_plain_text(monkeypatch, capsys):
    """The lean [runtime] install has no rich: tables become aligned columns, progress becomes lines, markup goes."""
    from edgedigits import console

    monkeypatch.setattr(console, "Console", None)
    monkeypatch.setattr(console, "err", console.PlainConsole())
    console.table("results", ["format", "accuracy %"], [["tflite-int8", "99.50"], ["onnx", "99.5"]])
    with console.progress_bar("benchmark", total=2) as advance:
        advance(note="tflite-int8: ok")
        advance(note="onnx: ok")
    console.err.print("[yellow]camera dropped; box [1, 11][/]")
    assert capsys.readouterr().err.splitlines() == [
        "results", "format       accuracy %", "tflite-int8       99.50", "onnx               99.5",
        "benchmark 1/2: tflite-int8: ok", "benchmark 2/2: onnx: ok", "camera dropped; box [1, 11]"]
