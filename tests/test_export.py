import hashlib
import json

import numpy as np
import pytest

from edgedigits.errors import EdgeDigitsError
from edgedigits.export import convert as exp
from edgedigits.runtime.formats import EXPORTABLE, FORMATS, format_of, parse_formats
from tests.helpers import DATA, run_cli


def test_parse_formats():
    assert parse_formats(None) == ["onnx", "tflite"]
    assert parse_formats(None, int8=True) == ["onnx", "tflite", "tflite-int8", "onnx-int8"]
    assert parse_formats(("onnx,tflite-fp16", "onnx")) == ["onnx", "tflite-fp16"]
    assert set(parse_formats("all")) == set(EXPORTABLE) | {"micro"}
    with pytest.raises(EdgeDigitsError, match="unknown format 'tflite-int4'"):
        parse_formats("tflite-int4")


def test_format_of_uses_the_longest_suffix():
    assert format_of("m/seed.int8.tflite").name == "tflite-int8"
    assert format_of("seed.tflite").name == "tflite"
    assert format_of("seed.int8.onnx").name == "onnx-int8"
    assert format_of("x.fp16.tflite").name == "tflite-fp16"
    with pytest.raises(EdgeDigitsError):
        format_of("seed.pt")


def test_calibration_set_is_stratified_and_fixed():
    labels = np.repeat(np.arange(10), 100)
    images = np.zeros((1000, 28, 28), np.uint8)
    images[:, 0, 0], images[:, 0, 1] = np.arange(1000) % 256, np.arange(1000) // 256  # each image knows its index
    a = exp.calibration_set(images, labels, n=50)
    np.testing.assert_array_equal(a, exp.calibration_set(images, labels, n=50))
    picked = a[:, 0, 0].astype(int) + 256 * a[:, 0, 1].astype(int)
    assert len(set(picked)) == 50
    assert np.bincount(labels[picked], minlength=10).tolist() == [5] * 10


@pytest.mark.mnist
def test_every_format_written_and_verified(exported):
    out, manifest = exported
    assert not manifest["failed"], manifest["failed"]
    assert [a["format"] for a in manifest["artifacts"]] == [
        "onnx", "onnx-int8", "tflite", "tflite-fp16", "tflite-dynamic", "tflite-int8"]
    for art in manifest["artifacts"]:
        path = out / art["file"]
        assert path.stat().st_size == art["bytes"]
        assert hashlib.sha256(path.read_bytes()).hexdigest() == art["sha256"]
        assert art["verify_samples"] == 1000 and art["agreement"] >= 0.95
        assert art["runtime"] in ("ai-edge-litert", "onnxruntime")
        assert art["io"]["input"]["shape"][1:] == [28, 28, 1] and art["io"]["output"]["shape"][-1] == 10
        assert "white digit on black" in art["preprocessing"]
    assert not list(out.glob(".partial-*"))


@pytest.mark.mnist
def test_manifest_on_disk(exported, tiny_run):
    out, manifest = exported
    on_disk = json.loads((out / "export.json").read_text())
    assert on_disk["source"]["sha256"] == hashlib.sha256(tiny_run[0].read_bytes()).hexdigest()
    assert on_disk["labels"] == list(range(10))
    assert on_disk["calibration"]["samples"] == 200 and on_disk["calibration"]["stratified"]
    assert {"python", "numpy", "onnxruntime"} <= on_disk["versions"].keys()
    assert on_disk["seconds"] > 0


@pytest.mark.mnist
def test_float_formats_match_keras(exported):
    by_format = {a["format"]: a for a in exported[1]["artifacts"]}
    assert by_format["onnx"]["max_abs_diff"] < 1e-4
    assert by_format["tflite"]["max_abs_diff"] < 1e-4
    assert by_format["tflite-fp16"]["max_abs_diff"] < 1e-2
    assert by_format["onnx"]["agreement"] == 1.0


@pytest.mark.mnist
def test_int8_io_is_quantized(exported):
    by_format = {a["format"]: a for a in exported[1]["artifacts"]}
    io = by_format["tflite-int8"]["io"]
    assert io["input"]["dtype"] == "int8" and io["output"]["dtype"] == "int8"
    assert io["input"]["scale"] == pytest.approx(1 / 255, rel=1e-3) and io["input"]["zero_point"] == -128
    assert "q = round(x /" in by_format["tflite-int8"]["preprocessing"]
    assert by_format["tflite"]["io"]["input"]["dtype"] == "float32"


@pytest.mark.mnist
def test_onnx_graph_contract(exported):
    import onnx

    model = onnx.load(str(exported[0] / "model.onnx"))
    onnx.checker.check_model(model, full_check=True)
    assert model.opset_import[0].version == 17
    assert [i.name for i in model.graph.input] == ["input"] and [o.name for o in model.graph.output] == ["probs"]
    assert model.graph.input[0].type.tensor_type.shape.dim[0].dim_param == "batch"
    ops = {n.op_type for n in model.graph.node}
    assert not ops & {"Shape", "Gather", "Concat", "Slice"}, ops  # flatten folded to a constant reshape
    quant_ops = {n.op_type for n in onnx.load(str(exported[0] / "model.int8.onnx")).graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= quant_ops


@pytest.mark.mnist
def test_tflite_has_no_shape_chain(exported):
    from firmware_export import inspect

    ops = inspect((exported[0] / "model.int8.tflite").read_bytes(), "int8")["ops"]
    assert sorted(ops) == ["CONV_2D", "FULLY_CONNECTED", "MAX_POOL_2D", "RESHAPE", "SOFTMAX"]


@pytest.mark.mnist
def test_failed_validation_deletes_the_artifact(tiny_run, tmp_path, monkeypatch):
    real = exp.validate

    def poor(path, fmt, images, labels, reference):
        result = real(path, fmt, images, labels, reference)
        return {**result, "agreement": 0.5}

    monkeypatch.setattr(exp, "validate", poor)
    (tmp_path / "model.tflite").write_bytes(b"stale file from an earlier export")
    manifest = exp.export(tiny_run[0], ["tflite"], out=tmp_path, verify_samples=200, data=DATA)
    assert manifest["failed"][0]["format"] == "tflite" and "below --min-agreement" in manifest["failed"][0]["error"]
    assert not (tmp_path / "model.tflite").exists()
    assert not list(tmp_path.glob(".partial-*"))
    assert json.loads((tmp_path / "export.json").read_text())["artifacts"] == []


@pytest.mark.mnist
def test_failure_mid_write_leaves_no_partial_file(tiny_run, tmp_path, monkeypatch):
    def crash(model, path, fmt, calib):
        path.write_bytes(b"TFL3 half a model")
        raise RuntimeError("converter died")

    monkeypatch.setattr(exp, "export_tflite", crash)
    (tmp_path / ".partial-model.onnx").write_bytes(b"left by a killed export")
    manifest = exp.export(tiny_run[0], ["tflite-fp16"], out=tmp_path, verify_samples=200, data=DATA)
    assert "converter died" in manifest["failed"][0]["error"]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["export.json"]


@pytest.mark.mnist
def test_an_interrupted_export_leaves_no_partial_file(tiny_run, tmp_path, monkeypatch):
    """Ctrl-C, or SIGTERM (which the CLI turns into SystemExit), while a converter writes."""
    def interrupted(model, path, fmt, calib):
        path.write_bytes(b"TFL3 half a model")
        raise SystemExit(143)

    monkeypatch.setattr(exp, "export_tflite", interrupted)
    with pytest.raises(SystemExit):
        exp.export(tiny_run[0], ["tflite-fp16"], out=tmp_path, verify_samples=200, data=DATA)
    assert not list(tmp_path.glob(".partial-*"))


@pytest.mark.mnist
def test_a_foreign_keras_model_is_refused_up_front(tmp_path):
    import keras

    other = keras.Sequential([keras.Input((5,)), keras.layers.Dense(3, activation="softmax")])
    other.save(tmp_path / "other.keras")
    with pytest.raises(EdgeDigitsError, match="not a digit classifier"):
        exp.export(tmp_path / "other.keras", ["tflite"], out=tmp_path / "out", verify_samples=10, data=DATA)


@pytest.mark.mnist
def test_cli_exit_code_and_corrupt_input(tiny_run, tmp_path):
    proc = run_cli("export", tiny_run[0], "--formats", "tflite", "--out", tmp_path, "--verify-samples", "300",
                   "--min-agreement", "100.0")
    assert proc.returncode == 0, proc.stderr  # float32 TFLite agrees 100% with Keras
    assert (tmp_path / "model.tflite").exists()
    bad = tmp_path / "broken.keras"
    bad.write_bytes(b"not a zip")
    proc = run_cli("export", bad, "--out", tmp_path)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines() == [f"error: {bad} is not a Keras model (.keras files are zip archives)"]
    proc = run_cli("export", tiny_run[0], "--formats", "onnx,int4")
    assert proc.returncode == 1 and "unknown format 'int4'" in proc.stderr


def test_formats_table_covers_every_runtime():
    assert {f.engine for f in FORMATS.values()} == {"keras", "onnxruntime", "litert"}
    assert len(FORMATS) == 7
