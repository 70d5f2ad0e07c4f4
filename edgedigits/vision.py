"""From a camera frame or a photo to normalised digits: find the ink, cut out each digit, group digits into numbers.

Every threshold comes from what the frame itself shows (its stroke width, its digit height, its ink contrast),
never from an absolute pixel count:
1. **Working copy.** Frames larger than ``WORK_SIDE`` are downscaled, and so is a frame whose digits are big and
   bold enough at half size; boxes are reported in input pixels and small digits are cut from the full-resolution
   input.
2. **Ink.** The colour plane and polarity (dark ink on paper, or light on a board) that best separate ink from
   the background. Ink is measured as contrast relative to the local background, so shadows and uneven light
   cancel; where the background is far darker than the page (a desk), there is no ink.
3. **Hysteresis.** Weak ink is kept where it is connected to strong ink: thin pen strokes stay whole, while paper
   texture, noise and ink showing through from the back of the page (never as strong) are dropped.
4. **Measures.** The stroke width (ink area over half its outline) and the typical digit height.
5. **Lines.** Ruled and grid paper, then any line far longer than a digit, tilted or not, are removed along
   their fitted band; strokes that crossed them are closed again.
6. **Digits.** Pieces that may be one digit are clustered; with a classifier, every plausible way to read a
   cluster (pieces joined, apart, or a wide blob split as touching digits) is read, and the most probable reading
   wins. Each digit is normalised by ``preprocess.normalize_digit``, the function training uses.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from edgedigits.preprocess import DIGITS, NOT_A_DIGIT, normalize_digit, stroke_width

# 1. Working copy
WORK_SIDE = 1600  # long side of the working copy: a 20 px digit of a 4000 px photo stays 8 px tall
COARSE_STROKE = 2.0  # on the half-size copy, strokes 2 px wide...
COARSE_HEIGHT = 16  # ...and digits 16 px tall keep their shape (MNIST draws 20 px digits, 2-3 px strokes): the
                    # digits are found there, and cut from the full-size input, unless some already touch there
CROP_HEIGHT = 40  # a digit this tall on the working copy is cut there; a smaller one from the full-size input
                  # (normalisation draws digits 20 px tall: twice that keeps their anti-aliasing)
# 2. Ink
PROBE_SIDE = 120  # short side of the copy that picks the ink's plane and polarity: strokes still show, cheap
PROBE_CLEAR = 6.0  # ink 6 noise deviations out of the paper is clear on the probe; noise alone stays near 3
CHROMA = 0.5  # colour planes are tried when ink stands out by its colour at least half as well as by its grey
MIN_INK_CONTRAST = 0.12  # ink is at least 12% darker (or lighter) than its paper; below that the frame is empty
PAPER = 0.4  # where the background is under 40% of the frame's typical paper (a desk, beyond the page), no ink
# 3. Hysteresis
NOISE_SIGMAS = 4.0  # weak ink stands this many noise deviations above the paper (a false pixel in ~30,000)
STRONG_INK = 0.5  # a stroke reaches half the contrast of the strongest ink within a quarter of the frame...
SEEN_THROUGH = 0.35  # ...and a third of the frame's ink contrast: ink seen through the page has a quarter or less
WEAK_INK = 0.5  # weak ink, kept when connected to strong ink, has half the strong threshold (Canny's ratio)
# 5. Lines
PAGE_LINES = 3  # three parallel lines each across half the frame are ruled or grid paper
LINE_LENGTH = 2.0  # a run longer than twice the digit height is a line: no stroke of a digit is that long...
LINE_SLENDER = 0.25  # ...and at least 4x longer than it spans across (a tilt of 1 in 10 plus its thickness)
# 6. Digits
STACK_GAP = 0.35  # pieces above one another may be one digit (a 5's bar, a 9's stem) across a third of a digit
JOIN_GAP = 1.5  # pieces side by side closer than 1.5 stroke widths may be one digit broken by the threshold...
FRAGMENT = 0.5  # ...when one is under half the digit height; taller pieces side by side are two digits
MIN_STROKES_TALL = 2.0  # a digit is at least 2 stroke widths tall (a bold one too); a dot or a dash is 1
SPECK_HEIGHT = 0.4  # a digit is at least 40% as tall as the frame's typical digit (a written "-" or dot is less)
MAX_DIGIT_HEIGHT = 1.6  # joined pieces are at most 1.6x the typical digit height (more: two digits stacked)
MAX_ASPECT = 2.0  # a digit is at most twice as wide as it is tall (a 2 with a long tail); wider is a line
SPLIT_ASPECT = 1.15  # a blob wider than this may be touching digits: try reading it as 2 or 3
SOLID_FILL = 0.9  # a box this full of ink and wider than 3 strokes is a blot, not a digit
EDGE_SUBJECT = 0.5  # a blob cut by the frame's edge is kept only if it spans half the frame (a close-up)...
EDGE_CONTACT = 0.25  # ...and meets the edge along under a quarter of its size: a stroke runs off, a desk lies along
MAX_CLUSTER = 8  # pieces read together at most; a bigger cluster is read piece by piece
STACKED = 0.5  # two digits of a reading never overlap across half the narrower's width while sharing rows
DIGIT_COST = 0.99  # each digit of a reading costs 1%: equally likely readings within the int8 model's
                   # resolution (1/256 per output) go to the one with fewer digits


@dataclass
class Detection:
    box: tuple[int, int, int, int]  # x, y, w, h in frame pixels
    digit: np.ndarray  # 28x28 uint8, white on black, MNIST-normalised
    label: int | None = None
    confidence: float | None = None

    def to_json(self) -> dict:
        return {"box": [int(v) for v in self.box], "digit": self.label,
                "confidence": None if self.confidence is None else round(float(self.confidence), 4)}


@dataclass
class Number:
    text: str
    box: tuple[int, int, int, int]
    digits: list[Detection] = field(default_factory=list)
    line: int = 0  # the line of text it sits on, 0 at the top

    def to_json(self) -> dict:
        return {"text": self.text, "box": [int(v) for v in self.box]}


# ---------------------------------------------------------------- the ink


@dataclass
class Ink:
    """A frame's ink and the measures that every later threshold derives from."""

    plane: np.ndarray  # uint8 input-resolution plane in which ink is dark
    background: np.ndarray  # float32 working-resolution paper brightness of ``plane``
    contrast: np.ndarray  # float32 working resolution: 0 paper, 1 ink as dark as can be
    labels: np.ndarray  # int32 the ink's components at working resolution, 0 is paper
    stats: np.ndarray  # their boxes and areas, as cv2.connectedComponentsWithStats gives them
    weak: np.ndarray  # float32 working resolution: the contrast threshold of weak ink, from the ink nearby
    stroke: float  # stroke width in working pixels
    scale: float  # working pixels per input pixel (<= 1)


def _as_image(frame: np.ndarray) -> np.ndarray:
    """A uint8 grey (H, W) or BGR (H, W, 3) image."""
    frame = np.asarray(frame)
    if frame.dtype != np.uint8:
        frame = np.clip(frame, 0, 255).astype(np.uint8)
    if frame.ndim == 3 and frame.shape[2] == 1:
        frame = frame[..., 0]
    if frame.ndim == 3 and frame.shape[2] == 4:
        frame = frame[..., :3]
    if frame.ndim not in (2, 3) or (frame.ndim == 3 and frame.shape[2] != 3):
        raise ValueError(f"expected a grayscale or BGR frame, got shape {frame.shape}")
    return frame


def plane(image: np.ndarray, index: int) -> np.ndarray:
    """Plane ``index`` of an image: 0 grey, then 1 blue, 2 green, 3 red (grey images have plane 0 only)."""
    import cv2

    if image.ndim == 2:
        return image
    return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if index == 0 else np.ascontiguousarray(image[..., index - 1])


def _quantiles(values: np.ndarray, qs) -> list[float]:
    """Quantiles of integers in [-255, 255], from their histogram (fast on a probe's few thousand pixels)."""
    cumulative = np.cumsum(np.bincount(values.astype(np.int64) + 255, minlength=511))
    return [float(np.searchsorted(cumulative, q * cumulative[-1]) - 255) for q in qs]


def _separation(small: np.ndarray) -> tuple[float, float]:
    """How well dark ink and light ink stand out of their local background, in noise deviations."""
    import cv2

    k = max(3, min(small.shape) // 6)
    kernel = cv2.getStructuringElement(cv2.MORPH_RECT, (k, k))
    scores = []
    for op, sign in ((cv2.MORPH_CLOSE, 1), (cv2.MORPH_OPEN, -1)):
        background = cv2.blur(cv2.morphologyEx(small, op, kernel), (k, k))
        ink = (sign * (background.astype(np.int16) - small)).ravel()
        middle, top = _quantiles(ink, (0.5, 0.999))
        deviation = 1.4826 * _quantiles(np.abs(ink - int(middle)), (0.5,))[0] + 1.0
        scores.append(top / deviation)
    return scores[0], scores[1]


def choose_plane(image: np.ndarray) -> tuple[int, bool]:
    """The plane (see ``plane``) where ink stands out most, and whether the ink is lighter than its background.
    Judged on a copy ``PROBE_SIDE`` pixels high."""
    import cv2

    h, w = image.shape[:2]
    factor = max(1.0, min(h, w) / PROBE_SIDE)
    small = cv2.resize(image, (max(1, round(w / factor)), max(1, round(h / factor))), interpolation=cv2.INTER_AREA)
    dark, light = _separation(plane(small, 0))
    best = {False: (dark, 0), True: (light, 0)}  # per polarity: (score, plane)
    if small.ndim == 3:  # colour planes count when ink stands out by its colour too
        b, g, r = cv2.split(small)
        chroma = cv2.subtract(cv2.max(cv2.max(b, g), r), cv2.min(cv2.min(b, g), r))
        if _separation(chroma)[1] > CHROMA * max(dark, light):
            for index in (1, 2, 3):
                for is_light, score in zip((False, True), _separation(plane(small, index))):
                    best[is_light] = max(best[is_light], (score, index))
    (dark, _), (light, _) = best[False], best[True]
    if max(dark, light) < PROBE_CLEAR:  # the probe saw only paper (digits too small for it): the grey plane
        best = {False: (dark, 0), True: (light, 0)}
    if max(dark, light) < PROBE_CLEAR or min(dark, light) > 0.9 * max(dark, light):
        # No clear winner: the paper is the majority of pixels, and ink on it is dark unless clearly lighter.
        low, middle, high = np.percentile(plane(small, 0), [1, 50, 99])
        is_light = bool(high - middle > 2 * max(middle - low, 1))  # 1: a grey level, the quantisation step
    else:
        is_light = light > dark
    return best[is_light][1], is_light


def _background(plane: np.ndarray, kernel_px: float) -> np.ndarray:
    """Paper brightness: a closing (dark strokes narrower than the kernel vanish, while the steps of sharp
    shadows stay where they are), computed small and smoothed a little (a wide blur would smear those steps)."""
    import cv2

    h, w = plane.shape
    factor = max(1, int(kernel_px / 9))  # the kernel is about 9 px on the reduced copy: enough to be round
    small = cv2.resize(plane, (max(1, w // factor), max(1, h // factor)), interpolation=cv2.INTER_AREA)
    k = max(3, int(round(kernel_px / factor)) | 1)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))
    background = cv2.blur(cv2.morphologyEx(small, cv2.MORPH_CLOSE, kernel), (3, 3))
    return cv2.resize(background, (w, h), interpolation=cv2.INTER_LINEAR).astype(np.float32), background


def relative_contrast(plane: np.ndarray, background: np.ndarray) -> np.ndarray:
    """How much darker than its paper each pixel is, as a fraction of the paper: shadows cancel out."""
    import cv2

    ratio = cv2.divide(cv2.subtract(background, plane), cv2.max(background, 16.0))  # 16: near-black paper
    return np.clip(ratio, 0.0, 1.0, out=ratio)


def _component_strokes(labels: np.ndarray, stats: np.ndarray) -> float:
    """The frame's stroke width: ``stroke_width`` per component, the ink-weighted median over components that
    do not lie along the frame's edge (a desk, the page's edge, a shadow)."""
    count = len(stats)
    area = stats[:, 4].astype(np.float64)
    edges = np.zeros(count, np.int64)
    ink = labels > 0
    for la, lb, change in ((labels[1:], labels[:-1], ink[1:] != ink[:-1]),
                           (labels[:, 1:], labels[:, :-1], ink[:, 1:] != ink[:, :-1])):
        # an edge between ink and paper (two 8-connected components never touch side by side)
        edges += np.bincount(la[change], minlength=count) + np.bincount(lb[change], minlength=count)
    border = np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]])
    contact = np.bincount(border, minlength=count)
    ok = (area > 0) & (contact < np.sqrt(area)) & (edges > 0)  # lying along an edge: touching it over its size
    ok[0] = False
    if not ok.any():
        return stroke_width(ink)
    widths = 8.0 / math.pi * area[ok] / edges[ok]
    return _weighted_median(widths, area[ok])


def _components(mask: np.ndarray) -> tuple[int, np.ndarray, np.ndarray]:
    """8-connected components of a 0/1 uint8 mask: count, labels and stats (x, y, w, h, area per label).
    Grana's algorithm: three times faster here than OpenCV's default for 8-connectivity."""
    import cv2

    count, labels, stats, _ = cv2.connectedComponentsWithStatsWithAlgorithm(mask, 8, cv2.CV_32S, cv2.CCL_GRANA)
    return count, labels, stats


def _pool(image: np.ndarray, block: int) -> np.ndarray:
    """The maximum of each ``block`` x ``block`` cell."""
    import cv2

    if block <= 1:
        return image
    return np.ascontiguousarray(cv2.dilate(image, np.ones((block, block), np.uint8),
                                           anchor=(0, 0))[::block, ::block])


def _max_filter(image: np.ndarray, size: int) -> np.ndarray:
    """The maximum over ``size`` x ``size`` windows, on a copy pooled by cells of ``size / 8`` (small, cheap)."""
    import cv2

    block = max(1, size // 8)
    k = max(1, size // block)
    return cv2.dilate(_pool(image, block), cv2.getStructuringElement(cv2.MORPH_RECT, (k, k)))


def _hysteresis(contrast: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Labelled ink (0 is paper), its components' stats (as OpenCV gives them) and the weak threshold map:
    weak ink connected to strong ink, where strong is judged against the ink nearby. None when there is no ink."""
    import cv2

    h, w = contrast.shape
    sample = contrast[:: max(1, h // 50), :: max(1, w // 50)]
    noise = 1.4826 * float(np.median(np.abs(sample - np.median(sample))))
    floor = max(NOISE_SIGMAS * noise, WEAK_INK * MIN_INK_CONTRAST)
    if float(contrast.max()) < MIN_INK_CONTRAST:
        return None
    # The strongest ink within a quarter of the frame: a dark desk at the edge does not hide a pen stroke.
    nearby = _max_filter(contrast, max(3, min(h, w) // 4))
    candidates = sample[sample > floor]
    everywhere = float(np.percentile(candidates, 95)) if candidates.size else 0.0
    strong_small = np.maximum(STRONG_INK * nearby, max(MIN_INK_CONTRAST, floor, SEEN_THROUGH * everywhere))
    strong = cv2.resize(strong_small, (w, h), interpolation=cv2.INTER_LINEAR)
    if WEAK_INK * float(strong_small.min()) >= floor:  # the floor never binds: scaling commutes with resizing
        weak = WEAK_INK * strong
    else:
        weak = cv2.resize(np.maximum(WEAK_INK * strong_small, floor), (w, h), interpolation=cv2.INTER_LINEAR)
    count, labels, stats = _components(cv2.compare(contrast, weak, cv2.CMP_GT))
    keep = np.zeros(count, bool)
    keep[labels[contrast > strong]] = True
    keep[0] = False
    relabel = np.zeros(count, np.int32)
    relabel[keep] = np.arange(1, int(keep.sum()) + 1)
    return relabel[labels], np.concatenate([stats[:1], stats[keep]]), weak


def _measure(work: np.ndarray, kernel: float):
    """Background, contrast and hysteresis of a working plane with a background kernel of ``kernel`` pixels."""
    background, small = _background(work, kernel)
    contrast = relative_contrast(work.astype(np.float32), background)
    paper = PAPER * float(np.median(small))
    if small.min() < paper:  # the full-size background is interpolated from the small one: never below its min
        contrast[background < paper] = 0
    return background, contrast, _hysteresis(contrast)


def _coarse_enough(stats: np.ndarray, stroke: float) -> bool:
    """Do the digits of a half-size copy (its component ``stats``) keep their shape there, and stand apart?"""
    height = _digit_height(stats, stroke)
    if height is None or stroke < COARSE_STROKE or height < COARSE_HEIGHT:
        return False
    w, h = stats[:, 2], stats[:, 3]
    digits = (h >= SPECK_HEIGHT * height) & (h <= MAX_DIGIT_HEIGHT * height) & (w <= 3 * h)
    return not (w[digits] > SPLIT_ASPECT * h[digits]).any()  # a blob wider than a digit: digits touch there


def find_ink(frame: np.ndarray) -> Ink | None:
    """Measure the frame's ink (see the module docstring, steps 1-4); None when there is none."""
    import cv2

    image = _as_image(frame)
    index, light = choose_plane(image)
    ink_plane = plane(image, index)
    if light:
        ink_plane = 255 - ink_plane
    h, w = ink_plane.shape
    scale = min(1.0, WORK_SIDE / max(h, w))
    work = ink_plane if scale == 1.0 else cv2.resize(ink_plane, (max(1, round(w * scale)), max(1, round(h * scale))),
                                                     interpolation=cv2.INTER_AREA)
    # The stroke width, measured on a half-size copy with a background kernel of 1/6 of the frame, sets the
    # kernel of the real pass: a few stroke widths follow sharp shadow edges and still span every stroke. When
    # the digits are big and bold enough there, the real pass runs on the half-size copy too.
    half = work if min(work.shape) < 2 * PROBE_SIDE else cv2.resize(
        work, (work.shape[1] // 2, work.shape[0] // 2), interpolation=cv2.INTER_AREA)
    *_, found = _measure(half, min(half.shape) / 6)
    if found is None:
        return None
    stroke = _component_strokes(*found[:2])
    if half is not work and _coarse_enough(found[1][1:], stroke):
        scale *= half.shape[0] / work.shape[0]  # the half-size copy shows these digits well: work there
        work = half
    else:
        stroke *= work.shape[0] / half.shape[0]
    background, contrast, found = _measure(work, min(min(work.shape) / 6, max(3.0, 6 * stroke)))
    if found is None:
        return None
    labels, stats, weak = found
    stroke = _component_strokes(labels, stats)
    return Ink(ink_plane, background, contrast, labels, stats, weak, stroke, scale)


# ---------------------------------------------------------------- lines


def remove_lines(mask: np.ndarray, stroke: float, length: float, min_lines: int = 1,
                 stats: np.ndarray | None = None) -> np.ndarray:
    """Drop lines at least ``length`` long (ruled paper, grids, table borders), horizontal or vertical give or
    take a tilt, where at least ``min_lines`` of them run the same way; re-close the strokes that crossed them.
    With the mask's component ``stats``, a direction in which no component spans half that length is skipped."""
    import cv2

    length = int(length)
    if length >= max(mask.shape):
        return mask
    bridge = int(2 * stroke) + 3  # a crossing stroke spans a line's band: 2 strokes and the line itself
    cleaned = mask
    for transpose, across in ((False, (1, bridge)), (True, (bridge, 1))):
        if stats is not None and not (stats[1:, 3 if transpose else 2] >= length / 2).any():
            continue
        found = _horizontal_lines(mask.T if transpose else mask, stroke, length)
        if found is None or found[1] < min_lines:
            continue
        lines = found[0]
        lines = np.ascontiguousarray(lines.T) if transpose else lines
        without = cleaned & (1 - lines)
        rejoined = cv2.morphologyEx(without, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, across))
        cleaned = without | (rejoined & mask & lines)
    return cleaned


def _horizontal_lines(mask: np.ndarray, stroke: float, length: int) -> tuple[np.ndarray, int] | None:
    """The bands of the near-horizontal lines at least ``length`` long, across the frame, and their count;
    None if there is none.

    A tilted line is found as a chain of straight runs a quarter of that length: any one run may be a digit's
    bar, but only a line chains them over ``length``, slender. Chains are traced on a grid of stroke-wide cells.
    A straight line is fitted through each chain, and its band (the line's own thickness) runs across the frame,
    so that the short pieces between the digits written on the line go too.
    """
    import cv2

    h, w = mask.shape
    if length > w:
        return None
    runs = cv2.morphologyEx(np.ascontiguousarray(mask), cv2.MORPH_OPEN,
                            cv2.getStructuringElement(cv2.MORPH_RECT, (max(3, length // 4), 1)))
    if not runs.any():
        return None
    cell = max(1, int(stroke))  # a line stays one chain on the grid; digits a few strokes apart stay apart
    count, labels, stats = _components(_pool(runs, cell))
    along = (stats[:, 2] - 1) * cell  # pooling adds up to a cell
    long = (along >= length) & (stats[:, 3] * cell <= LINE_SLENDER * along)
    long[0] = False
    if not long.any():
        return None
    lines = np.zeros_like(mask)
    columns = np.arange(w, dtype=np.float64)
    for i in np.nonzero(long)[0]:
        x, y, gw, gh = stats[i, :4]
        ys, xs = np.nonzero(labels[y : y + gh, x : x + gw] == i)
        slope, offset = np.polyfit((xs + x + 0.5) * cell, (ys + y + 0.5) * cell, 1)
        centre = slope * columns + offset
        top = int(max(0, np.floor(centre.min() - cell)))
        bottom = int(min(h, np.ceil(centre.max() + cell + 1)))
        if bottom <= top:
            continue
        # Refit on the full-resolution runs within a cell of the coarse line: the grid knows it to a cell only.
        near = runs[top:bottom] & (np.abs(np.arange(top, bottom)[:, None] - centre[None, :]) <= cell)
        ys, xs = np.nonzero(near)
        if len(ys) < 2:
            continue
        slope, offset = np.polyfit(xs, ys + top, 1)
        thickness = len(ys) / max(1.0, float(np.ptp(xs)) + 1)
        distance = np.abs(np.arange(top, bottom)[:, None] - (slope * columns + offset)[None, :])
        lines[top:bottom] |= (distance <= thickness / 2 + 1).astype(np.uint8)
    return lines & mask, int(long.sum())


# ---------------------------------------------------------------- pieces, clusters and readings


def _weighted_median(values, weights) -> float:
    order = np.argsort(values)
    values, cumulative = np.asarray(values, float)[order], np.cumsum(np.asarray(weights, float)[order])
    return float(values[np.searchsorted(cumulative, cumulative[-1] / 2)])


def _digit_height(stats: np.ndarray, stroke: float) -> float | None:
    """The typical digit height: the median height of components that are neither lines nor dots, weighted by
    their ink squared, so that many small pieces of paper texture do not outweigh one digit.
    When every component is line-shaped (digits written on ruled lines merge with them), the tall ones count:
    a line alone is thinner than a digit is tall."""
    w, h, area = stats[:, 2], stats[:, 3], stats[:, 4]
    tall = h >= MIN_STROKES_TALL * stroke
    shaped = tall & (w <= 3 * h)
    chosen = shaped if shaped.any() else tall
    if not chosen.any():
        return None
    return _weighted_median(h[chosen], area[chosen].astype(np.float64) ** 2)  # squared: dust and texture count little


def _gap(a, b) -> float:
    """Chebyshev distance between two boxes (negative when they overlap on both axes)."""
    gx = max(a[0], b[0]) - min(a[0] + a[2], b[0] + b[2])
    gy = max(a[1], b[1]) - min(a[1] + a[3], b[1] + b[3])
    return max(gx, gy)


def _may_join(a, b, stroke: float, digit_height: float) -> bool:
    """Could pieces ``a`` and ``b`` (boxes) be parts of one digit?"""
    overlap_x = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    if overlap_x > 0.5 * min(a[2], b[2]):  # stacked
        gap_y = max(a[1], b[1]) - min(a[1] + a[3], b[1] + b[3])
        return gap_y <= STACK_GAP * digit_height
    return _gap(a, b) <= JOIN_GAP * stroke and min(a[3], b[3]) < FRAGMENT * digit_height


def _clusters(boxes: list[tuple], stroke: float, digit_height: float) -> list[list[int]]:
    """Connected sets of pieces that may be parts of one digit (``_may_join``)."""
    parent = list(range(len(boxes)))

    def root(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    order = sorted(range(len(boxes)), key=lambda i: boxes[i][0])
    for n, i in enumerate(order):
        for j in order[n + 1 :]:
            if boxes[j][0] - (boxes[i][0] + boxes[i][2]) > JOIN_GAP * stroke:
                break  # sorted by left edge: every later piece starts further right
            if _may_join(boxes[i], boxes[j], stroke, digit_height):
                parent[root(i)] = root(j)
    groups: dict[int, list[int]] = {}
    for i in range(len(boxes)):
        groups.setdefault(root(i), []).append(i)
    return list(groups.values())


def _split(mask: np.ndarray, count: int) -> list[tuple[int, int, int, int]]:
    """Cut a blob into ``count`` digits at the weakest columns near the evenly spaced cuts."""
    h, w = mask.shape
    columns = mask.sum(0).astype(np.float32)
    cuts = [0]
    for k in range(1, count):
        centre = int(k * w / count)
        window = max(2, int(0.25 * w / count))
        lo, hi = max(cuts[-1] + 2, centre - window), min(w - 2, centre + window)
        if hi <= lo:
            return []
        cuts.append(lo + int(np.argmin(columns[lo:hi])))
    cuts.append(w)
    parts = []
    for a, b in zip(cuts[:-1], cuts[1:]):
        cols = np.nonzero(mask[:, a:b].any(0))[0]
        rows = np.nonzero(mask[:, a:b].any(1))[0]
        if len(cols) and len(rows):
            parts.append((a + int(cols[0]), int(rows[0]), int(cols[-1] - cols[0] + 1), int(rows[-1] - rows[0] + 1)))
    return parts if len(parts) == count else []


class _Finder:
    """One frame's digits: pieces -> clusters -> candidate digits -> the most probable reading."""

    def __init__(self, ink: Ink, labels: np.ndarray, stats: np.ndarray, digit_height: float):
        self.ink, self.labels, self.stats, self.height = ink, labels, stats, digit_height
        self.crops: list[Detection] = []

    def box(self, ids) -> tuple[int, int, int, int]:
        s = self.stats[list(ids)]
        x0, y0 = int(s[:, 0].min()), int(s[:, 1].min())
        x1, y1 = int((s[:, 0] + s[:, 2]).max()), int((s[:, 1] + s[:, 3]).max())
        return x0, y0, x1 - x0, y1 - y0

    def side_by_side(self, ids) -> bool:
        """Do these pieces hold two taller than a fragment that do not stack (so two digits, not one)?"""
        tall = [self.stats[i] for i in ids if self.stats[i, 3] >= FRAGMENT * self.height]
        for n, a in enumerate(tall):
            for b in tall[n + 1 :]:
                if min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]) <= 0.5 * min(a[2], b[2]):
                    return True
        return False

    def plausible(self, box, ids) -> bool:
        """Could these pieces, in this box, be one digit?"""
        x, y, w, h = box
        stroke = self.ink.stroke
        if not self.shaped(box):
            return False
        if h > MAX_DIGIT_HEIGHT * self.height and len(ids) > 1:
            return False
        ink = float(self.stats[list(ids), 4].sum())
        if ink < 0.5 * stroke * h:  # sparse: dots spread over a box
            return False
        if ink > SOLID_FILL * w * h and w > 3 * stroke:
            return False
        return True

    def shaped(self, box) -> bool:
        """Is a box of this shape and size a digit's, in this frame?"""
        w, h = box[2], box[3]
        return w <= MAX_ASPECT * h and h >= MIN_STROKES_TALL * self.ink.stroke and h >= SPECK_HEIGHT * self.height

    def inside(self, box, ids) -> bool:
        """Not cut by the frame's edge, or a close-up whose stroke runs off it (not a desk lying along it)."""
        x, y, w, h = box
        fh, fw = self.labels.shape
        if x > 0 and y > 0 and x + w < fw and y + h < fh:
            return True
        labels = self.labels
        border = np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]])
        contact = int(np.isin(border, [i + 1 for i in ids]).sum())
        return (h >= EDGE_SUBJECT * fh or w >= EDGE_SUBJECT * fw) and contact <= EDGE_CONTACT * max(w, h)

    def candidate(self, ids) -> list[list[int]]:
        """The ways to read these pieces, each a list of crop indices: as one digit, and as 2 or 3 touching
        digits when the blob is wide. Empty when they cannot be a digit."""
        whole = self.box(ids)
        options = []
        if not self.inside(whole, ids):
            return options
        region = self.labels[whole[1] : whole[1] + whole[3], whole[0] : whole[0] + whole[2]]
        region = (region == ids[0] + 1 if len(ids) == 1 else np.isin(region, [i + 1 for i in ids])).astype(np.uint8)
        if self.plausible(whole, ids):
            options.append([self._crop(region, whole, (0, 0, whole[2], whole[3]))])
        if len(ids) == 1 and whole[2] > SPLIT_ASPECT * whole[3]:
            for count in (2, 3):
                if whole[2] >= count * 0.35 * whole[3]:
                    parts = _split(region, count)
                    if parts and all(self.shaped(p) for p in parts):
                        options.append([self._crop(region, whole, p) for p in parts])
        return options

    def _crop(self, region, whole, part) -> int:
        """Cut one digit (``part`` of the ``whole`` box) from the frame, normalise it, return its index."""
        import cv2

        ink = self.ink
        px, py, pw, ph = part
        x, y = whole[0] + px, whole[1] + py
        own = region[py : py + ph, px : px + pw]
        keep = cv2.dilate(own, np.ones((3, 3), np.uint8))
        box_in = self._to_input((x, y, pw, ph))
        if ink.scale == 1.0 or ph >= CROP_HEIGHT:  # enough pixels on the working copy
            contrast = ink.contrast[y : y + ph, x : x + pw]
            weak = ink.weak[y : y + ph, x : x + pw]
            crop = np.where(keep > 0, np.maximum(contrast - weak / 2, 0), 0)
        else:  # a small digit of a big photo: cut it at full resolution
            x_in, y_in, w_in, h_in = box_in
            size = (max(1, w_in), max(1, h_in))
            full = ink.plane[y_in : y_in + h_in, x_in : x_in + w_in].astype(np.float32)
            background = cv2.resize(ink.background[y : y + ph, x : x + pw], size, interpolation=cv2.INTER_LINEAR)
            grow = cv2.dilate(cv2.resize(keep, size, interpolation=cv2.INTER_NEAREST),
                              np.ones((3, 3), np.uint8), iterations=max(1, int(round(1 / ink.scale))))
            contrast = relative_contrast(full, background)
            weak = cv2.resize(ink.weak[y : y + ph, x : x + pw], size, interpolation=cv2.INTER_LINEAR)
            crop = np.where((grow > 0) & (contrast > weak), contrast - weak / 2, 0)
        self.crops.append(Detection(box_in, normalize_digit(crop)))
        return len(self.crops) - 1

    def _to_input(self, box) -> tuple[int, int, int, int]:
        """A working-copy box in the input's pixels."""
        s = self.ink.scale
        if s == 1.0:
            return tuple(int(v) for v in box)
        x0, y0 = int(box[0] / s), int(box[1] / s)
        x1 = min(self.ink.plane.shape[1], int(math.ceil((box[0] + box[2]) / s)))
        y1 = min(self.ink.plane.shape[0], int(math.ceil((box[1] + box[3]) / s)))
        return x0, y0, x1 - x0, y1 - y0


def _without_lines(parts: tuple, stroke: float, length: float, min_lines: int = 1) -> tuple:
    """``remove_lines`` on ``parts`` (mask, labels, stats) and, when it removed any, the components again;
    ``parts`` itself when nothing changed."""
    mask, _, stats = parts
    cleaned = remove_lines(mask, stroke, length, min_lines=min_lines, stats=stats)
    return parts if cleaned is mask else (cleaned, *_components(cleaned)[1:])


def _alone(groups: dict) -> list[int]:
    """Crop indices of a cluster's pieces read one by one, where they read as a digit at all."""
    return [i for (start, end), options in groups.items() if end == start + 1 and options for i in options[0]]


def _stacked(a, b) -> bool:
    """Two boxes (x, y, w, h) drawn over each other: sharing rows, and columns across ``STACKED`` of the
    narrower one's width."""
    across = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    down = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    return down > 0 and across > STACKED * min(a[2], b[2])


def _best_reading(cluster: list[int], groups: dict, crops: list[Detection]) -> list[int]:
    """The partition of a cluster's pieces (left to right) into digits with the highest joint probability."""
    n = len(cluster)
    best = [(0.0, [])] + [(-math.inf, [])] * n
    for end in range(1, n + 1):
        for start in range(end):
            for option in groups.get((start, end), []):
                if best[start][1] and _stacked(crops[best[start][1][-1]].box, crops[option[0]].box):
                    continue  # digits of a number stand side by side, not drawn over each other
                score = best[start][0] + sum(math.log(max(crops[i].confidence, 1e-6) * DIGIT_COST) for i in option)
                if score > best[end][0]:
                    best[end] = (score, best[start][1] + option)
    if best[n][0] == -math.inf:  # no full reading: keep the pieces that read alone
        return _alone(groups)
    return best[n][1]


def find_digits(frame: np.ndarray, classifier=None) -> list[Detection]:
    """Boxes (input pixels) and MNIST-normalised 28x28 crops of the handwritten digits in ``frame`` (gray or BGR).

    With a ``classifier`` the digits come back labelled, and pieces that may be one digit, or blobs that may be
    touching digits, are read every plausible way; the reading with the highest joint probability wins. Without
    one, pieces near each other are one digit and wide blobs are split by shape alone.
    """
    frame = np.asarray(frame)
    if frame.ndim < 2 or frame.shape[0] < 8 or frame.shape[1] < 8:
        return []
    ink = find_ink(frame)
    if ink is None:
        return []
    # Ruled or grid paper first: several parallel lines across half the frame, which no digit draws. Digits
    # written on them join them into one component, which would hide the digits' height.
    parts = ((ink.labels > 0).astype(np.uint8), ink.labels, ink.stats)
    parts = _without_lines(parts, ink.stroke, max(ink.labels.shape) / 2, min_lines=PAGE_LINES)
    height = _digit_height(parts[2][1:], ink.stroke)
    if height is None:
        return []
    changed = _without_lines(parts, ink.stroke, LINE_LENGTH * height)
    if changed is not parts:
        parts = changed
        height = _digit_height(parts[2][1:], ink.stroke) or height
    _, labels, stats = parts
    stats = stats[1:]
    # Pieces: components bigger than a stroke's square (smaller ones are dust).
    pieces = [i for i in range(len(stats)) if stats[i, 4] >= ink.stroke ** 2 and max(stats[i, 2], stats[i, 3])
              >= 1.5 * ink.stroke]
    finder = _Finder(ink, labels, stats, height)
    boxes = [tuple(int(v) for v in stats[i, :4]) for i in pieces]
    readings = []
    for cluster in _clusters(boxes, ink.stroke, height):
        cluster = sorted((pieces[i] for i in cluster), key=lambda i: stats[i, 0] + stats[i, 2] / 2)
        if len(cluster) > MAX_CLUSTER:
            readings += [([i], {(0, 1): finder.candidate([i])}) for i in cluster]
            continue
        groups = {}
        for start in range(len(cluster)):
            for end in range(start + 1, len(cluster) + 1):
                ids = cluster[start:end]
                box = finder.box(ids)
                if box[2] > MAX_ASPECT * box[3] and end - start > 1:
                    break
                if finder.side_by_side(ids):
                    continue
                groups[(start, end)] = finder.candidate(ids)
        readings.append((cluster, groups))
    crops = finder.crops
    if not crops:
        return []
    if classifier is None:  # shape alone: each cluster whole when it can be, else its pieces
        chosen = []
        for cluster, groups in readings:
            whole = groups.get((0, len(cluster)))
            chosen += whole[0] if whole else _alone(groups)
        return _drop_specks([crops[i] for i in chosen])
    probs = classifier.predict(np.stack([d.digit for d in crops]))
    for det, row in zip(crops, probs):
        # the reading weighs each crop by its best digit; a camera model may call it "not a digit" outright
        det.label, det.confidence = int(row.argmax()), float(row[:DIGITS].max())
    chosen = []
    for cluster, groups in readings:
        chosen += _best_reading(cluster, groups, crops)
    return _drop_specks([crops[i] for i in chosen if crops[i].label != NOT_A_DIGIT])


def _drop_specks(detections: list[Detection]) -> list[Detection]:
    """Digits far smaller than the frame's typical digit (ink-weighted) are dots and dirt."""
    if len(detections) < 2:
        return detections
    heights = [d.box[3] for d in detections]
    typical = _weighted_median(heights, [d.box[2] * d.box[3] for d in detections])
    return [d for d in detections if d.box[3] >= SPECK_HEIGHT * typical]


def iou(a, b) -> float:
    ax1, ay1, bx1, by1 = a[0] + a[2], a[1] + a[3], b[0] + b[2], b[1] + b[3]
    iw = max(0, min(ax1, bx1) - max(a[0], b[0]))
    ih = max(0, min(ay1, by1) - max(a[1], b[1]))
    inter = iw * ih
    union = a[2] * a[3] + b[2] * b[3] - inter
    return inter / union if union else 0.0


def _union(a, b):
    x0, y0 = min(a[0], b[0]), min(a[1], b[1])
    x1, y1 = max(a[0] + a[2], b[0] + b[2]), max(a[1] + a[3], b[1] + b[3])
    return (x0, y0, x1 - x0, y1 - y0)


def group_numbers(detections: list[Detection]) -> list[Number]:
    """Group labelled digits into lines (top to bottom) and numbers (left to right)."""
    if not detections:
        return []
    remaining = sorted(detections, key=lambda d: d.box[1] + d.box[3] / 2)
    lines: list[list[Detection]] = []
    for det in remaining:
        cy = det.box[1] + det.box[3] / 2
        for line in lines:
            top = min(d.box[1] for d in line)
            bottom = max(d.box[1] + d.box[3] for d in line)
            if top <= cy <= bottom:
                line.append(det)
                break
        else:
            lines.append([det])
    numbers = []
    for index, line in enumerate(lines):
        line.sort(key=lambda d: d.box[0])
        height = float(np.median([d.box[3] for d in line]))
        current = [line[0]]
        for det in line[1:]:
            prev = current[-1]
            gap = det.box[0] - (prev.box[0] + prev.box[2])
            if gap > 0.6 * height:
                numbers.append(_number(current, index))
                current = [det]
            else:
                current.append(det)
        numbers.append(_number(current, index))
    return numbers


def _number(digits: list[Detection], line: int) -> Number:
    box = digits[0].box
    for d in digits[1:]:
        box = _union(box, d.box)
    text = "".join("?" if d.label is None else str(d.label) for d in digits)
    return Number(text, box, digits, line)


def reading(numbers: list[Number]) -> str:
    """What a person reads: the digits of each line left to right, lines top to bottom joined with ``-``."""
    lines: dict[int, str] = {}
    for number in numbers:
        lines[number.line] = lines.get(number.line, "") + number.text
    return "-".join(lines[k] for k in sorted(lines))
