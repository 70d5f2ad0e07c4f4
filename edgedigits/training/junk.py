"""Junk, the camera models' eleventh class ("not a digit"): what the finder cuts out that is not a digit.

Line pieces, specks, halves of digits, two digits in one crop, paper texture and grid corners, each normalised and
degraded like a digit. ``benchmarks/crops_accuracy.py`` measures rejection with the same junk from another seed.
"""

from __future__ import annotations

import threading

import numpy as np

from edgedigits import runtime
from edgedigits.digit import IMAGE_SIZE, normalize_digit
from edgedigits.training.degrade import P_BLUR, P_JPEG, P_NOISE, degrade_quality

HALF_TRIES = 20
STILL_A_DIGIT = 0.99  # a piece the Kaggle CNN reads this surely as a digit is not junk (its median: 0.98)


# A piece that is one straight stroke near upright is a 1, however sure the Kaggle CNN is: the spread of its ink
# across its long axis over the spread along it is below that of 90% of MNIST's 1s (measured on the 1,135 test
# 1s; a test re-measures it), and its long axis leans less than 35 degrees from upright (as 99% of MNIST's 1s
# do; line pieces lie within 35 degrees of horizontal).
ONE_SPREAD = 0.234


ONE_TILT = 35.0


def _line_piece(rng, images):
    """A piece of a ruled line or a pen stroke, well off vertical (a vertical one would be a 1)."""
    import cv2

    canvas = np.zeros((64, 64), np.uint8)
    angle = np.deg2rad(rng.uniform(-35, 35))  # from horizontal: 1s lean less than 35 degrees from upright
    length = rng.uniform(20, 60)
    cx, cy = 32, 32
    dx, dy = np.cos(angle) * length / 2, np.sin(angle) * length / 2
    bend = rng.uniform(-6, 6)
    pts = np.array([[cx - dx, cy - dy], [cx, cy + bend], [cx + dx, cy + dy]], np.int32)
    cv2.polylines(canvas, [pts], False, 255, int(rng.integers(1, 6)))
    return canvas


def _speck(rng, images):
    """A blot, a dot or dirt: a filled, roughly round blob (at most twice as long as wide: a longer one,
    normalised, is a thick 1)."""
    import cv2

    canvas = np.zeros((32, 32), np.uint8)
    major = int(rng.integers(3, 12))
    axes = (major, int(rng.integers((major + 1) // 2, major + 1)))
    cv2.ellipse(canvas, (16, 16), axes, float(rng.uniform(0, 180)), 0, 360, 255, -1)
    return canvas


_local = threading.local()


def _reader():
    """The bundled Kaggle CNN (10 classes), which judges whether a piece of a digit still reads as one; one
    per thread (an interpreter serves one thread)."""
    if not hasattr(_local, "reader"):
        _local.reader = runtime.open_model("seed", threads=1)
    return _local.reader


def ink_axes(digit: np.ndarray) -> tuple[float, float]:
    """The shape of a digit's ink (grey levels as weights): the spread across its long axis over the spread
    along it (0 for a line, 1 for a disc), and how far that axis leans from upright, in degrees."""
    ys, xs = np.nonzero(digit)
    if len(xs) < 2:
        return 1.0, 0.0
    values, vectors = np.linalg.eigh(np.cov(np.vstack([xs, ys]), aweights=digit[ys, xs].astype(np.float64)))
    if values[1] <= 0:
        return 1.0, 0.0
    long_x, long_y = vectors[:, 1]
    return float(np.sqrt(max(values[0], 0.0) / values[1])), float(np.degrees(np.arctan2(abs(long_x), abs(long_y))))


def is_a_one(digit: np.ndarray) -> bool:
    """Whether a normalised crop is one straight stroke near upright, which a reader takes for a 1."""
    spread, tilt = ink_axes(digit)
    return spread < ONE_SPREAD and tilt < ONE_TILT


def _digit_half(rng, images):
    """A digit cut across (its top or bottom 25-45%) or down the middle. A piece that is still a digit is
    drawn again: one straight upright stroke (a 4's or a 9's stem is a 1), or one the Kaggle CNN reads surely
    (a 7's top is a 7). When every try is a digit (all 1s), two digits in one crop instead."""
    for _ in range(HALF_TRIES):
        img = images[rng.integers(len(images))]
        ys, xs = np.nonzero(img)
        share = rng.uniform(0.25, 0.45)
        if rng.random() < 0.6:
            cut = ys.min() + int(round(share * (ys.max() - ys.min() + 1)))
            part = img[:cut] if rng.random() < 0.5 else img[cut:]
        else:
            cut = xs.min() + int(round(share * (xs.max() - xs.min() + 1)))
            part = img[:, :cut] if rng.random() < 0.5 else img[:, cut:]
        if not part.any():
            continue
        seen = normalize_digit(part)
        if not is_a_one(seen) and _reader().predict(seen).max() < STILL_A_DIGIT:
            return part
    return _two_digits(rng, images)


def _two_digits(rng, images):
    """Two digits touching or overlapping a little: a crop that holds a pair."""
    a, b = images[rng.integers(len(images), size=2)]
    xa, xb = np.nonzero(a.any(0))[0], np.nonzero(b.any(0))[0]
    wa = xa.max() + 1 - xa.min()
    canvas = np.zeros((IMAGE_SIZE, 3 * IMAGE_SIZE), np.uint8)
    canvas[:, : xa.max() + 1 - xa.min()] = a[:, xa.min() : xa.max() + 1]
    at = max(0, wa + int(rng.integers(-3, 2)))  # a 1 may be a single pixel wide
    width = xb.max() + 1 - xb.min()
    canvas[:, at : at + width] = np.maximum(canvas[:, at : at + width], b[:, xb.min() : xb.max() + 1])
    return canvas


def _paper(rng, images):
    """Paper texture or shadow that passed the ink threshold: a scatter of faint, ragged blobs."""
    import cv2

    field = cv2.GaussianBlur(rng.normal(0, 1, (48, 48)).astype(np.float32), (0, 0), rng.uniform(1, 3))
    level = np.quantile(field, rng.uniform(0.85, 0.97))
    return np.clip((field - level) / (field.max() - level + 1e-6) * 255, 0, 255).astype(np.uint8)


def _grid_corner(rng, images):
    """Where grid lines meet: a cross, a T or an L, in any orientation but the one that draws a 7."""
    import cv2

    canvas = np.zeros((64, 64), np.uint8)
    thick = int(rng.integers(1, 4))
    cx, cy = (int(v) for v in rng.integers(20, 44, 2))
    arms = [(0, cx, cy, cx, 0), (1, cx, cy, 63, cy), (2, cx, cy, cx, 63), (3, cx, cy, 0, cy)]  # up right down left
    while True:
        keep = [arm for arm in arms if rng.random() < 0.7]
        names = {arm[0] for arm in keep}
        if len(keep) >= 2 and names not in ({2, 3}, {0, 2}, {1, 3}):  # not a 7 (left and down), not a line
            break
    for _, x0, y0, x1, y1 in keep:
        cv2.line(canvas, (x0, y0), (x1, y1), 255, thick)
    return canvas


JUNK = {"line piece": _line_piece, "speck": _speck, "digit half": _digit_half, "two digits": _two_digits,
        "paper": _paper, "grid corner": _grid_corner}


def junk(n: int, images: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, list[str]]:
    """``n`` normalised not-a-digit crops, the kinds in turn, each degraded like a digit; and their kinds."""
    kinds = list(JUNK)
    names = [kinds[i % len(kinds)] for i in range(n)]
    raw = [JUNK[name](rng, images) for name in names]
    crops = np.stack([normalize_digit(r) for r in raw]) if n else np.zeros((0, IMAGE_SIZE, IMAGE_SIZE), np.uint8)
    quality = rng.random((n, 3)) < (P_BLUR, P_NOISE, P_JPEG)
    for i in range(n):
        if quality[i].any():
            crops[i] = degrade_quality(crops[i], rng, *quality[i])
    return crops, names
