"""Turn a full-integer TFLite model into TensorFlow Lite Micro C++ sources (``firmware_export`` is its facade).

``generate(model.int8.tflite, out_dir)`` writes:
  model_data.h / model_data.cc  the flatbuffer as an aligned byte array and its length
  op_resolver.h                 a MicroMutableOpResolver with exactly the model's operators
  model_config.h                input/output shape, type, quantization and the measured arena size
  main.cc                       a minimal example: set input, invoke, argmax
  README.md                     build steps for ESP32, Pi Pico and Arduino Nano 33 BLE, and a budget table
"""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np

from edgedigits.deps import silenced_native_output
from edgedigits.errors import EdgeDigitsError
from edgedigits.export import firmware_templates as templates
from edgedigits.files import atomic_write
from edgedigits.runtime.tflite_file import inspect

ARENA_MARGIN = 0.20  # relative margin on the host-measured arena
ARENA_SLACK = 4096  # plus bytes for scratch buffers of optimized kernels (CMSIS-NN, ESP-NN)
TFLM_CODE_ESTIMATE = 100 * 1024  # flash for the TFLM runtime and kernels: an estimate, not a measurement
BOARDS = (  # name, flash bytes and RAM bytes available to the application
    ("ESP32 (WROOM-32, 3 MB huge_app partition)", 3 * 1024 * 1024, 320 * 1024),
    ("Raspberry Pi Pico (RP2040, 2 MB flash)", 2 * 1024 * 1024, 264 * 1024),
    ("Arduino Nano 33 BLE (nRF52840, 1 MB less 64 KB bootloader)", 960 * 1024, 256 * 1024),
)
_IRREGULAR = {"BATCH_MATMUL": "BatchMatMul", "ADD_N": "AddN", "ARG_MAX": "ArgMax", "ARG_MIN": "ArgMin"}


def c_identifier(path: Path) -> str:
    """seed.int8.tflite -> seed_int8 (a valid C identifier)."""
    name = re.sub(r"\W", "_", Path(path).name.removesuffix(".tflite"))
    return name if not name[0].isdigit() else f"m_{name}"


def resolver_method(op_name: str) -> str:
    """CONV_2D -> AddConv2D, MAX_POOL_2D -> AddMaxPool2D, FULLY_CONNECTED -> AddFullyConnected."""
    if op_name in _IRREGULAR:
        return "Add" + _IRREGULAR[op_name]
    parts = [p if re.fullmatch(r"\d+D", p) else p[0] + p[1:].lower() for p in op_name.split("_")]
    return "Add" + "".join(parts)


def check_full_integer(info: dict, where: str) -> None:
    floats = {"FLOAT32", "FLOAT16", "FLOAT64"} & set(info["tensor_types"])
    if floats or info["io"]["input"]["dtype"] not in ("int8", "uint8"):
        kind = "float16" if "FLOAT16" in floats else "float or dynamic-range (hybrid)"
        raise EdgeDigitsError(
            f"{where} is a {kind} model; TFLite Micro needs a full-integer model "
            "(make one with: edgedigits export MODEL.keras --formats tflite-int8)"
        )


def tflm_interpreter(blob: bytes, arena_size: int | None = None):
    try:
        from tflite_micro.python.tflite_micro import runtime as tflm
    except ImportError:
        raise EdgeDigitsError("measuring the arena needs tflite-micro: pip install 'edgedigits[firmware]'") from None
    try:
        return tflm.Interpreter.from_bytes(blob, arena_size=arena_size)
    except (RuntimeError, ValueError) as exc:
        raise EdgeDigitsError(f"TFLite Micro cannot load this model: {exc}") from None


def measure_arena(blob: bytes, io: dict) -> int:
    """Bytes of tensor arena the model needs, measured by the tflite-micro host interpreter after one invoke."""
    interpreter = tflm_interpreter(blob)
    sample = np.zeros(io["input"]["shape"], dtype=np.dtype(io["input"]["dtype"]))
    interpreter.set_input(sample, 0)
    interpreter.invoke()
    with silenced_native_output(fds=(2,), keep=True) as report:
        interpreter.print_allocations()
    found = re.search(r"Arena allocation total (\d+) bytes", report[0])
    if not found:
        raise EdgeDigitsError("tflite-micro did not report the arena size")
    return int(found.group(1))


def arena_with_margin(measured: int) -> int:
    return int(math.ceil((measured * (1 + ARENA_MARGIN) + ARENA_SLACK) / 1024) * 1024)


def _bytes_as_c(blob: bytes) -> str:
    rows = [", ".join(f"0x{b:02x}" for b in blob[i : i + 12]) for i in range(0, len(blob), 12)]
    return ",\n  ".join(rows)


def budget(model_bytes: int, arena_bytes: int) -> list[dict]:
    rows = []
    for board, flash, ram in BOARDS:
        flash_need = model_bytes + TFLM_CODE_ESTIMATE
        fits = flash_need <= flash and arena_bytes <= ram
        rows.append({"board": board, "flash": flash, "ram": ram, "flash_needed": flash_need,
                     "ram_needed": arena_bytes, "fits": fits})
    return rows


def generate(model_path: str | Path, out_dir: str | Path) -> dict:
    """Write the TFLM sources for ``model_path`` into ``out_dir``; returns a summary."""
    model_path, out_dir = Path(model_path), Path(out_dir)
    if not model_path.is_file():
        raise EdgeDigitsError(f"model file not found: {model_path}")
    blob = model_path.read_bytes()
    info = inspect(blob, str(model_path))
    check_full_integer(info, str(model_path))
    measured = measure_arena(blob, info["io"])
    arena = arena_with_margin(measured)
    name = c_identifier(model_path)
    methods = [resolver_method(op) for op in info["ops"]]
    out_dir.mkdir(parents=True, exist_ok=True)
    values = {
        "name": name, "source": model_path.name, "length": len(blob), "array": _bytes_as_c(blob),
        "num_ops": len(methods), "ops": info["ops"], "methods": methods, "io": info["io"],
        "measured": measured, "arena": arena, "margin": ARENA_MARGIN, "slack": ARENA_SLACK,
        "budget": budget(len(blob), arena), "code_estimate": TFLM_CODE_ESTIMATE,
    }
    for filename, render in templates.FILES.items():
        atomic_write(out_dir / filename, render(values))
    return {"ops": info["ops"], "model_bytes": len(blob), "arena_measured_bytes": measured, "arena_bytes": arena,
            "files": sorted(templates.FILES), "budget": values["budget"]}
