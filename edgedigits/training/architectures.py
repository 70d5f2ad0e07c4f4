"""Architectures: each is a functional Keras model that maps (N, 28, 28, 1) in [0, 1] to probabilities over 10
digits, or over 10 digits and "not a digit" (``digit.NOT_A_DIGIT``) for camera models.

Inference models hold no augmentation layers (augmentation lives in the training input pipeline).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from edgedigits.digit import DIGITS, INPUT_SHAPE
from edgedigits.errors import EdgeDigitsError


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
        raise EdgeDigitsError(f"unknown architecture {name!r}; choose from {', '.join(ARCHS)}")
    return ARCHS[name].build()


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
