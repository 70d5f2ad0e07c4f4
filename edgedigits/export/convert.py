"""Export a Keras model to ONNX and TFLite, and prove every file right before keeping it.

Each artifact is written to a hidden temporary file, run in its real runtime (LiteRT or onnxruntime) on
the MNIST test set, compared with the Keras model, and only then renamed into place. Anything below
``--min-agreement`` is deleted. ``export.json`` records what was kept and how well it did.
"""

from __future__ import annotations

import os
import time
import warnings
from pathlib import Path

import numpy as np

from edgedigits import environment, runtime
from edgedigits.console import err, progress_bar, table
from edgedigits.deps import require, silenced_native_output, tensorflow
from edgedigits.digit import CONTRACT, DIGITS, INPUT_SHAPE, to_model_input
from edgedigits.errors import EdgeDigitsError
from edgedigits.files import sha256, write_json
from edgedigits.runtime.formats import FORMATS, Format
from edgedigits.runtime.keras_file import load_keras
from edgedigits.training import evaluate, mnist
from edgedigits.training.architectures import count_macs
from edgedigits.training.degrade import degrade
from edgedigits.training.junk import junk

ONNX_OPSET = 17
TMP_PREFIX = ".partial-"


def calibration_set(images: np.ndarray, labels: np.ndarray, n: int = 500, seed: int = 0,
                    classes: int = DIGITS) -> np.ndarray:
    """``n`` training digits (uint8), stratified by class, drawn with a fixed seed. For an 11-class camera model
    they are drawn again as camera crops, and not-a-digit crops are added (one class's share), so the int8
    ranges cover what the camera shows it."""
    if n < DIGITS:
        raise EdgeDigitsError(f"--calib must be at least {DIGITS} (one per class), got {n}")
    rng = np.random.default_rng(seed)
    per_class = np.full(DIGITS, n // DIGITS)
    per_class[: n % DIGITS] += 1
    picks = []
    for digit in range(DIGITS):
        pool = np.flatnonzero(labels == digit)
        if len(pool) < per_class[digit]:
            raise EdgeDigitsError(f"the training data has only {len(pool)} images of digit {digit}")
        picks.append(rng.choice(pool, per_class[digit], replace=False))
    digits = images[np.sort(np.concatenate(picks))]
    if classes == DIGITS:
        return digits

    return np.concatenate([degrade(digits, rng), junk(max(1, n // DIGITS), images, rng)[0]])


# ---------------------------------------------------------------- ONNX


def static_flatten(model):
    """Clone ``model`` with each Flatten replaced by a reshape to the constant [-1, K].

    Keras' Flatten computes its target shape at run time, which both converters keep as a
    Shape->Slice->Pack/Concat chain (three extra TFLite Micro operators). Same weights, same outputs.
    """
    import keras

    class StaticFlatten(keras.layers.Layer):
        def call(self, x):
            return keras.ops.reshape(x, (-1, int(np.prod(x.shape[1:]))))

    def swap(layer):
        if isinstance(layer, keras.layers.Flatten):
            return StaticFlatten(name=layer.name)
        return layer.__class__.from_config(layer.get_config())

    clone = keras.models.clone_model(model, clone_function=swap)
    clone.set_weights(model.get_weights())
    return clone


def export_onnx(model, path: Path) -> None:
    tf = tensorflow()
    tf2onnx = require("tf2onnx", "train")
    onnx = require("onnx", "train")
    spec = [tf.TensorSpec((None, *INPUT_SHAPE), tf.float32, name="input")]
    with silenced_native_output():
        proto, _ = tf2onnx.convert.from_keras(model, input_signature=spec, opset=ONNX_OPSET)
    for value in (*proto.graph.input, *proto.graph.output):
        value.type.tensor_type.shape.dim[0].dim_param = "batch"
    proto.graph.output[0].name = _rename_output(proto.graph, proto.graph.output[0].name, "probs")
    onnx.checker.check_model(proto, full_check=True)
    onnx.save(proto, str(path))


def _rename_output(graph, old: str, new: str) -> str:
    if old != new:
        for node in graph.node:
            node.output[:] = [new if o == old else o for o in node.output]
    return new


def export_onnx_int8(fp32_path: Path, path: Path, calib: np.ndarray) -> None:
    quantization = require("onnxruntime.quantization", "train")
    from onnxruntime.quantization.shape_inference import quant_pre_process

    class Reader(quantization.CalibrationDataReader):
        def __init__(self):
            self._batches = iter(to_model_input(calib)[i : i + 1] for i in range(len(calib)))

        def get_next(self):
            batch = next(self._batches, None)
            return None if batch is None else {"input": batch}

    prepared = path.with_name(path.name + ".pre.onnx")
    try:
        with silenced_native_output():
            quant_pre_process(str(fp32_path), str(prepared), skip_symbolic_shape=True)
            quantization.quantize_static(
                str(prepared), str(path), Reader(),
                quant_format=quantization.QuantFormat.QDQ, per_channel=True,
                activation_type=quantization.QuantType.QUInt8, weight_type=quantization.QuantType.QInt8,
            )
    finally:
        prepared.unlink(missing_ok=True)


# ---------------------------------------------------------------- TFLite


def export_tflite(model, path: Path, fmt: Format, calib: np.ndarray) -> None:
    tf = tensorflow()
    converter = tf.lite.TFLiteConverter.from_keras_model(model)
    if fmt.name in ("tflite-fp16", "tflite-dynamic", "tflite-int8"):
        converter.optimizations = [tf.lite.Optimize.DEFAULT]
    if fmt.name == "tflite-fp16":
        converter.target_spec.supported_types = [tf.float16]
    if fmt.name == "tflite-int8":
        samples = to_model_input(calib)
        converter.representative_dataset = lambda: ([samples[i : i + 1]] for i in range(len(samples)))
        converter.target_spec.supported_ops = [tf.lite.OpsSet.TFLITE_BUILTINS_INT8]
        converter.inference_input_type = tf.int8
        converter.inference_output_type = tf.int8
    with silenced_native_output(), warnings.catch_warnings():
        warnings.filterwarnings("ignore", message="Statistics for quantized inputs")  # int8 I/O: expected
        blob = converter.convert()
    path.write_bytes(blob)


# ---------------------------------------------------------------- validation and manifest


def contract(io: dict) -> str:
    q = io["input"]
    if q["scale"] is None:
        return CONTRACT
    return f"{CONTRACT}, then quantized to {q['dtype']}: q = round(x / {q['scale']:.9g}) + {q['zero_point']}"


def validate(path: Path, fmt: Format, images: np.ndarray, labels: np.ndarray, reference: np.ndarray) -> dict:
    """Run the artifact in its real runtime on ``images``; compare with the Keras probabilities."""
    clf = runtime.load(path)
    started = time.perf_counter()
    probs = clf.predict_many(images)
    pred = probs.argmax(1)
    result = {
        "runtime": clf.backend,
        "accuracy": float(np.mean(pred == labels)),
        "agreement": float(np.mean(pred == reference.argmax(1))),
        "max_abs_diff": float(np.max(np.abs(probs - reference))),
        "verify_samples": int(len(images)),
        "verify_seconds": round(time.perf_counter() - started, 3),
        "io": clf.io_details(),
    }
    result["preprocessing"] = contract(result["io"])
    return result


def _export_one(fmt, graph, out, stem, calib, images, labels, reference, min_agreement, manifest):
    """Write one artifact to a temporary file, verify it, then keep it (renamed) or delete it, also when
    interrupted (Ctrl-C, SIGTERM). Returns a table row."""
    tmp = out / f"{TMP_PREFIX}{fmt.filename(stem)}"
    try:
        return _write_and_verify(fmt, graph, out, stem, tmp, calib, images, labels, reference, min_agreement, manifest)
    finally:
        tmp.unlink(missing_ok=True)


def _write_and_verify(fmt, graph, out, stem, tmp, calib, images, labels, reference, min_agreement, manifest):
    name = fmt.name
    final = out / fmt.filename(stem)
    t0 = time.time()
    err.print(f"exporting {name} -> {final}")
    try:
        if name == "onnx":
            export_onnx(graph, tmp)
        elif name == "onnx-int8":
            export_onnx_int8(out / FORMATS["onnx"].filename(stem), tmp, calib)
        else:
            export_tflite(graph, tmp, fmt, calib)
        entry = {"format": name, "file": final.name, **validate(tmp, fmt, images, labels, reference)}
    except EdgeDigitsError as exc:
        entry = {"format": name, "file": final.name, "error": str(exc)}
    except Exception as exc:  # a converter failing is reported per format, never a crash
        entry = {"format": name, "file": final.name, "error": f"{type(exc).__name__}: {exc}"}
    if "error" not in entry and entry["agreement"] < min_agreement:
        entry["error"] = (f"top-1 agreement with Keras {entry['agreement'] * 100:.2f}% is below "
                          f"--min-agreement {min_agreement * 100:.2f}%")
    if "error" in entry:
        tmp.unlink(missing_ok=True)
        final.unlink(missing_ok=True)  # never leave a file that export.json does not vouch for
        manifest["failed"].append(entry)
        err.print(f"[red]{name}: {entry['error']}[/]")
        return (name, "❌", "", "", "", "", entry["error"][:60])
    entry.update({"bytes": tmp.stat().st_size, "sha256": sha256(tmp), "seconds": round(time.time() - t0, 2)})
    os.replace(tmp, final)
    manifest["artifacts"].append(entry)
    return (name, "✅", f"{entry['bytes'] / 1024:.0f}", f"{entry['accuracy'] * 100:.2f}",
            f"{entry['agreement'] * 100:.2f}", "" if fmt.quantized else f"{entry['max_abs_diff']:.1e}",
            entry["runtime"])


def export(
    model_path: Path,
    formats: list[str],
    out: Path | None = None,
    calib_n: int = 500,
    verify_samples: int | None = None,
    min_agreement: float = 0.995,
    data: str | None = None,
    stem: str | None = None,
    manifest_name: str = "export.json",
    raise_on_failure: bool = False,
) -> dict:
    """Export ``model_path`` to ``formats`` in ``out``; returns the manifest (also written to export.json).
    With ``raise_on_failure``, a format that failed raises once the manifest is written."""
    started = time.time()
    model_path = Path(model_path)
    keras_model = load_keras(model_path)
    classes = runtime.check_contract(model_path, keras_model.inputs, keras_model.outputs)
    graph = static_flatten(keras_model)
    out = Path(out) if out else model_path.parent
    stem = stem or model_path.name.removesuffix(".keras")
    out.mkdir(parents=True, exist_ok=True)
    for stale in [*out.glob(f"{TMP_PREFIX}*"), *out.glob(f".{manifest_name}.*.tmp*")]:  # left by a killed export
        stale.unlink()

    ds = mnist.load(data)
    train, test = ds.split("train"), ds.split("test")
    calib = calibration_set(train.images, train.labels, calib_n, classes=classes)
    n = len(test) if verify_samples is None else min(verify_samples, len(test))
    images, labels = test.images[:n], test.labels[:n]
    reference = evaluate.predict_keras(keras_model, images)
    keras_accuracy = float(np.mean(reference.argmax(1) == labels))

    manifest = {
        "source": {"file": model_path.name, "sha256": sha256(model_path), "accuracy": keras_accuracy,
                   "params": keras_model.count_params(), "macs": count_macs(keras_model)},
        "labels": [*range(DIGITS), "not a digit"][:classes],
        "calibration": {"samples": len(calib), "seed": 0, "stratified": True, "split": "train"},
        "verify": {"samples": n, "split": "test", "data_md5": ds.md5, "min_agreement": min_agreement},
        "artifacts": [],
        "failed": [],
    }
    wanted = [f for f in formats if f != "micro"]
    if "micro" in formats and "tflite-int8" not in wanted:
        wanted.append("tflite-int8")
    if "onnx-int8" in wanted and "onnx" not in wanted:
        wanted.insert(wanted.index("onnx-int8"), "onnx")  # the int8 model is quantized from the fp32 one
    rows = []
    with progress_bar("export and verify", total=len(wanted)) as advance:
        for name in wanted:
            rows.append(_export_one(FORMATS[name], graph, out, stem, calib, images, labels, reference,
                                    min_agreement, manifest))
            advance(note=f"{name} {rows[-1][1]}")

    if "micro" in formats:
        int8 = next((a for a in manifest["artifacts"] if a["format"] == "tflite-int8"), None)
        if int8 is None:
            manifest["failed"].append({"format": "micro", "error": "needs a valid tflite-int8 model"})
        else:
            from edgedigits.export.firmware import generate

            try:
                fw = generate(out / int8["file"], out / f"{stem}_firmware")
                manifest["firmware"] = {"dir": f"{stem}_firmware", **fw}
                rows.append(("micro", "✅", f"{fw['model_bytes'] / 1024:.0f}", "", "", "",
                             f"arena {fw['arena_bytes']} B"))
            except EdgeDigitsError as exc:
                manifest["failed"].append({"format": "micro", "error": str(exc)})
                rows.append(("micro", "❌", "", "", "", "", str(exc)[:60]))

    manifest["versions"] = environment.library_versions()
    manifest["seconds"] = round(time.time() - started, 1)
    write_json(out / manifest_name, manifest)
    table(
        f"export of {model_path.name} (Keras accuracy {keras_accuracy * 100:.2f}% on {n:,} test digits)",
        ["format", "status", "KB", "accuracy %", "agreement %", "max |Δp|", "runtime / note"],
        rows,
    )
    if raise_on_failure and manifest["failed"]:
        failed = ", ".join(f["format"] for f in manifest["failed"])
        raise EdgeDigitsError(f"{len(manifest['failed'])} format(s) failed: {failed} (details in {manifest_name})")
    return manifest
