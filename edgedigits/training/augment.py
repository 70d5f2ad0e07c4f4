"""Training-time augmentation as in the Kaggle seed kernel: rotation ±10°, zoom ±10%, shifts ±10%.

One random affine transform per image, applied in a single resampling step: in the TensorFlow input
pipeline of the seed recipe (``random_affine``), or with OpenCV on the camera recipe's numpy crops
(``affine``). Randomness is seeded, so a resumed run sees exactly the data an uninterrupted run would.
"""

import math

import numpy as np

ROTATION_DEG = 10.0
ZOOM = 0.1
SHIFT = 0.1  # of the image's side


def _matrix(angle, zoom_x, zoom_y, shift_x, shift_y, cx, cy, cos, sin):
    """Output pixel p samples the input at R * Z * (p - c) + c + t: the rows of that map."""
    a0, a1 = zoom_x * cos, -zoom_y * sin
    b0, b1 = zoom_x * sin, zoom_y * cos
    return a0, a1, cx - a0 * cx - a1 * cy + shift_x, b0, b1, cy - b0 * cx - b1 * cy + shift_y


def affine(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """One (H, W) image through a random seed-kernel affine transform (OpenCV, bilinear, zero fill)."""
    import cv2

    height, width = image.shape
    angle = math.radians(rng.uniform(-ROTATION_DEG, ROTATION_DEG))
    zoom_x, zoom_y = rng.uniform(1 - ZOOM, 1 + ZOOM, 2)
    shift_x, shift_y = rng.uniform(-SHIFT, SHIFT, 2) * (width, height)
    rows = _matrix(angle, zoom_x, zoom_y, shift_x, shift_y, (width - 1) / 2, (height - 1) / 2,
                   math.cos(angle), math.sin(angle))
    return cv2.warpAffine(image, np.array(rows, np.float64).reshape(2, 3), (width, height),
                          flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderValue=0)


def random_affine(images, seed, rotation_deg=ROTATION_DEG, zoom=ZOOM, shift=SHIFT):
    """images: (B, H, W, C) float32; seed: int32/int64 tensor of shape [2]."""
    import tensorflow as tf

    batch = tf.shape(images)[0]
    height = tf.cast(tf.shape(images)[1], tf.float32)
    width = tf.cast(tf.shape(images)[2], tf.float32)
    seeds = tf.random.experimental.stateless_split(seed, 5)

    def uniform(i, low, high):
        return tf.random.stateless_uniform([batch], seeds[i], low, high)

    angle = uniform(0, -rotation_deg, rotation_deg) * (math.pi / 180.0)
    zoom_x = uniform(1, 1.0 - zoom, 1.0 + zoom)
    zoom_y = uniform(2, 1.0 - zoom, 1.0 + zoom)
    shift_x = uniform(3, -shift, shift) * width
    shift_y = uniform(4, -shift, shift) * height

    a0, a1, a2, b0, b1, b2 = _matrix(angle, zoom_x, zoom_y, shift_x, shift_y, (width - 1.0) / 2.0,
                                     (height - 1.0) / 2.0, tf.cos(angle), tf.sin(angle))
    zeros = tf.zeros_like(a0)
    transforms = tf.stack([a0, a1, a2, b0, b1, b2, zeros, zeros], axis=1)
    return tf.raw_ops.ImageProjectiveTransformV3(
        images=images,
        transforms=transforms,
        output_shape=tf.shape(images)[1:3],
        fill_value=0.0,
        interpolation="BILINEAR",
        fill_mode="CONSTANT",
    )
