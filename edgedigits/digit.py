"""The single place where a 28x28 uint8 digit (white on black) becomes model input.

Training, evaluation, export calibration and every runtime call this, so they cannot drift apart.
"""

import math

import numpy as np

IMAGE_SIZE = 28
INPUT_SHAPE = (IMAGE_SIZE, IMAGE_SIZE, 1)
CONTRACT = "28x28 uint8, white digit on black, /255 to float32 in [0, 1]"
DIGITS = 10  # classes 0-9
NOT_A_DIGIT = 10  # the eleventh class of camera models: what the finder cut out is not a digit
CLASS_COUNTS = (DIGITS, DIGITS + 1)  # the outputs a digit classifier may have


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


# Stroke width of MNIST digits in pixels of the 20-pixel box, by ``digit_stroke`` over the 10k test set: the
# quartiles. A crop whose strokes fall outside them is thickened or thinned to the nearer one, so a 1 px pen on
# a big photo and a marker both reach the model at a width it learned (a test re-measures them on MNIST).
MNIST_STROKE = (2.51, 3.56)
BOX = 20  # MNIST fits each digit's bounding box into 20x20, then centres it in 28x28
WORK = 4  # strokes are measured and changed at 4x the box, a quarter-pixel step
STROKE_TOLERANCE = 0.25  # box pixels: closer than this to the width wanted is close enough
THIN_LIMIT = 0.35  # thinning removes at most this share of the mean width: thinner parts of a stroke survive
MAX_CHANGE = BOX * WORK / 8  # work pixels per side: a blot is no stroke, and a wider change is no use


def stroke_width(mask: np.ndarray) -> float:
    """Mean width of the strokes in a 0/1 mask: ink area over half its outline (diagonals corrected by 4/pi)."""
    m = np.asarray(mask, bool)
    edges = np.count_nonzero(m[1:] != m[:-1]) + np.count_nonzero(m[:, 1:] != m[:, :-1])
    return 8.0 / math.pi * np.count_nonzero(m) / max(1, edges)


def _tight(img: np.ndarray) -> np.ndarray | None:
    """``img`` cut to the bounding box of its ink (values above 0), or None when it has none."""
    import cv2

    x, y, w, h = cv2.boundingRect((img > 0).view(np.uint8))
    return img[y : y + h, x : x + w] if w and h else None


def _fit(img: np.ndarray, side: int) -> np.ndarray:
    """``img`` resized so that its longer side is ``side`` pixels, aspect kept."""
    import cv2

    h, w = img.shape
    scale = side / max(h, w)
    size = (max(1, int(round(w * scale))), max(1, int(round(h * scale))))
    return cv2.resize(img, size, interpolation=cv2.INTER_AREA if scale < 1 else cv2.INTER_LINEAR)


def _box_width(big: np.ndarray) -> float:
    """Stroke width of a work copy as it will leave: fitted to the 20-pixel box (area resampling), then seen
    at ``WORK`` times that scale (linear), ink above half its peak. MNIST's widths are measured the same way."""
    import cv2

    tight = _tight(big)
    if tight is None:
        return 0.0
    small = _fit(tight, BOX)
    up = cv2.resize(small, (small.shape[1] * WORK, small.shape[0] * WORK), interpolation=cv2.INTER_LINEAR)
    # never wider than the box: a straight 1 is all ink across its tight box, with no outline inside it
    return min(stroke_width(up >= up.max() / 2) / WORK, float(min(small.shape)))


def _work_copy(ink: np.ndarray) -> np.ndarray | None:
    """The ink's bounding box at ``WORK`` times the 20-pixel box, or None when it holds no ink."""
    crop = _tight(np.asarray(ink, np.float32))
    if crop is None:
        return None
    big = _fit(crop, BOX * WORK)
    return big if big.max() > 0 else None


def digit_stroke(ink: np.ndarray) -> float:
    """Stroke width of a digit (bright ink on 0) in pixels of MNIST's 20-pixel box; 0 for an empty image."""
    big = _work_copy(ink)
    return _box_width(big) if big is not None else 0.0


def _grow(big: np.ndarray, r: float) -> np.ndarray:
    """Every stroke of the work copy grown (r > 0) or thinned (r < 0) by about ``r`` pixels on each side."""
    import cv2

    k = int(round(min(abs(r), MAX_CHANGE)))
    if k == 0:
        return big
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (2 * k + 1, 2 * k + 1))
    if r > 0:
        return cv2.dilate(cv2.copyMakeBorder(big, k, k, k, k, cv2.BORDER_CONSTANT, value=0), kernel)
    thin = cv2.erode(big, kernel)
    return thin if thin.max() > 0 else big


def _restroke(big: np.ndarray, width: float, target: float) -> np.ndarray:
    """The work copy with its strokes grown or thinned until, fitted to the box, they are about ``target``
    box pixels wide: a first step from geometry, then one secant step on the width it measured."""
    if width <= 0 or abs(width - target) < STROKE_TOLERANCE:
        return big
    limit = -THIN_LIMIT * WORK * width / 2
    # Growing every stroke by r on each side widens the box too: solve (W + 2r) * BOX / (L + 2r) = target.
    r = max(WORK * BOX * (target - width) / (2 * (BOX - target)), limit)
    out = _grow(big, r)
    reached = _box_width(out)
    if abs(reached - target) >= STROKE_TOLERANCE and round(r) != 0:
        step = (target - width) / (reached - width) if (reached - width) * (target - width) > 0 else 1.0
        r = max(r * min(step, 3.0), limit)  # the same direction, at most three times as far
        out = _grow(big, r)
    return out


def normalize_digit(ink: np.ndarray, stroke: float | None = None) -> np.ndarray:
    """Normalise one digit the way MNIST was built: 28x28 uint8, white on black.

    ``ink`` is a crop where ink is bright and the background 0 (any size, grey levels kept). Its strokes are
    brought within MNIST's typical width (``MNIST_STROKE``), then its bounding box is scaled to fit 20x20 with
    the aspect ratio kept (area resampling keeps the anti-aliasing) and placed in a 28x28 field so that its
    centre of mass sits at the centre. ``stroke`` asks for another width instead (training draws it at random).
    """
    field = np.zeros((IMAGE_SIZE, IMAGE_SIZE), np.float32)
    big = _work_copy(ink)
    if big is None:
        return field.astype(np.uint8)
    width = _box_width(big)
    if stroke is None:
        low, high = MNIST_STROKE
        stroke = min(max(width, low), high)
    small = _fit(_tight(_restroke(big, width, stroke)), BOX)
    new_h, new_w = small.shape
    small *= 255.0 / float(small.max())
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
