"""Training-time augmentation as in the Kaggle seed kernel: rotation ±10°, zoom ±10%, shifts ±10%.

One random affine transform per image, applied in a single resampling step. Randomness is stateless
(seeded by the global step), so a resumed run sees exactly the batches an uninterrupted run would.
"""

import math

import tensorflow as tf


def random_affine(images, seed, rotation_deg=10.0, zoom=0.1, shift=0.1):
    """images: (B, H, W, C) float32; seed: int32/int64 tensor of shape [2]."""
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

    # Output pixel (x, y) samples input at R * Z * (p - c) + c + t.
    cos, sin = tf.cos(angle), tf.sin(angle)
    a0, a1 = zoom_x * cos, -zoom_y * sin
    b0, b1 = zoom_x * sin, zoom_y * cos
    cx, cy = (width - 1.0) / 2.0, (height - 1.0) / 2.0
    a2 = cx - a0 * cx - a1 * cy + shift_x
    b2 = cy - b0 * cx - b1 * cy + shift_y
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
