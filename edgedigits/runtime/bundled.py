"""The bundled models and the one way a model option becomes a file: a path, a bundled model's name, or None."""

from __future__ import annotations

from pathlib import Path

from edgedigits.errors import EdgeDigitsError
from edgedigits.runtime import backends, store

BUNDLED_DIR = Path(__file__).resolve().parents[1] / "models"  # a folder of artifacts, not a package
DEFAULT_MODEL = "camera"  # trained on camera-like crops with a "not a digit" class: the model for photos


def bundled(name: str, suffix: str = ".keras") -> Path:
    return BUNDLED_DIR / f"{name}{suffix}"


def names() -> list[str]:
    """The bundled models' names (seed, camera, micro): what ``edgedigits/models/`` holds."""
    return sorted({p.name.split(".")[0] for p in BUNDLED_DIR.glob("*.*") if p.suffix in (".keras", ".onnx", ".tflite")})


def default_model(name: str | None = None) -> Path:
    """A bundled model by name, or (no name) the model in use: the user's (``runtime.store``, after its SHA-256
    is checked) or the bundled camera model. Int8 TFLite, or ONNX when no TFLite runtime is installed."""
    try:
        backends.first_installed("litert")
        suffixes = (".int8.tflite", ".onnx")
    except EdgeDigitsError:
        suffixes = (".onnx",)
    if name is None:
        mine = store.current_file(suffixes)
        if mine is not None:
            return mine
    return bundled(name or DEFAULT_MODEL, suffixes[0])


def resolve(model: str | Path | None, suffix: str | None = None) -> Path:
    """A model option: a file, a bundled model's name, or None for the default model. A name gives the bundled
    file with ``suffix`` (".keras", ".onnx", ...), else the one the installed runtime reads."""
    if model is None and not suffix:
        return default_model()
    name = str(model or DEFAULT_MODEL)
    if model is not None and (Path(name).exists() or name not in names()):
        return Path(name)
    return bundled(name, suffix) if suffix else default_model(name)
