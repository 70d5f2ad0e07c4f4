"""The one table of model formats. CLI validation, export, the runtime and the benchmark all read it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from edgedigits.errors import EdgeDigitsError


@dataclass(frozen=True)
class Format:
    name: str
    suffix: str  # file name suffix after the model name, e.g. "seed.int8.tflite"
    engine: str  # what runs it: "keras", "onnxruntime" or "litert" (``backends.Backend.engine``)
    quantized: bool  # int8 weights and activations (compared by agreement, not by max abs diff)

    def filename(self, stem: str) -> str:
        return f"{stem}{self.suffix}"


FORMATS: dict[str, Format] = {
    f.name: f
    for f in (
        Format("keras", ".keras", "keras", False),  # Keras 3 archive, float32: the source of every export
        Format("onnx", ".onnx", "onnxruntime", False),  # opset 17, float32
        Format("onnx-int8", ".int8.onnx", "onnxruntime", True),  # QDQ, per channel, calibrated
        Format("tflite", ".tflite", "litert", False),
        Format("tflite-fp16", ".fp16.tflite", "litert", False),  # float16 weights, float32 compute
        Format("tflite-dynamic", ".dynamic.tflite", "litert", False),  # int8 weights, float I/O
        Format("tflite-int8", ".int8.tflite", "litert", True),  # full integer, int8 I/O
    )
}
EXPORTABLE = [name for name in FORMATS if name != "keras"]
DEFAULT_EXPORT = ["onnx", "tflite"]
INT8_EXPORT = ["tflite-int8", "onnx-int8"]


def parse_formats(spec: str | list[str] | tuple[str, ...] | None, int8: bool = False) -> list[str]:
    """Turn '--formats onnx,tflite' (or 'all', repeated options) into an ordered, validated list."""
    if not spec:
        names = list(DEFAULT_EXPORT)
    else:
        items = [spec] if isinstance(spec, str) else list(spec)
        names = [n.strip() for item in items for n in item.split(",") if n.strip()]
        if "all" in names:
            names = [n for n in names if n != "all"] + EXPORTABLE + ["micro"]
    if int8:
        names += INT8_EXPORT
    unknown = [n for n in names if n not in FORMATS and n != "micro"]
    if unknown:
        raise EdgeDigitsError(f"unknown format {unknown[0]!r}; choose from {', '.join(EXPORTABLE)}, micro, all")
    if "keras" in names:
        raise EdgeDigitsError("keras is the source format; it is not exported")
    return list(dict.fromkeys(names))  # keep order, drop repeats


def format_of(path: str | Path) -> Format:
    """The format of a model file, from its name (seed.int8.tflite -> tflite-int8)."""
    name = Path(path).name
    for fmt in sorted(FORMATS.values(), key=lambda f: -len(f.suffix)):
        if name.endswith(fmt.suffix):
            return fmt
    raise EdgeDigitsError(f"{path}: unknown model format; expected one of .keras, .onnx, .tflite")
