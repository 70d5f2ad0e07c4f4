import numpy as np
import tensorflow as tf

from edgedigits.training.augment import random_affine


def _blob():
    img = np.zeros((1, 28, 28, 1), np.float32)
    img[0, 10:18, 12:16, 0] = 1.0
    return tf.constant(img)


def test_same_seed_same_output_and_different_seed_differs():
    imgs = tf.repeat(_blob(), 4, axis=0)
    a = random_affine(imgs, tf.constant([1, 2], tf.int64)).numpy()
    b = random_affine(imgs, tf.constant([1, 2], tf.int64)).numpy()
    c = random_affine(imgs, tf.constant([1, 3], tf.int64)).numpy()
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_zero_strength_is_identity():
    img = _blob()
    out = random_affine(img, tf.constant([0, 0], tf.int64), rotation_deg=0.0, zoom=0.0, shift=0.0).numpy()
    np.testing.assert_allclose(out, img.numpy(), atol=1e-6)


def test_transform_stays_within_the_seed_ranges():
    # Centre of mass moves by at most ~10% of the width (plus rotation/zoom of an off-centre blob); ink is kept.
    imgs = tf.repeat(_blob(), 64, axis=0)
    out = random_affine(imgs, tf.constant([7, 7], tf.int64)).numpy()[..., 0]
    ys, xs = np.mgrid[0:28, 0:28]
    mass = out.sum((1, 2))
    cx = (out * xs).sum((1, 2)) / mass
    cy = (out * ys).sum((1, 2)) / mass
    assert np.all(np.abs(cx - 13.5) <= 4.5) and np.all(np.abs(cy - 13.5) <= 4.5)
    assert np.all(mass > 0.7 * 32) and np.all(mass < 1.3 * 32)
    assert np.std(cx) > 0.5  # it really moves things


def test_opencv_and_tensorflow_apply_the_same_transform():
    """The camera recipe's OpenCV affine and the seed recipe's TF one map pixels the same way."""
    import math

    import cv2

    from edgedigits.training.augment import _matrix

    img = _blob().numpy()[0, ..., 0]
    angle = math.radians(8.0)
    rows = _matrix(angle, 1.08, 0.93, 2.0, -1.5, 13.5, 13.5, math.cos(angle), math.sin(angle))
    by_cv = cv2.warpAffine(img, np.array(rows).reshape(2, 3), (28, 28),
                           flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP, borderValue=0)
    by_tf = tf.raw_ops.ImageProjectiveTransformV3(
        images=_blob(), transforms=tf.constant([[*rows, 0.0, 0.0]], tf.float32), output_shape=[28, 28],
        fill_value=0.0, interpolation="BILINEAR", fill_mode="CONSTANT").numpy()[0, ..., 0]
    assert np.abs(by_cv - by_tf).max() < 0.02 and by_cv.sum() > 20
