"""What a camera crop looks like: MNIST digits degraded the way real photos degrade them.

The camera recipe (``edgedigits train --recipe camera``) trains on these. Every crop ends in ``normalize_digit``,
as the runtime's do, so the model learns what the runtime will show it:

- stroke width: drawn at random across what thin pens and markers leave after normalisation;
- elastic distortion: the small, smooth wobbles of a hand (Simard et al., 2003);
- crop jitter: a crop cut a little too tight, or holding a neighbour's stroke at its edge;
- stroke gaps: a pen that skipped, or a thin line the ink threshold broke, leaves a stroke in pieces;
- continental forms: a bar across the stem of a 7 and a long flag on a 1, as much of Europe and Latin America
  write them (MNIST, written by US clerks and students, holds few of either);
- image quality: blur, uneven ink, noise and JPEG blocks.
"""

from __future__ import annotations

import numpy as np

from edgedigits.digit import IMAGE_SIZE, normalize_digit, stroke_width

# Share of digits given each degradation per epoch (independent draws). Some stay near MNIST, so clean digits
# are still learned as well as the seed recipe learns them.
P_RAW = 0.25  # kept as MNIST normalised them, not through ``normalize_digit`` (whose pixels differ a little)
P_STROKE = 0.4
P_ELASTIC = 0.3
P_JITTER = 0.2
P_GAP = 0.2
P_BLUR = 0.3
P_NOISE = 0.2
P_JPEG = 0.2
P_CONTINENTAL = 0.3  # of the 7s and 1s
STROKE_RANGE = (1.4, 4.8)  # box pixels: from a hair-line left by a 1 px pen to a marker thinned to its limit
ELASTIC_ALPHA, ELASTIC_SIGMA = 6.0, 4.0  # pixels of displacement at 28x28, and the smoothness of the field
BLUR_SIGMA = (0.4, 1.1)
JPEG_QUALITY = (25, 85)
BAR_AT = (0.2, 0.65)  # a 7's bar: its height (share of the digit's, from the top), anywhere from just under the
                      # top stroke to two thirds down: writers with a hooked top cross the stem high
BAR_HALF = (0.2, 0.35)  # and its half length (share of the digit's width, at least two strokes wide)
FLAG_LENGTH = (0.25, 0.45)  # a 1's flag: its length (share of the digit's height)
FLAG_GAP = (25, 40)  # degrees between a 1's flag and its stem: an acute angle (a 7's bar meets its stem near 90)
FLAG_STEM = 75  # only a stem within 15 degrees of upright gets a flag: on a slanted one, a flag draws a 7
GAPS = (1, 2)  # breaks per broken digit
GAP_RADIUS = (0.55, 0.85)  # a break's radius, in stroke widths: it cuts across the stroke and loses little more


def _elastic(img: np.ndarray, rng) -> np.ndarray:
    import cv2

    dx, dy = (cv2.GaussianBlur(rng.uniform(-1, 1, img.shape).astype(np.float32), (0, 0), ELASTIC_SIGMA)
              * ELASTIC_ALPHA for _ in range(2))
    grid_y, grid_x = np.mgrid[: img.shape[0], : img.shape[1]].astype(np.float32)
    return cv2.remap(img, grid_x + dx, grid_y + dy, cv2.INTER_LINEAR, borderValue=0)


def continental(img: np.ndarray, label: int, rng, bar_at: tuple[float, float] = BAR_AT) -> np.ndarray:
    """A 7 given a bar across its stem (at a height drawn from ``bar_at``), or a 1 given a long flag at its top;
    any other digit as it is. The new stroke is as wide as the digit's own (measured as ``normalize_digit`` does)."""
    import cv2

    ys, xs = np.nonzero(img > 127)
    if label not in (1, 7) or len(ys) < 4:
        return img
    top, height, width = ys.min(), np.ptp(ys) + 1, np.ptp(xs) + 1
    thick = max(1, int(round(stroke_width(img > 127))))
    out = img.copy()
    if label == 7:
        row = top + int(round(rng.uniform(*bar_at) * height))
        stem = xs[ys == row]
        if not len(stem):
            return img
        x0, half = stem.mean(), max(2 * thick, rng.uniform(*BAR_HALF) * width)
        cv2.line(out, (int(round(x0 - half)), row), (int(round(x0 + half)), row), int(img.max()), thick, cv2.LINE_AA)
    else:
        x0, foot = xs[ys == top].mean(), xs[ys == ys.max()].mean()
        # The stem's direction from the leftward horizontal: 90 degrees upright, less leaning right, more leaning
        # left. The flag leaves the top down to the left, FLAG_GAP off it, so it never lies flat like a 7's bar.
        stem = np.arctan2(height, x0 - foot)
        if not np.deg2rad(FLAG_STEM) <= stem <= np.pi / 2:  # slanted right: a 7; leaning left: a caret
            return img
        length, angle = rng.uniform(*FLAG_LENGTH) * height, stem - np.deg2rad(rng.uniform(*FLAG_GAP))
        end = (int(round(x0 - length * np.cos(angle))), int(round(top + length * np.sin(angle))))
        cv2.line(out, (int(round(x0)), int(top)), end, int(img.max()), thick, cv2.LINE_AA)
    return out


def stroke_gaps(img: np.ndarray, rng) -> np.ndarray:
    """The digit with one or two breaks across its strokes, each centred on the core of a stroke."""
    import cv2

    core = np.argwhere(img > 127)
    if len(core) < 8:
        return img
    out = img.copy()
    width = stroke_width(img > 127)
    for y, x in core[rng.integers(len(core), size=int(rng.integers(GAPS[0], GAPS[1] + 1)))]:
        radius = max(1, int(round(rng.uniform(*GAP_RADIUS) * width)))
        cv2.circle(out, (int(x), int(y)), radius, 0, -1)
    return out if out.any() else img


def _jitter(img: np.ndarray, other: np.ndarray, rng) -> np.ndarray:
    """The digit cut a little too tight on one side, or with a piece of ``other`` touching one side."""
    ys, xs = np.nonzero(img)
    if not len(ys):
        return img
    if rng.random() < 0.5:  # cut: up to 15% of the digit's extent off one side
        out = img.copy()
        side = rng.integers(4)
        extent = (ys.max() - ys.min() + 1) if side < 2 else (xs.max() - xs.min() + 1)
        cut = int(round(rng.uniform(0.05, 0.15) * extent))
        if side == 0:
            out[: ys.min() + cut] = 0
        elif side == 1:
            out[ys.max() + 1 - cut :] = 0
        elif side == 2:
            out[:, : xs.min() + cut] = 0
        else:
            out[:, xs.max() + 1 - cut :] = 0
        return out if out.any() else img
    # a neighbour: the near edge (up to a fifth of its width) of another digit, 0-2 px away, left or right
    ox = np.nonzero(other.any(0))[0]
    if not len(ox):
        return img
    keep = max(1, int(round(rng.uniform(0.08, 0.2) * (ox.max() - ox.min() + 1))))
    gap = int(rng.integers(0, 3))
    canvas = np.zeros((IMAGE_SIZE, 2 * IMAGE_SIZE), np.uint8)
    canvas[:, IMAGE_SIZE // 2 : IMAGE_SIZE // 2 + IMAGE_SIZE] = img
    if rng.random() < 0.5:  # the neighbour's right edge, on the left
        piece = other[:, ox.max() + 1 - keep : ox.max() + 1]
        at = IMAGE_SIZE // 2 + xs.min() - gap - keep
    else:
        piece = other[:, ox.min() : ox.min() + keep]
        at = IMAGE_SIZE // 2 + xs.max() + 1 + gap
    canvas[:, at : at + keep] = np.maximum(canvas[:, at : at + keep], piece)
    return canvas


def degrade_quality(img: np.ndarray, rng, blur: bool, noise: bool, jpeg: bool) -> np.ndarray:
    """Blur, uneven ink, noise and JPEG on a normalised digit; the background stays 0, as the finder leaves it."""
    import cv2

    out = img.astype(np.float32)
    ink = img > 0
    if blur:
        out = cv2.GaussianBlur(out, (0, 0), rng.uniform(*BLUR_SIGMA))
    if noise:
        ramp = np.linspace(rng.uniform(0.5, 1.0), 1.0, IMAGE_SIZE, dtype=np.float32)  # light across the digit
        out *= ramp[:, None] if rng.random() < 0.5 else ramp[None, :]
        out *= 1 + rng.normal(0, 0.15, out.shape).astype(np.float32)
    if jpeg:
        quality = int(rng.integers(*JPEG_QUALITY))
        ok, blob = cv2.imencode(".jpg", np.clip(out, 0, 255).astype(np.uint8), [cv2.IMWRITE_JPEG_QUALITY, quality])
        out = cv2.imdecode(blob, cv2.IMREAD_GRAYSCALE).astype(np.float32)
        out[cv2.dilate(ink.astype(np.uint8), np.ones((3, 3), np.uint8)) == 0] = 0  # the finder's mask
    peak = out.max()
    return np.clip(np.round(out * (255.0 / peak)), 0, 255).astype(np.uint8) if peak > 0 else img


def degrade(images: np.ndarray, rng: np.random.Generator, labels: np.ndarray | None = None) -> np.ndarray:
    """Each MNIST digit (N, 28, 28) uint8 drawn again as a camera crop, with degradations drawn per digit;
    with ``labels``, some 7s and 1s are drawn the continental way."""
    out = np.empty_like(images)
    n = len(images)
    draws = rng.random((n, 9))
    strokes = rng.uniform(*STROKE_RANGE, n)
    others = rng.integers(0, n, n)
    for i in range(n):
        img = images[i]
        p_raw, p_stroke, p_elastic, p_jitter, p_blur, p_noise, p_jpeg, p_continental, p_gap = draws[i]
        if p_raw >= P_RAW:
            if labels is not None and p_continental < P_CONTINENTAL:
                img = continental(img, int(labels[i]), rng)
            if p_elastic < P_ELASTIC:
                img = _elastic(img, rng)
            if p_gap < P_GAP:
                img = stroke_gaps(img, rng)
            if p_jitter < P_JITTER:
                img = _jitter(img, images[others[i]], rng)
            img = normalize_digit(img, stroke=strokes[i] if p_stroke < P_STROKE else None)
        if min(p_blur / P_BLUR, p_noise / P_NOISE, p_jpeg / P_JPEG) < 1:
            img = degrade_quality(img, rng, p_blur < P_BLUR, p_noise < P_NOISE, p_jpeg < P_JPEG)
        out[i] = img
    return out
