"""One predict API over every model format, chosen by file suffix from the formats table.

``load(path).predict(digits)`` takes uint8 digits (white on black, 28x28) and returns (N, 10) probabilities, or
(N, 11) for camera models, whose last class is "not a digit". Every format's probabilities sum to 1: an int8
output (scale 1/256) tops out at 255/256, so it is divided by its sum, and a confidence means the same thing
for every format.
Loading a .tflite or .onnx never imports TensorFlow: .tflite runs on ai-edge-litert (then tflite_runtime,
then tf.lite as fallbacks), .onnx on onnxruntime. Quantized inputs and outputs are handled here.
"""

from __future__ import annotations

import struct
from pathlib import Path

import numpy as np

from edgedigits.deps import silenced_native_output
from edgedigits.errors import EdgeDigitsError
from edgedigits.formats import RUNTIME_BY_SUFFIX
from edgedigits.preprocess import CLASS_COUNTS, DIGITS, to_model_input


def _quantize(x: np.ndarray, dtype, scale: float, zero_point: int) -> np.ndarray:
    info = np.iinfo(dtype)
    return np.clip(np.round(x / scale) + zero_point, info.min, info.max).astype(dtype)


def check_tflite_bytes(blob: bytes, where: str) -> None:
    """Cheap structural checks before a flatbuffer reaches the interpreter (malformed ones can segfault it)."""
    if len(blob) < 16 or blob[4:8] != b"TFL3":
        raise EdgeDigitsError(f"{where} is not a TFLite model (no TFL3 identifier)")
    root = struct.unpack_from("<I", blob, 0)[0]
    if not 8 <= root <= len(blob) - 4:
        raise EdgeDigitsError(f"{where} is a corrupt TFLite model (root table offset {root} outside the file)")
    vtable = root - struct.unpack_from("<i", blob, root)[0]
    if not 0 <= vtable <= len(blob) - 4:
        raise EdgeDigitsError(f"{where} is a corrupt TFLite model (vtable offset outside the file)")
    vt_size = struct.unpack_from("<H", blob, vtable)[0]
    if vt_size < 4 or vtable + vt_size > len(blob):
        raise EdgeDigitsError(f"{where} is a corrupt or truncated TFLite model")
    _walk_tflite(blob, where)


def tflite_schema():
    """The TFLite flatbuffer schema bindings (shipped by ai-edge-litert, or by tflite-micro), or None."""
    try:
        from ai_edge_litert import schema_py_generated as schema
    except ImportError:
        try:
            from tflite_micro.tensorflow.lite.micro.python import schema_py_generated as schema
        except ImportError:
            return None
    return schema


def _walk_tflite(blob: bytes, where: str) -> None:
    """Read every table the interpreter will follow, with bounds checks, so a bad offset fails here, in Python."""
    schema = tflite_schema()
    if schema is None:  # without the schema the header checks above must do
        return
    size = len(blob)

    def offset_ok(table) -> None:
        if table is None or not 0 <= table._tab.Pos < size:
            raise ValueError("table outside the file")

    try:
        model = schema.Model.GetRootAsModel(blob, 0)
        offset_ok(model)
        n_codes, n_buffers = model.OperatorCodesLength(), model.BuffersLength()
        if model.SubgraphsLength() < 1 or n_codes < 1:
            raise ValueError("no subgraph or no operators")
        for i in range(n_codes):
            offset_ok(model.OperatorCodes(i))
        for i in range(n_buffers):
            buffer = model.Buffers(i)
            offset_ok(buffer)
            if buffer.DataLength() and buffer._tab.Vector(buffer._tab.Offset(4)) + buffer.DataLength() > size:
                raise ValueError("buffer data outside the file")
            if buffer.Offset() and buffer.Offset() + buffer.Size() > size:  # data stored after the flatbuffer
                raise ValueError("buffer data outside the file")
        for g in range(model.SubgraphsLength()):
            graph = model.Subgraphs(g)
            offset_ok(graph)
            n_tensors = graph.TensorsLength()
            for t in range(n_tensors):
                tensor = graph.Tensors(t)
                offset_ok(tensor)
                if not 0 <= tensor.Buffer() < max(1, n_buffers) or tensor.ShapeLength() > 8:
                    raise ValueError("tensor with a bad buffer index or rank")
                tensor.ShapeAsNumpy()
            for index in [*graph.InputsAsNumpy(), *graph.OutputsAsNumpy()]:
                if not 0 <= index < n_tensors:
                    raise ValueError("graph input/output index out of range")
            for o in range(graph.OperatorsLength()):
                op = graph.Operators(o)
                offset_ok(op)
                if not 0 <= op.OpcodeIndex() < n_codes:
                    raise ValueError("operator code index out of range")
                for index in [*op.InputsAsNumpy(), *op.OutputsAsNumpy()]:
                    if not -1 <= index < n_tensors:  # -1 marks an optional input
                        raise ValueError("operator tensor index out of range")
    except (ValueError, IndexError, struct.error, TypeError, AttributeError) as exc:
        raise EdgeDigitsError(f"{where} is a corrupt TFLite model ({exc})") from None


TFLITE_BACKENDS = {  # tried in this order
    "ai-edge-litert": ("ai_edge_litert.interpreter", "Interpreter"),
    "tflite-runtime": ("tflite_runtime.interpreter", "Interpreter"),
    "tensorflow": ("tensorflow.lite", "Interpreter"),
}


def _tflite_interpreter_class(backend: str | None = None):
    import importlib

    for name in [backend] if backend else list(TFLITE_BACKENDS):
        module, attr = TFLITE_BACKENDS[name]
        try:
            return getattr(importlib.import_module(module), attr), name
        except (ImportError, AttributeError):
            continue
    wanted = backend or "ai-edge-litert"
    raise EdgeDigitsError(f"no TFLite runtime ({wanted}) is installed; install it with: pip install 'edgedigits[runtime]'")


def available_backends() -> list[str]:
    """Installed runtimes: TFLite backends by name, plus onnxruntime and keras."""
    import importlib.util

    found = [name for name, (module, _) in TFLITE_BACKENDS.items()
             if name != "tensorflow" and importlib.util.find_spec(module.split(".")[0]) is not None]
    if importlib.util.find_spec("onnxruntime") is not None:
        found.append("onnxruntime")
    if importlib.util.find_spec("tensorflow") is not None:
        found.append("keras")
    return found


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
    input_dtype: str
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

    def _run(self, x: np.ndarray) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError


class TFLiteClassifier(Classifier):
    def __init__(self, path: Path, threads: int | None = None, backend: str | None = None):
        blob = path.read_bytes()
        check_tflite_bytes(blob, str(path))
        cls, self.backend = _tflite_interpreter_class(backend)
        try:
            with silenced_native_output():  # LiteRT announces its XNNPACK delegate on fd 2
                self.interpreter = cls(model_content=blob, num_threads=threads)
                self.interpreter.allocate_tensors()
        except (ValueError, RuntimeError) as exc:
            raise EdgeDigitsError(f"{path} could not be loaded by {self.backend}: {exc}") from None
        self.path = path
        inputs, outputs = self.interpreter.get_input_details(), self.interpreter.get_output_details()
        if len(inputs) != 1 or len(outputs) != 1 or tuple(inputs[0]["shape"][1:]) != (28, 28, 1):
            raise EdgeDigitsError(f"{path} is not a digit classifier (expected one 28x28x1 input and one output)")
        self._in, self._out = inputs[0], outputs[0]
        self.input_dtype = np.dtype(self._in["dtype"]).name
        if self._in["dtype"] in (np.int8, np.uint8):
            self.input_quantization = tuple(self._in["quantization"])
        if self._out["dtype"] in (np.int8, np.uint8):
            self.output_quantization = tuple(self._out["quantization"])
        self._batch = int(self._in["shape"][0])
        self.classes = _check_classes(path, self._out["shape"][-1])

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
        try:
            import onnxruntime as ort
        except ImportError:
            raise EdgeDigitsError("onnxruntime is not installed; install it with: pip install 'edgedigits[runtime]'") from None
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
        self._input = self.session.get_inputs()[0].name
        self.input_dtype = "float32"
        self.classes = _check_classes(path, self.session.get_outputs()[0].shape[-1])

    def _run(self, x: np.ndarray) -> np.ndarray:
        return self.session.run(None, {self._input: x})[0].astype(np.float32, copy=False)


class KerasClassifier(Classifier):
    backend = "keras"
    input_dtype = "float32"

    def __init__(self, path: Path, threads: int | None = None, backend: str | None = None):
        from edgedigits.deps import tensorflow
        from edgedigits.models import load_keras

        tf = tensorflow()
        if threads:
            try:
                tf.config.threading.set_intra_op_parallelism_threads(threads)
                tf.config.threading.set_inter_op_parallelism_threads(1)
            except RuntimeError:  # already initialised in this process
                pass
        self.path = path
        self.model = load_keras(path)
        self.classes = _check_classes(path, self.model.outputs[0].shape[-1])
        # A compiled call: Model.predict adds milliseconds of per-call overhead that would swamp batch-1 timings.
        self._call = tf.function(lambda x: self.model(x, training=False), reduce_retracing=True)

    def _run(self, x: np.ndarray) -> np.ndarray:
        return np.concatenate([np.asarray(self._call(x[i : i + 1024]), dtype=np.float32)
                               for i in range(0, len(x), 1024)])


_CLASSES = {"litert": TFLiteClassifier, "onnxruntime": OnnxClassifier, "keras": KerasClassifier}


def load(path: str | Path, threads: int | None = None, backend: str | None = None) -> Classifier:
    """Load a model file for inference; the runtime is chosen by its suffix (``backend`` picks a TFLite one)."""
    path = Path(path)
    kind = RUNTIME_BY_SUFFIX.get(path.suffix)
    if kind is None:
        raise EdgeDigitsError(f"{path}: unknown model format; expected .tflite, .onnx or .keras")
    if not path.is_file():
        raise EdgeDigitsError(f"model file not found: {path}")
    if path.stat().st_size == 0:
        raise EdgeDigitsError(f"{path} is empty")
    return _CLASSES[kind](path, threads=threads, backend=backend)


DEFAULT_MODEL = "camera"  # trained on camera-like crops with a "not a digit" class: the model for photos


def default_model(name: str = DEFAULT_MODEL) -> Path:
    """A bundled model (``camera`` unless named): int8 TFLite, or ONNX when no TFLite runtime is installed."""
    from edgedigits.models import bundled

    try:
        _tflite_interpreter_class()
        return bundled(name, ".int8.tflite")
    except EdgeDigitsError:
        return bundled(name, ".onnx")


def resolve(model: str | Path | None) -> Path:
    """A model option: a file, a bundled model's name (seed, camera, micro), or None for the default model."""
    from edgedigits.models import ARCHS

    if model is None:
        return default_model()
    if str(model) in ARCHS and not Path(model).exists():
        return default_model(str(model))
    return Path(model)
