"""What a camera crop looks like: MNIST digits degraded the way real photos degrade them, and junk.

The camera recipe (``edgedigits train --recipe camera``) trains on these, and ``benchmarks/crops_accuracy.py``
measures rejection with the same junk drawn from another seed. Every crop ends in ``normalize_digit``, as
the runtime's do, so the model learns what the runtime will show it:

- stroke width: drawn at random across what thin pens and markers leave after normalisation;
- elastic distortion: the small, smooth wobbles of a hand (Simard et al., 2003);
- crop jitter: a crop cut a little too tight, or holding a neighbour's stroke at its edge;
- stroke gaps: a pen that skipped, or a thin line the ink threshold broke, leaves a stroke in pieces;
- continental forms: a bar across the stem of a 7 and a long flag on a 1, as much of Europe and Latin America
  write them (MNIST, written by US clerks and students, holds few of either);
- image quality: blur, uneven ink, noise and JPEG blocks;
- junk, the eleventh class ("not a digit"): line pieces, specks, halves of digits, two digits in one crop,
  paper texture and grid corners;
- then, as in the seed recipe, one random affine transform (rotation, zoom, shift) of every crop.
"""

from __future__ import annotations

import threading

import numpy as np

from edgedigits.augment import affine
from edgedigits.preprocess import IMAGE_SIZE, NOT_A_DIGIT, normalize_digit, stroke_width

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
JUNK_SHARE = 0.12  # junk crops added per epoch, as a share of the digits (about one class's worth)

STROKE_RANGE = (1.4, 4.8)  # box pixels: from a hair-line left by a 1 px pen to a marker thinned to its limit
ELASTIC_ALPHA, ELASTIC_SIGMA = 6.0, 4.0  # pixels of displacement at 28x28, and the smoothness of the field
BLUR_SIGMA = (0.4, 1.1)
JPEG_QUALITY = (25, 85)
BAR_AT = (0.45, 0.65)  # a 7's bar: its height on the stem (share of the digit's height, from the top)
BAR_HALF = (0.2, 0.35)  # and its half length (share of the digit's width, at least two strokes wide)
FLAG_LENGTH = (0.25, 0.45)  # a 1's flag: its length (share of the digit's height)
FLAG_GAP = (25, 40)  # degrees between a 1's flag and its stem: an acute angle (a 7's bar meets its stem near 90)
FLAG_STEM = 75  # only a stem within 15 degrees of upright gets a flag: on a slanted one, a flag draws a 7
GAPS = (1, 2)  # breaks per broken digit
GAP_RADIUS = (0.55, 0.85)  # a break's radius, in stroke widths: it cuts across the stroke and loses little more
HALF_TRIES = 20
STILL_A_DIGIT = 0.99  # a piece the Kaggle CNN reads this surely as a digit is not junk (its median: 0.98)
# A piece that is one straight stroke near upright is a 1, however sure the Kaggle CNN is: the spread of its ink
# across its long axis over the spread along it is below that of 90% of MNIST's 1s (measured on the 1,135 test
# 1s; a test re-measures it), and its long axis leans less than 35 degrees from upright (as 99% of MNIST's 1s
# do; line pieces lie within 35 degrees of horizontal).
ONE_SPREAD = 0.234
ONE_TILT = 35.0


def _elastic(img: np.ndarray, rng) -> np.ndarray:
    import cv2

    dx, dy = (cv2.GaussianBlur(rng.uniform(-1, 1, img.shape).astype(np.float32), (0, 0), ELASTIC_SIGMA)
              * ELASTIC_ALPHA for _ in range(2))
    grid_y, grid_x = np.mgrid[: img.shape[0], : img.shape[1]].astype(np.float32)
    return cv2.remap(img, grid_x + dx, grid_y + dy, cv2.INTER_LINEAR, borderValue=0)


def _continental(img: np.ndarray, label: int, rng) -> np.ndarray:
    """A 7 given a bar across its stem, or a 1 given a long flag at its top; any other digit as it is. The new
    stroke is as wide as the digit's own (measured the way ``normalize_digit`` measures it)."""
    import cv2

    ys, xs = np.nonzero(img > 127)
    if label not in (1, 7) or len(ys) < 4:
        return img
    top, height, width = ys.min(), np.ptp(ys) + 1, np.ptp(xs) + 1
    thick = max(1, int(round(stroke_width(img > 127))))
    out = img.copy()
    if label == 7:
        row = top + int(round(rng.uniform(*BAR_AT) * height))
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


def _quality(img: np.ndarray, rng, blur: bool, noise: bool, jpeg: bool) -> np.ndarray:
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
                img = _continental(img, int(labels[i]), rng)
            if p_elastic < P_ELASTIC:
                img = _elastic(img, rng)
            if p_gap < P_GAP:
                img = stroke_gaps(img, rng)
            if p_jitter < P_JITTER:
                img = _jitter(img, images[others[i]], rng)
            img = normalize_digit(img, stroke=strokes[i] if p_stroke < P_STROKE else None)
        if min(p_blur / P_BLUR, p_noise / P_NOISE, p_jpeg / P_JPEG) < 1:
            img = _quality(img, rng, p_blur < P_BLUR, p_noise < P_NOISE, p_jpeg < P_JPEG)
        out[i] = img
    return out


def _seed_affine(images: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return np.stack([affine(img, rng) for img in images]) if len(images) else images


# --- junk: what the finder cuts out that is not a digit --------------------------------------------------

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
        from edgedigits import runtime

        _local.reader = runtime.load(runtime.default_model("seed"), threads=1)
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
            crops[i] = _quality(crops[i], rng, *quality[i])
    return crops, names


CHUNK = 4096  # digits drawn from one random stream: the epoch is the same however many workers make it


def junk_count(digits: int) -> int:
    """How many junk crops an epoch of ``digits`` digits holds."""
    return sum(int(round(JUNK_SHARE * min(CHUNK, digits - start))) for start in range(0, digits, CHUNK))


def _chunk(job) -> tuple[np.ndarray, np.ndarray]:
    images, labels, seed, epoch, index = job
    rng = np.random.default_rng([seed, epoch, index])
    digits = _seed_affine(degrade(images, rng, labels), rng)
    return digits, _seed_affine(junk(junk_count(len(images)), images, rng)[0], rng)


def start_camera_epoch(images: np.ndarray, labels: np.ndarray, seed: int, epoch: int, executor=None):
    """Start drawing one epoch of the camera recipe; returns a function that waits for it and gives what
    ``camera_epoch`` gives. With ``executor`` (a process pool) the chunks are drawn while the caller goes on, so
    a trainer can draw the next epoch while it trains on this one."""
    jobs = [(images[start : start + CHUNK], labels[start : start + CHUNK], seed, epoch, start // CHUNK)
            for start in range(0, len(images), CHUNK)]
    pending = executor.map(_chunk, jobs) if executor else map(_chunk, jobs)  # Executor.map submits every job now

    def drawn() -> tuple[np.ndarray, np.ndarray]:
        parts = list(pending)
        digits = np.concatenate([p[0] for p in parts]) if parts else images[:0]
        bad = np.concatenate([p[1] for p in parts]) if parts else images[:0]
        return (np.concatenate([digits, bad]),
                np.concatenate([labels.astype(np.int64), np.full(len(bad), NOT_A_DIGIT, np.int64)]))

    return drawn


def camera_epoch(images: np.ndarray, labels: np.ndarray, seed: int, epoch: int,
                 executor=None) -> tuple[np.ndarray, np.ndarray]:
    """One epoch of the camera recipe: every digit degraded afresh, then the junk (labelled ``NOT_A_DIGIT``).
    A pure function of (seed, epoch), so a resumed run sees the same data; ``executor`` (a process pool)
    shares the work out in chunks of ``CHUNK`` digits."""
    return start_camera_epoch(images, labels, seed, epoch, executor)()
