"""One predict API over every model format, chosen by file suffix from the formats table.

``load(path).predict(digits)`` takes uint8 digits (white on black, 28x28) and returns (N, 10) probabilities, or
(N, 11) for camera models, whose last class is "not a digit". Every format's probabilities sum to 1: an int8
output (scale 1/256) tops out at 255/256, so it is divided by its sum, and a confidence means the same thing
for every format.
Loading a .tflite or .onnx never imports TensorFlow: .tflite runs on ai-edge-litert (then tflite_runtime,
then tf.lite as fallbacks), .onnx on onnxruntime. Quantized inputs and outputs are handled here.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from edgedigits.deps import silenced_native_output, tensorflow
from edgedigits.digit import CLASS_COUNTS, DIGITS, INPUT_SHAPE, to_model_input
from edgedigits.errors import EdgeDigitsError
from edgedigits.runtime import backends, tflite_file
from edgedigits.runtime.bundled import resolve
from edgedigits.runtime.formats import format_of
from edgedigits.runtime.keras_file import load_keras


def _quantize(x: np.ndarray, dtype, scale: float, zero_point: int) -> np.ndarray:
    info = np.iinfo(dtype)
    return np.clip(np.round(x / scale) + zero_point, info.min, info.max).astype(dtype)


def _check_io(path: Path, n_inputs: int, in_shape, float_input: bool, n_outputs: int, out_shape) -> int:
    """The digit classifier's contract, checked at load: one float input of (N, 28, 28, 1), one output of
    (N, classes) with 10 or 11 classes; returns the class count."""
    dims = [d if isinstance(d, int) else None for d in (in_shape or [])]
    if n_inputs != 1 or n_outputs != 1 or len(dims) != 4 or tuple(dims[1:]) != INPUT_SHAPE or not float_input:
        raise EdgeDigitsError(f"{path} is not a digit classifier: it takes {n_inputs} input(s) of shape "
                              f"{list(in_shape or [])}, not one float input of (N, {', '.join(map(str, INPUT_SHAPE))})")
    if out_shape is None or len(out_shape) != 2:
        raise EdgeDigitsError(f"{path} is not a digit classifier: its output has shape {out_shape}, not (N, classes)")
    return _check_classes(path, out_shape[-1])


def check_contract(path: Path, inputs, outputs) -> int:
    """A Keras model's inputs and outputs against the digit classifier's contract; returns its class count."""
    return _check_io(path, len(inputs), inputs[0].shape if inputs else None,
                     bool(inputs) and str(inputs[0].dtype) == "float32", len(outputs),
                     outputs[0].shape if outputs else None)


def _check_classes(path: Path, classes) -> int:
    """The model's class count, when it is one a digit classifier has."""
    if classes not in CLASS_COUNTS:
        raise EdgeDigitsError(f"{path} has {classes} outputs; a digit classifier has 10 (digits) or 11 "
                              "(digits and not a digit)")
    return int(classes)


class Classifier:
    """A loaded model. ``predict`` takes uint8 digits and returns float32 probabilities."""

    path: Path
    backend: str
    input_quantization: tuple[float, int] | None = None
    output_quantization: tuple[float, int] | None = None
    classes: int = DIGITS

    def predict(self, digits: np.ndarray) -> np.ndarray:
        x = to_model_input(digits)
        if not len(x):
            return np.zeros((0, self.classes), np.float32)
        out = self._run(x)
        if out.shape != (len(x), self.classes):  # the class count was checked when the model was loaded
            raise EdgeDigitsError(f"{self.path} gave outputs of shape {out.shape}, not ({len(x)}, {self.classes})")
        total = out.sum(1, keepdims=True)
        if not np.all(np.isfinite(out)) or np.any(out < 0) or np.any(total <= 0):
            raise EdgeDigitsError(f"{self.path} gave outputs that are not probabilities (negative, NaN or all 0)")
        return out / total

    def predict_many(self, digits: np.ndarray, batch: int = 500) -> np.ndarray:
        """``predict`` over a large set, ``batch`` digits at a time (bounded interpreter memory)."""
        if not len(digits):
            return np.zeros((0, self.classes), np.float32)
        return np.concatenate([self.predict(digits[i : i + batch]) for i in range(0, len(digits), batch)])

    def io_details(self) -> dict:
        """The input and the output: name, shape (-1 for a free dimension), dtype, and scale and zero point when
        quantized."""
        raise NotImplementedError

    def _run(self, x: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError


def _io(name: str, shape, dtype: str, quantization=None) -> dict:
    scale, zero_point = quantization if quantization and quantization[0] else (None, None)
    return {"name": name, "shape": [d if isinstance(d, int) and d >= 0 else -1 for d in shape], "dtype": dtype,
            "scale": None if scale is None else float(scale), "zero_point": None if scale is None else int(zero_point)}


class TFLiteClassifier(Classifier):
    def __init__(self, path: Path, threads: int | None = None, backend: str | None = None):
        blob = path.read_bytes()
        tflite_file.check(blob, str(path))
        cls, self.backend = backends.first_installed("litert", backend)
        try:
            with silenced_native_output():  # LiteRT announces its XNNPACK delegate on fd 2
                self.interpreter = cls(model_content=blob, num_threads=threads)
                self.interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            raise EdgeDigitsError(f"{path} could not be loaded by {self.backend}: {exc}") from None
        self.path = path
        inputs, outputs = self.interpreter.get_input_details(), self.interpreter.get_output_details()
        self.classes = _check_io(path, len(inputs), [int(d) for d in inputs[0]["shape"]] if inputs else None,
                                 bool(inputs) and inputs[0]["dtype"] in (np.float32, np.int8, np.uint8), len(outputs),
                                 [int(d) for d in outputs[0]["shape"]] if outputs else None)
        self._in, self._out = inputs[0], outputs[0]
        if self._in["dtype"] in (np.int8, np.uint8):
            self.input_quantization = tuple(self._in["quantization"])
        if self._out["dtype"] in (np.int8, np.uint8):
            self.output_quantization = tuple(self._out["quantization"])
        self._batch = int(self._in["shape"][0])

    def io_details(self) -> dict:
        return {side: _io(t["name"], [int(d) for d in t.get("shape_signature", t["shape"])],
                          np.dtype(t["dtype"]).name, tuple(t["quantization"]))
                for side, t in (("input", self._in), ("output", self._out))}

    def _run(self, x: np.ndarray) -> np.ndarray:
        if self.input_quantization:
            x = _quantize(x, self._in["dtype"], *self.input_quantization)
        try:
            if len(x) != self._batch:
                self.interpreter.resize_tensor_input(self._in["index"], [len(x), *x.shape[1:]])
                self.interpreter.allocate_tensors()
                self._batch = len(x)
            self.interpreter.set_tensor(self._in["index"], x)
            self.interpreter.invoke()
            out = self.interpreter.get_tensor(self._out["index"])
        except (RuntimeError, ValueError) as exc:
            raise EdgeDigitsError(f"{self.path} failed to run in {self.backend}: {exc}") from None
        if self.output_quantization:
            scale, zero_point = self.output_quantization
            out = (out.astype(np.float32) - zero_point) * np.float32(scale)
        return out.astype(np.float32, copy=False)


class OnnxClassifier(Classifier):
    backend = "onnxruntime"

    def __init__(self, path: Path, threads: int | None = None, backend: str | None = None):
        ort, _ = backends.first_installed("onnxruntime")
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
            options.inter_op_num_threads = 1
        options.log_severity_level = 3
        try:
            self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own exception types for bad files
            raise EdgeDigitsError(f"{path} is not a valid ONNX model ({str(exc).splitlines()[0]})") from None
        self.path = path
        inputs, outputs = self.session.get_inputs(), self.session.get_outputs()
        self.classes = _check_io(path, len(inputs), inputs[0].shape if inputs else None,
                                 bool(inputs) and inputs[0].type == "tensor(float)", len(outputs),
                                 outputs[0].shape if outputs else None)
        self._input = inputs[0].name

    def io_details(self) -> dict:
        return {side: _io(t.name, t.shape, t.type.removeprefix("tensor(").removesuffix(")"))
                for side, t in (("input", self.session.get_inputs()[0]), ("output", self.session.get_outputs()[0]))}

    def _run(self, x: np.ndarray) -> np.ndarray:
        try:
            return np.asarray(self.session.run(None, {self._input: x})[0]).astype(np.float32, copy=False)
        except Exception as exc:  # onnxruntime raises its own exception types
            raise EdgeDigitsError(f"{self.path} failed to run in onnxruntime ({str(exc).splitlines()[0][:200]})") from None


class KerasClassifier(Classifier):
    backend = "keras"

    def __init__(self, path: Path, threads: int | None = None, backend: str | None = None):
        tf = tensorflow()
        if threads:
            try:
                tf.config.threading.set_intra_op_parallelism_threads(threads)
                tf.config.threading.set_inter_op_parallelism_threads(1)
            except RuntimeError:  # already initialised in this process
                pass
        self.path = path
        self.model = load_keras(path)
        self.classes = check_contract(path, self.model.inputs, self.model.outputs)
        # A compiled call: Model.predict adds milliseconds of per-call overhead that would swamp batch-1 timings.
        self._call = tf.function(lambda x: self.model(x, training=False), reduce_retracing=True)

    def io_details(self) -> dict:
        return {side: _io(t.name, [-1 if d is None else d for d in t.shape], "float32")
                for side, t in (("input", self.model.inputs[0]), ("output", self.model.outputs[0]))}

    def _run(self, x: np.ndarray) -> np.ndarray:
        try:
            return np.concatenate([np.asarray(self._call(x[i : i + 1024]), dtype=np.float32)
                                   for i in range(0, len(x), 1024)])
        except Exception as exc:  # TensorFlow's op errors are not RuntimeError
            raise EdgeDigitsError(f"{self.path} failed to run in Keras ({type(exc).__name__})") from None


_CLASSES = {"litert": TFLiteClassifier, "onnxruntime": OnnxClassifier, "keras": KerasClassifier}  # by engine


def load(path: str | Path, threads: int | None = None, backend: str | None = None) -> Classifier:
    """Load a model file for inference; the formats table names its engine (``backend`` picks a TFLite one)."""
    path = Path(path)
    engine = format_of(path).engine
    if not path.is_file():
        raise EdgeDigitsError(f"model file not found: {path}")
    if path.stat().st_size == 0:
        raise EdgeDigitsError(f"{path} is empty")
    return _CLASSES[engine](path, threads=threads, backend=backend)


def open_model(model: str | Path | None, threads: int | None = None) -> Classifier:
    """A ``--model`` option loaded: a file, a bundled model's name, or None for the default model."""
    return load(resolve(model), threads=threads)

