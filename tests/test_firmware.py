import re
import shutil
import subprocess
import sys

import numpy as np
import pytest

from edgedigits import runtime
from edgedigits.errors import EdgeDigitsError
from firmware_export import arena_with_margin, inspect, resolver_method, tflm_interpreter


@pytest.fixture(scope="module")
def firmware(exported):
    out, manifest = exported
    return out / "model_firmware", out / "model.int8.tflite", manifest["firmware"]


def test_resolver_names():
    assert resolver_method("CONV_2D") == "AddConv2D"
    assert resolver_method("MAX_POOL_2D") == "AddMaxPool2D"
    assert resolver_method("FULLY_CONNECTED") == "AddFullyConnected"
    assert resolver_method("DEPTHWISE_CONV_2D") == "AddDepthwiseConv2D"
    assert resolver_method("SOFTMAX") == "AddSoftmax"
    assert resolver_method("BATCH_MATMUL") == "AddBatchMatMul"


def test_files_written(firmware):
    fw_dir, _, summary = firmware
    assert sorted(p.name for p in fw_dir.iterdir()) == sorted(summary["files"])
    assert {"model_data.h", "model_data.cc", "op_resolver.h", "model_config.h", "main.cc", "README.md"} <= set(
        summary["files"])


def test_resolver_holds_exactly_the_model_ops(firmware):
    fw_dir, model, _ = firmware
    text = (fw_dir / "op_resolver.h").read_text()
    registered = re.findall(r"resolver\.(Add\w+)\(\)", text)
    ops = inspect(model.read_bytes(), str(model))["ops"]
    assert sorted(registered) == sorted(resolver_method(op) for op in ops)
    assert len(registered) == len(set(registered))
    assert "MicroMutableOpResolver<kNumOps>" in text and f"kNumOps = {len(ops)};" in text


@pytest.mark.skipif(shutil.which("g++") is None, reason="g++ not installed")
def test_model_array_is_byte_identical(firmware, tmp_path):
    fw_dir, model, _ = firmware
    harness = tmp_path / "harness.cc"
    harness.write_text("""
#include <cstdio>
#include <cstdint>
#include <vector>
#include "model_data.h"
int main(int argc, char** argv) {
  FILE* f = std::fopen(argv[1], "rb");
  std::vector<unsigned char> want;
  int c;
  while ((c = std::fgetc(f)) != EOF) want.push_back(static_cast<unsigned char>(c));
  if (want.size() != g_model_int8_model_len) { std::printf("length %u != %zu\\n", g_model_int8_model_len, want.size()); return 1; }
  if (reinterpret_cast<std::uintptr_t>(g_model_int8_model) % 16 != 0) { std::puts("not aligned"); return 1; }
  for (size_t i = 0; i < want.size(); ++i) if (g_model_int8_model[i] != want[i]) { std::printf("byte %zu differs\\n", i); return 1; }
  std::puts("identical");
  return 0;
}
""")
    binary = tmp_path / "harness"
    compiled = subprocess.run(["g++", "-std=c++17", "-O0", f"-I{fw_dir}", str(harness), str(fw_dir / "model_data.cc"),
                               "-o", str(binary)], capture_output=True, text=True)
    assert compiled.returncode == 0, compiled.stderr
    ran = subprocess.run([str(binary), str(model)], capture_output=True, text=True)
    assert ran.returncode == 0 and ran.stdout.strip() == "identical", ran.stdout


def test_config_matches_the_model(firmware):
    fw_dir, model, summary = firmware
    text = (fw_dir / "model_config.h").read_text()
    assert "constexpr int kInputDims[] = {1, 28, 28, 1};" in text
    assert "using input_t = int8_t;" in text and "kInputZeroPoint = -128;" in text
    arena = int(re.search(r"kTensorArenaSize = (\d+);", text).group(1))
    assert arena == summary["arena_bytes"] == arena_with_margin(summary["arena_measured_bytes"])
    assert arena > summary["arena_measured_bytes"]


def test_arena_measurement_is_real(firmware):
    _, model, summary = firmware
    blob = model.read_bytes()
    sample = np.full((1, 28, 28, 1), -128, np.int8)
    ok = tflm_interpreter(blob, arena_size=summary["arena_bytes"])
    ok.set_input(sample, 0)
    ok.invoke()
    with pytest.raises(EdgeDigitsError, match="failed to allocate tensors"):
        tflm_interpreter(blob, arena_size=summary["arena_measured_bytes"] // 2)


@pytest.mark.parametrize("name", ["micro", "seed"])
def test_tflm_accuracy_matches_litert(name, mnist):
    """The bundled int8 model on the TFLM host interpreter vs LiteRT, 1,000 test digits."""
    from edgedigits.runtime.bundled import bundled

    model = bundled(name, ".int8.tflite")
    if not model.exists():
        pytest.fail(f"bundled {model} is missing")
    images, labels = mnist.test.images[:1000], mnist.test.labels[:1000]
    litert = runtime.load(model)
    scale, zero = litert.input_quantization
    interpreter = tflm_interpreter(model.read_bytes(), arena_size=arena_with_margin(400_000))
    tflm_pred = []
    for img in images:
        q = np.clip(np.round(img.astype(np.float32) / 255 / scale) + zero, -128, 127).astype(np.int8)
        interpreter.set_input(q.reshape(1, 28, 28, 1), 0)
        interpreter.invoke()
        tflm_pred.append(int(np.argmax(interpreter.get_output(0))))
    tflm_right = int(np.sum(np.array(tflm_pred) == labels))
    litert_right = int(np.sum(litert.predict(images).argmax(1) == labels))
    assert abs(tflm_right - litert_right) <= 1, (tflm_right, litert_right)  # one digit in 1,000 (kernel rounding)


@pytest.mark.parametrize("name", ["model.tflite", "model.dynamic.tflite", "model.fp16.tflite"])
def test_refuses_float_and_hybrid_models(exported, tmp_path, name):
    proc = subprocess.run([sys.executable, "-m", "firmware_export", str(exported[0] / name), "--out", str(tmp_path)],
                          capture_output=True, text=True)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert "TFLite Micro needs a full-integer model" in proc.stderr
    assert not any(tmp_path.iterdir())


def test_budget_says_plainly_when_a_model_does_not_fit(firmware):
    fw_dir, _, summary = firmware
    readme = (fw_dir / "README.md").read_text()
    for row in summary["budget"]:
        assert row["board"] in readme
    if not all(row["fits"] for row in summary["budget"]):
        assert "It does not fit" in readme


def test_budget_against_the_boards_datasheets():
    """Stated independently: the Nano 33 BLE has 1 MB flash less a 64 KB bootloader and 256 KB RAM; the TFLM
    runtime is estimated at 100 KB of flash."""
    from firmware_export import budget

    nano = lambda rows: next(r for r in rows if "Nano" in r["board"])  # noqa: E731
    fits = nano(budget(model_bytes=860_000, arena_bytes=200_000))  # 860,000 + 102,400 = 962,400 B <= 983,040 B
    assert fits["fits"] and fits["flash_needed"] == 962_400
    too_big = nano(budget(model_bytes=900_000, arena_bytes=200_000))  # 1,002,400 B > 983,040 B of flash
    assert not too_big["fits"]
    no_ram = nano(budget(model_bytes=100_000, arena_bytes=300_000))  # 300,000 B > 262,144 B of RAM
    assert not no_ram["fits"]


def test_seed_does_not_fit_the_nano_and_micro_does(tmp_path):
    from edgedigits.runtime.bundled import bundled
    from firmware_export import generate

    seed = generate(bundled("seed", ".int8.tflite"), tmp_path / "seed")
    micro = generate(bundled("micro", ".int8.tflite"), tmp_path / "micro")
    assert not next(r for r in seed["budget"] if "Nano" in r["board"])["fits"]
    assert "It does not fit: Arduino Nano 33 BLE" in (tmp_path / "seed" / "README.md").read_text()
    assert all(r["fits"] for r in micro["budget"]) and micro["model_bytes"] < 80 * 1024
    assert "constexpr int kNumClasses = 11;" in (tmp_path / "micro" / "model_config.h").read_text()
    assert "constexpr int kNumClasses = 10;" in (tmp_path / "seed" / "model_config.h").read_text()
    assert "at index 10, not a digit" in (tmp_path / "micro" / "README.md").read_text()
