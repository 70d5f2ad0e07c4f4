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
