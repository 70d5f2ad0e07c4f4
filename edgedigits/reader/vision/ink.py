"""The ink of a frame: the working copy, the colour plane and polarity that best separate ink from paper, and the
ink itself.

1. **Working copy.** Frames larger than ``WORK_SIDE`` are downscaled, and so is a frame whose digits are big and
   bold enough at half size; boxes are reported in input pixels and small digits are cut from the full-resolution
   input.
2. **Ink.** The colour plane and polarity (dark ink on paper, or light on a board) that best separate ink from
   the background. Ink is measured as contrast relative to the local background, so shadows and uneven light
   cancel; where the background is far darker than the page (a desk), there is no ink.
3. **Hysteresis.** Weak ink is kept where it is connected to strong ink: thin pen strokes stay whole, while paper
   texture, noise and ink showing through from the back of the page (never as strong) are dropped.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from edgedigits.reader.vision.measures import (
    MAX_DIGIT_HEIGHT,
    SPECK_HEIGHT,
    SPLIT_ASPECT,
    component_strokes,
    components,
    digit_height,
    pool,
)

# 1. Working copy
WORK_SIDE = 1600  # long side of the working copy: a 20 px digit of a 4000 px photo stays 8 px tall
COARSE_STROKE = 2.0  # on the half-size copy, strokes 2 px wide...
COARSE_HEIGHT = 16  # ...and digits 16 px tall keep their shape (MNIST draws 20 px digits, 2-3 px strokes): the
                    # digits are found there, and cut from the full-size input, unless some already touch there
# 2. Ink
PROBE_SIDE = 120  # short side of the copy that picks the ink's plane and polarity: strokes still show, cheap
PROBE_CLEAR = 6.0  # ink 6 noise deviations out of the paper is clear on the probe; noise alone stays near 3
CHROMA = 0.5  # colour planes are tried when ink stands out by its colour at least half as well as by its grey
MIN_INK_CONTRAST = 0.12  # ink is at least 12% darker (or lighter) than its paper; below that the frame is empty
DARK_PAPER = 16.0  # grey level: contrast is judged against paper at least this bright (near-black paper)
PAPER = 0.4  # where the background is under 40% of the frame's typical paper (a desk, beyond the page), no ink
# 3. Hysteresis
NOISE_SIGMAS = 4.0  # weak ink stands this many noise deviations above the paper (a false pixel in ~30,000)
STRONG_SIGMAS = 6.0  # strong ink, this many above the paper's own (one false pixel in ~500 million: noise never
                     # seeds a stroke)
STRONG_INK = 0.5  # a stroke reaches half the contrast of the strongest ink within a quarter of the frame...
SEEN_THROUGH = 0.35  # ...and a third of the frame's ink contrast: ink seen through the page has a quarter or less
WEAK_INK = 0.5  # weak ink, kept when connected to strong ink, has half the strong threshold (Canny's ratio)
RESOLVED_STROKE = 3.0  # (crops) pixels: a stroke this wide keeps its full contrast at its core through a lens's blur
STEP = WEAK_INK * MIN_INK_CONTRAST  # (2.) a step in the paper's brightness that enlarging it would turn into ink


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


def as_image(frame: np.ndarray) -> np.ndarray:
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
        scores.append((top - middle) / deviation)  # from the paper's own level: a grid's cells are no ink
    return scores[0], scores[1]


def choose_plane(image: np.ndarray, known: bool | None = None) -> tuple[int, bool]:
    """The plane (see ``plane``) where ink stands out most, and whether the ink is lighter than its background
    (unless ``known`` says so already: ink on a sheet of paper is dark). Judged on a copy ``PROBE_SIDE`` pixels
    high."""
    import cv2

    h, w = image.shape[:2]
    factor = max(1.0, min(h, w) / PROBE_SIDE)
    small = cv2.resize(image, (max(1, round(w / factor)), max(1, round(h / factor))), interpolation=cv2.INTER_AREA)
    dark, lighter = _separation(plane(small, 0))
    best = {False: (dark, 0), True: (lighter, 0)}  # per polarity: (score, plane)
    if small.ndim == 3:  # colour planes count when ink stands out by its colour too
        b, g, r = cv2.split(small)
        chroma = cv2.subtract(cv2.max(cv2.max(b, g), r), cv2.min(cv2.min(b, g), r))
        if _separation(chroma)[1] > CHROMA * max(dark, lighter):
            for index in (1, 2, 3):
                for is_light, score in zip((False, True), _separation(plane(small, index))):
                    best[is_light] = max(best[is_light], (score, index))
    (dark, _), (lighter, _) = best[False], best[True]
    if max(dark, lighter) < PROBE_CLEAR:  # the probe saw only paper (digits too small for it): the grey plane
        best = {False: (dark, 0), True: (lighter, 0)}
    if known is not None:
        is_light = known
    elif max(dark, lighter) < PROBE_CLEAR or min(dark, lighter) > 0.9 * max(dark, lighter):
        # No clear winner: the paper is the majority of pixels, and ink on it is dark unless clearly lighter.
        low, middle, high = np.percentile(plane(small, 0), [1, 50, 99])
        is_light = bool(high - middle > 2 * max(middle - low, 1))  # 1: a grey level, the quantisation step
    else:
        is_light = lighter > dark
        if is_light:  # light ink is lighter than the paper: the frame's extremes lie on the light side of its
            # middle (an opening also lifts paper closed in by thick dark strokes, which is no light ink)
            low, middle, high = np.percentile(plane(small, best[True][1]), [1, 50, 99])
            is_light = bool(high - middle > middle - low)
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
    full = cv2.resize(background, (w, h), interpolation=cv2.INTER_LINEAR).astype(np.float32)
    if factor > 1 and _has_step(background):
        # Enlarged, a sharp shadow's step leans over its dark side, where the paper would look brighter than it
        # is and the step would pass for ink. A closing at full size (a rectangle: cheap) keeps the step sharp.
        side = max(3, int(round(kernel_px)) | 1)
        sharp = cv2.morphologyEx(plane, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (side, side)))
        full = np.minimum(full, sharp.astype(np.float32))
    return full, background


def _has_step(background: np.ndarray) -> bool:
    """Does the paper's brightness (a reduced copy) change somewhere between neighbouring pixels by more than the
    faintest ink differs from its paper? Light falls off smoothly; only a sharp shadow's edge steps like that."""
    import cv2

    steps = cv2.morphologyEx(background, cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8))
    return bool(np.any(steps > STEP * np.maximum(background, DARK_PAPER)))


def relative_contrast(plane: np.ndarray, background: np.ndarray) -> np.ndarray:
    """How much darker than its paper each pixel is, as a fraction of the paper: shadows cancel out."""
    import cv2

    ratio = cv2.divide(cv2.subtract(background, plane), cv2.max(background, DARK_PAPER))
    return np.clip(ratio, 0.0, 1.0, out=ratio)


def _max_filter(image: np.ndarray, size: int) -> np.ndarray:
    """The maximum over ``size`` x ``size`` windows, on a copy pooled by cells of ``size / 8`` (small, cheap)."""
    import cv2

    block = max(1, size // 8)
    k = max(1, size // block)
    return cv2.dilate(pool(image, block), cv2.getStructuringElement(cv2.MORPH_RECT, (k, k)))


def _hysteresis(contrast: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Labelled ink (0 is paper), its components' stats (as OpenCV gives them) and the weak threshold map:
    weak ink connected to strong ink, where strong is judged against the ink nearby. None when there is no ink."""
    import cv2

    h, w = contrast.shape
    sample = contrast[:: max(1, h // 50), :: max(1, w // 50)]
    paper = float(np.median(sample))  # the paper's own contrast: above zero, as its background is an upper envelope
    noise = 1.4826 * float(np.median(np.abs(sample - paper)))
    floor = max(NOISE_SIGMAS * noise, WEAK_INK * MIN_INK_CONTRAST)
    if float(contrast.max()) < MIN_INK_CONTRAST:
        return None
    # The strongest ink within a quarter of the frame: a dark desk at the edge does not hide a pen stroke.
    nearby = _max_filter(contrast, max(3, min(h, w) // 4))
    candidates = sample[sample > floor]
    everywhere = float(np.percentile(candidates, 95)) if candidates.size else 0.0
    strong_small = np.maximum(STRONG_INK * nearby, max(MIN_INK_CONTRAST, paper + STRONG_SIGMAS * noise,
                                                       SEEN_THROUGH * everywhere))
    strong = cv2.resize(strong_small, (w, h), interpolation=cv2.INTER_LINEAR)
    if WEAK_INK * float(strong_small.min()) >= floor:  # the floor never binds: scaling commutes with resizing
        weak = WEAK_INK * strong
    else:
        weak = cv2.resize(np.maximum(WEAK_INK * strong_small, floor), (w, h), interpolation=cv2.INTER_LINEAR)
    count, labels, stats = components(cv2.compare(contrast, weak, cv2.CMP_GT))
    keep = np.zeros(count, bool)
    keep[labels[contrast > strong]] = True
    keep[0] = False
    if keep[1:].all():  # the common case: every weak stroke holds strong ink, and the labels stand as they are
        return labels, stats, weak
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
    height = digit_height(stats, stroke)
    if height is None or stroke < COARSE_STROKE or height < COARSE_HEIGHT:
        return False
    w, h = stats[:, 2], stats[:, 3]
    digits = (h >= SPECK_HEIGHT * height) & (h <= MAX_DIGIT_HEIGHT * height) & (w <= 3 * h)
    return not (w[digits] > SPLIT_ASPECT * h[digits]).any()  # a blob wider than a digit: digits touch there


def find_ink(frame: np.ndarray, light: bool | None = None, grey: np.ndarray | None = None) -> Ink | None:
    """Measure the frame's ink (see the module docstring, steps 1-4); None when there is none. ``light``: whether
    the ink is known to be lighter than its background (None: the frame says); ``grey``: the frame's grey plane,
    when known already."""
    import cv2

    image = as_image(frame)
    index, light = choose_plane(image, light)
    ink_plane = grey if index == 0 and grey is not None else plane(image, index)
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
    stroke = component_strokes(*found[:2])
    if half is not work and _coarse_enough(found[1][1:], stroke):
        scale *= half.shape[0] / work.shape[0]  # the half-size copy shows these digits well: work there
        work = half
    else:
        stroke *= work.shape[0] / half.shape[0]
    background, contrast, found = _measure(work, min(min(work.shape) / 6, max(3.0, 6 * stroke)))
    if found is None:
        return None
    labels, stats, weak = found
    stroke = component_strokes(labels, stats)
    return Ink(ink_plane, background, contrast, labels, stats, weak, stroke, scale)


def ink_image(image: np.ndarray, light: bool | None = None) -> np.ndarray | None:
    """The ink of a small image holding one digit, as the finder measures it (paper 0, ink bright; dust smaller
    than a stroke's square left out), ready for ``digit.normalize_digit``; None when it holds no ink."""
    ink = find_ink(image, light)
    if ink is None:
        return None
    big = np.flatnonzero(ink.stats[:, 4] >= ink.stroke ** 2)
    keep = np.isin(ink.labels, big[big > 0])
    return stroke_ink(ink.contrast, ink.weak, keep, ink.stroke)


def stroke_ink(contrast: np.ndarray, weak: np.ndarray, keep: np.ndarray, stroke: float) -> np.ndarray:
    """A digit's ink as the classifier sees it: the contrast over half the weak threshold where ``keep``, its
    strokes' cores brought to one level, as MNIST's are: each pixel is divided by the strongest ink in the square
    reaching a stroke width (``stroke`` pixels) around it, or by ``STRONG_INK`` of the digit's strongest ink where
    that is more. A pen pressed lighter along a stroke, or light falling unevenly across a digit, changes no shape;
    the strokes' soft edges stay, and fainter marks in the crop (the rests of a ruled line) stay faint. Strokes
    thinner than ``RESOLVED_STROKE`` keep their grey levels."""
    import cv2

    values = np.subtract(contrast, weak / 2, dtype=np.float32)
    values[~keep] = 0
    np.maximum(values, 0, out=values)
    strongest = float(values.max())
    if stroke < RESOLVED_STROKE or strongest <= 0:  # a thin stroke's grey level says how thin it is
        return values
    k = 2 * int(np.ceil(stroke)) + 1  # a square window: separable, ten times as fast as a disc on a bold digit
    level = cv2.dilate(values, cv2.getStructuringElement(cv2.MORPH_RECT, (k, k)))
    return np.divide(values, np.maximum(level, STRONG_INK * strongest, out=level), out=values)
