"""Model registry: each architecture is a functional Keras model that maps (N, 28, 28, 1) in [0, 1] to
probabilities over 10 digits, or over 10 digits and "not a digit" (``crops.NOT_A_DIGIT``) for camera models.

Inference models hold no augmentation layers (augmentation lives in the training input pipeline).
Bundled, trained models and their exports sit in ``edgedigits/models/`` (``BUNDLED_DIR``), a folder of artifacts.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from edgedigits.preprocess import DIGITS, INPUT_SHAPE

BUNDLED_DIR = Path(__file__).resolve().parent / "models"


@dataclass(frozen=True)
class Arch:
    name: str
    build: Callable
    params: int  # exact trainable + non-trainable count, checked by the tests
    recipe: str  # the training recipe it is bundled with: "seed" (the Kaggle kernel's) or "camera"
    classes: int  # 10 digits, or 11 with "not a digit"


ARCHS: dict[str, Arch] = {}
RECIPES = ("seed", "camera")  # the training recipes (edgedigits.train): the Kaggle kernel's, and camera crops


def register(name: str, params: int, recipe: str = "seed", classes: int = DIGITS):
    def wrap(fn):
        ARCHS[name] = Arch(name, lambda: fn(name, classes), params, recipe, classes)
        return fn

    return wrap


def build(name: str):
    if name not in ARCHS:
        from edgedigits.errors import EdgeDigitsError

        raise EdgeDigitsError(f"unknown architecture {name!r}; choose from {', '.join(ARCHS)}")
    return ARCHS[name].build()


def load_keras(path: Path):
    """Load a .keras model for inference, with a one-line error for anything that is not one."""
    import zipfile

    from edgedigits.deps import keras_backend
    from edgedigits.errors import EdgeDigitsError

    path = Path(path)
    if not path.is_file():
        raise EdgeDigitsError(f"model file not found: {path}")
    if not zipfile.is_zipfile(path):
        raise EdgeDigitsError(f"{path} is not a Keras model (.keras files are zip archives)")
    _check_keras_sizes(path)
    keras_backend()  # TensorFlow, quietly, unless $KERAS_BACKEND names another
    import keras

    try:
        return keras.models.load_model(path, compile=False)
    except Exception as exc:  # Keras raises many types for a damaged archive
        raise EdgeDigitsError(f"{path} is not a valid Keras model ({type(exc).__name__}: {exc})") from None


MAX_ARCHIVE_BYTES = 1 << 30  # what a .keras archive may unpack to


def _declared_params(config) -> int:
    """A lower bound on the weights a Keras config declares (filters x kernel, units, embeddings), read from
    the config alone, before anything is built."""
    import math

    total = 0
    if isinstance(config, dict):
        inner = config.get("config") if isinstance(config.get("config"), dict) else {}
        kind = config.get("class_name", "")
        size = inner.get("filters") or inner.get("units") or 0
        if kind.endswith(("Conv1D", "Conv2D", "Conv3D")) and isinstance(size, int):
            kernel = inner.get("kernel_size", 1)
            total += size * (math.prod(kernel) if isinstance(kernel, (list, tuple)) else int(kernel))
        elif kind == "Dense" and isinstance(size, int):
            total += size
        elif kind == "Embedding":
            total += int(inner.get("input_dim", 0)) * int(inner.get("output_dim", 0))
        total += sum(_declared_params(v) for v in config.values() if isinstance(v, (dict, list)))
    elif isinstance(config, list):
        total += sum(_declared_params(v) for v in config)
    return total


def _check_keras_sizes(path: Path) -> None:
    """Refuse an archive that unpacks to more than ``MAX_ARCHIVE_BYTES``, or whose config declares more weights
    than its weights file holds (a config asking for a million filters would allocate gigabytes first)."""
    import json
    import zipfile

    from edgedigits.errors import EdgeDigitsError

    try:
        with zipfile.ZipFile(path) as archive:
            sizes = {info.filename: info.file_size for info in archive.infolist()}
            if sum(sizes.values()) > MAX_ARCHIVE_BYTES:
                raise EdgeDigitsError(f"{path} unpacks to {sum(sizes.values()):,} bytes, over {MAX_ARCHIVE_BYTES:,}")
            config = json.loads(archive.read("config.json")) if "config.json" in sizes else None
    except (zipfile.BadZipFile, OSError, ValueError, RecursionError) as exc:
        raise EdgeDigitsError(f"{path} is not a valid Keras model ({type(exc).__name__})") from None
    weights = sizes.get("model.weights.h5", 0)
    declared = _declared_params(config) * 4  # float32 bytes
    if config is not None and declared > weights + (1 << 20):
        raise EdgeDigitsError(f"{path} declares at least {declared:,} bytes of weights but holds {weights:,}")


def count_macs(model) -> int:
    """Multiply-accumulates of one inference (conv and dense layers), for GMAC/s figures."""
    total = 0
    for layer in model.layers:
        kind = type(layer).__name__
        if kind == "Conv2D":
            _, out_h, out_w, out_c = layer.output.shape
            k_h, k_w = layer.kernel_size
            total += out_h * out_w * out_c * k_h * k_w * layer.input.shape[-1]
        elif kind == "Dense":
            total += layer.input.shape[-1] * layer.units
    return int(total)


def bundled(name: str, suffix: str = ".keras") -> Path:
    return BUNDLED_DIR / f"{name}{suffix}"


# camera: the seed CNN with an 11th class, trained on camera-like crops (the default for photos);
# seed: the Kaggle Digit Recognizer CNN (Conv32x2-Conv64x2-Dense256)
@register("camera", params=887_787, recipe="camera", classes=DIGITS + 1)
@register("seed", params=887_530)
def seed_body(name: str, classes: int):
    from keras import Input, Model, layers

    inputs = Input(INPUT_SHAPE, name="input")
    x = layers.Conv2D(32, 5, padding="same", activation="relu")(inputs)
    x = layers.Conv2D(32, 5, padding="same", activation="relu")(x)
    x = layers.MaxPooling2D(2)(x)
    x = layers.Dropout(0.25)(x)
    x = layers.Conv2D(64, 3, padding="same", activation="relu")(x)
    x = layers.Conv2D(64, 3, padding="same", activation="relu")(x)
    x = layers.MaxPooling2D(2, strides=2)(x)
    x = layers.Dropout(0.25)(x)
    x = layers.Flatten()(x)
    x = layers.Dense(256, activation="relu")(x)
    x = layers.Dropout(0.5)(x)
    outputs = layers.Dense(classes, activation="softmax", dtype="float32", name="probs")(x)
    return Model(inputs, outputs, name=name)


# micro: a small CNN for microcontrollers (int8 under 80 KB), trained like the camera model
@register("micro", params=44_251, recipe="camera", classes=DIGITS + 1)
def micro(name: str, classes: int):
    from keras import Input, Model, layers

    def conv_bn(x, filters):
        x = layers.Conv2D(filters, 3, use_bias=False)(x)
        x = layers.BatchNormalization()(x)
        return layers.ReLU()(x)

    inputs = Input(INPUT_SHAPE, name="input")
    x = conv_bn(inputs, 16)  # 26x26
    x = conv_bn(x, 32)  # 24x24
    x = layers.MaxPooling2D(2)(x)  # 12x12
    x = conv_bn(x, 32)  # 10x10
    x = conv_bn(x, 64)  # 8x8
    x = layers.MaxPooling2D(2)(x)  # 4x4
    x = layers.Dropout(0.3)(x)
    x = layers.Flatten()(x)
    outputs = layers.Dense(classes, activation="softmax", dtype="float32", name="probs")(x)
    return Model(inputs, outputs, name=name)
