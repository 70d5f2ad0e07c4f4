"""normalize_digit: MNIST's geometry, and strokes brought to MNIST's width whatever the pen."""

import numpy as np
import pytest

from edgedigits.digit import MNIST_STROKE, digit_stroke, normalize_digit, to_model_input


def _ring(thickness: int, size: int = 400) -> np.ndarray:
    """A hand-sized 0 drawn with a pen ``thickness`` pixels wide on a ``size``-pixel-high crop."""
    import cv2

    img = np.zeros((size, int(size * 0.7)), np.uint8)
    cv2.ellipse(img, (img.shape[1] // 2, size // 2), (int(size * 0.28), int(size * 0.44)), 0, 0, 360, 255,
                thickness)
    return img


@pytest.mark.mnist
def test_mnist_stroke_quartiles_are_measured(mnist):
    widths = [digit_stroke(img) for img in mnist.test.images]  # all: the two halves have different writers
    low, high = np.percentile(widths, [25, 75])
    assert abs(low - MNIST_STROKE[0]) < 0.08 and abs(high - MNIST_STROKE[1]) < 0.08, (low, high)


@pytest.mark.parametrize("pen", [1, 2, 70, 90])
def test_thin_pens_and_markers_reach_mnist_width(pen):
    raw = digit_stroke(_ring(pen))
    assert not MNIST_STROKE[0] <= raw <= MNIST_STROKE[1]  # the crop itself is far from MNIST
    width = digit_stroke(normalize_digit(_ring(pen)))
    assert MNIST_STROKE[0] - 0.45 <= width <= MNIST_STROKE[1] + 0.45, (pen, raw, width)


def test_widths_inside_mnist_range_are_kept():
    img = _ring(40)  # about 2.7 box pixels: inside the quartiles
    assert MNIST_STROKE[0] <= digit_stroke(img) <= MNIST_STROKE[1]
    plain = normalize_digit(img, stroke=digit_stroke(img))
    assert np.abs(normalize_digit(img).astype(int) - plain).max() == 0


def test_asked_stroke_is_what_comes_out():
    widths = [digit_stroke(normalize_digit(_ring(12), stroke=s)) for s in (1.6, 2.6, 3.6, 4.4)]
    assert all(a < b for a, b in zip(widths, widths[1:])), widths
    assert abs(widths[1] - 2.6) < 0.4 and abs(widths[2] - 3.6) < 0.5, widths


def test_thinning_keeps_every_stroke():
    import cv2

    marker = _ring(90)
    out = normalize_digit(marker)
    assert cv2.connectedComponents((out > 0).astype(np.uint8))[0] - 1 == 1  # still one closed ring
    inside = out[12:16, 12:16]  # the hole of the 0 stays open
    assert inside.max() < 128


def test_a_blot_is_not_a_stroke():
    """A filled shape measures as a very wide stroke; thinning it is bounded, and it stays one blot."""
    import cv2

    blot = np.zeros((300, 300), np.uint8)
    cv2.circle(blot, (150, 150), 140, 255, -1)
    out = normalize_digit(blot)
    assert out.max() == 255 and np.count_nonzero(out > 128) > 150


def test_preprocess_contract():
    digits = np.array([[0, 255]] * 14 * 28, np.uint8).reshape(28, 28)
    x = to_model_input(digits)
    assert x.shape == (1, 28, 28, 1) and x.dtype == np.float32
    assert x.min() == 0.0 and x.max() == 1.0
    with pytest.raises(ValueError, match="uint8"):
        to_model_input(digits.astype(np.float32))
    with pytest.raises(ValueError, match="shape"):
        to_model_input(np.zeros((2, 27, 28), np.uint8))


def test_a_straight_one_stays_a_thin_bar():
    """A 1 written as a plain bar is all ink across its tight box: its stroke is the box's width, not a blot."""
    bar = np.full((70, 9), 128, np.uint8)
    digit = normalize_digit(bar)
    columns = np.flatnonzero(digit.max(0) > 64)
    assert digit_stroke(bar) <= 9 / 70 * 20 + 0.01
    assert 1 <= len(columns) <= 6, columns  # MNIST's 1s are 2-4 px wide
