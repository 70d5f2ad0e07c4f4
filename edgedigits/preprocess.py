"""The single place where a 28x28 uint8 digit (white on black) becomes model input.

Training, evaluation, export calibration and every runtime call this, so they cannot drift apart.
"""

import numpy as np

IMAGE_SIZE = 28
INPUT_SHAPE = (IMAGE_SIZE, IMAGE_SIZE, 1)
CONTRACT = "28x28 uint8, white digit on black, /255 to float32 in [0, 1]"


def to_model_input(digits: np.ndarray) -> np.ndarray:
    """Map uint8 digits of shape (28, 28), (N, 28, 28) or (N, 28, 28, 1) to float32 (N, 28, 28, 1) in [0, 1]."""
    arr = np.asarray(digits)
    if arr.dtype != np.uint8:
        raise ValueError(f"digits must be uint8 (0-255, white on black), got {arr.dtype}")
    if arr.shape[-2:] == (IMAGE_SIZE, IMAGE_SIZE):
        arr = arr[..., None]
    if arr.ndim == 3:
        arr = arr[None]
    if arr.ndim != 4 or arr.shape[1:] != INPUT_SHAPE:
        raise ValueError(f"digits must have shape (N, 28, 28[, 1]), got {np.asarray(digits).shape}")
    return arr.astype(np.float32) / np.float32(255.0)


def normalize_digit(ink: np.ndarray) -> np.ndarray:
    """Normalise one digit the way MNIST was built: 28x28 uint8, white on black.

    ``ink`` is a crop where ink is bright and the background 0 (any size, grey levels kept). The tight
    bounding box of the ink is scaled to fit 20x20 with its aspect ratio kept (area resampling keeps the
    anti-aliasing), then placed in a 28x28 field so that its centre of mass sits at the centre.
    """
    import cv2

    ink = np.asarray(ink, dtype=np.float32)
    field = np.zeros((IMAGE_SIZE, IMAGE_SIZE), np.float32)
    x, y, w, h = cv2.boundingRect((ink > 0).astype(np.uint8))
    if w == 0 or h == 0:
        return field.astype(np.uint8)
    crop = ink[y : y + h, x : x + w]
    scale = 20.0 / max(h, w)
    new_h, new_w = max(1, int(round(h * scale))), max(1, int(round(w * scale)))
    interpolation = cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR
    small = cv2.resize(crop, (new_w, new_h), interpolation=interpolation)
    peak = float(small.max())
    if peak <= 0:
        return field.astype(np.uint8)
    small *= 255.0 / peak
    mass = small.sum()
    cy = (small.sum(1) * np.arange(new_h)).sum() / mass
    cx = (small.sum(0) * np.arange(new_w)).sum() / mass
    # MNIST's centre of mass sits at (14, 14) in 0-based pixels (measured over its test set: 13.98, 14.01).
    top = int(round(14.0 - cy))
    left = int(round(14.0 - cx))
    top = min(max(top, 0), IMAGE_SIZE - new_h)
    left = min(max(left, 0), IMAGE_SIZE - new_w)
    field[top : top + new_h, left : left + new_w] = small
    return np.clip(np.round(field), 0, 255).astype(np.uint8)
