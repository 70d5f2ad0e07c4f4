"""From a camera frame to normalised digits: find the ink, cut out each digit, group digits into numbers.

Pipeline: grayscale -> denoise -> polarity (dark ink on paper, or light on a dark ground) -> flatten the
background (uneven light, shadows) -> Otsu threshold with a contrast floor -> remove ruled lines ->
external contours -> filters (size, aspect, fill, border, specks) -> merge the strokes of one digit ->
split touching digits -> normalise each the way MNIST was built (``preprocess.normalize_digit``).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from edgedigits.preprocess import normalize_digit

MIN_CONTRAST = 28  # grey levels of ink above the background; below this nothing is ink (empty frames)


@dataclass
class Params:
    min_height: float = 0.04  # of the frame height
    max_height: float = 0.9
    min_pixels: int = 10  # absolute minimum digit height in pixels
    max_aspect: float = 1.6  # w/h above this is a line or several digits
    min_fill: float = 0.06
    max_fill: float = 0.9
    merge_gap: float = 0.35  # vertical gap, relative to height, under which stacked strokes join
    split_aspect: float = 1.15  # w/h above this: try to split into several digits


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

    def to_json(self) -> dict:
        return {"text": self.text, "box": [int(v) for v in self.box]}


def to_gray(frame: np.ndarray) -> np.ndarray:
    import cv2

    frame = np.asarray(frame)
    if frame.ndim == 3 and frame.shape[2] == 4:
        return cv2.cvtColor(frame, cv2.COLOR_BGRA2GRAY)
    if frame.ndim == 3 and frame.shape[2] == 3:
        return cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
    if frame.ndim == 3 and frame.shape[2] == 1:
        frame = frame[..., 0]
    if frame.ndim != 2:
        raise ValueError(f"expected a grayscale or BGR frame, got shape {frame.shape}")
    if frame.dtype != np.uint8:
        frame = np.clip(frame, 0, 255).astype(np.uint8)
    return frame


def ink_map(gray: np.ndarray) -> np.ndarray:
    """Ink strength (uint8, bright = ink) with the background flattened, whatever the polarity."""
    import cv2

    h, w = gray.shape
    smooth = cv2.GaussianBlur(gray, (3, 3), 0)
    # The background is what most pixels are: compare the median with the extremes to find the polarity.
    median = float(np.median(smooth[:: max(1, h // 120), :: max(1, w // 160)]))
    dark_ink = median >= (float(smooth.min()) + float(smooth.max())) / 2
    if dark_ink:
        smooth = 255 - smooth
    # Background: a grey opening larger than any stroke, on a downscaled copy for speed.
    factor = max(1, min(h, w) // 120)
    small = cv2.resize(smooth, (max(1, w // factor), max(1, h // factor)), interpolation=cv2.INTER_AREA)
    k = max(3, (min(small.shape) // 8) | 1)
    kernel = cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (k, k))
    background = cv2.morphologyEx(small, cv2.MORPH_OPEN, kernel)
    background = cv2.blur(background, (k, k))
    background = cv2.resize(background, (w, h), interpolation=cv2.INTER_LINEAR)
    return cv2.subtract(smooth, background)


def binarize(ink: np.ndarray) -> np.ndarray:
    import cv2

    if int(ink.max()) < MIN_CONTRAST:
        return np.zeros_like(ink)
    otsu, _ = cv2.threshold(ink, 0, 255, cv2.THRESH_BINARY + cv2.THRESH_OTSU)
    _, mask = cv2.threshold(ink, max(otsu, MIN_CONTRAST), 255, cv2.THRESH_BINARY)
    return mask


def remove_lines(mask: np.ndarray) -> np.ndarray:
    """Drop long horizontal and vertical runs (ruled paper, table lines, frame edges)."""
    import cv2

    h, w = mask.shape
    half = cv2.resize(mask, (max(1, w // 2), max(1, h // 2)), interpolation=cv2.INTER_AREA)  # lines survive
    half = (half > 0).astype(np.uint8) * 255
    lines = np.zeros_like(half)
    for size in ((max(8, w // 10), 1), (1, max(8, h // 6))):
        kernel = cv2.getStructuringElement(cv2.MORPH_RECT, size)
        lines |= cv2.morphologyEx(half, cv2.MORPH_OPEN, kernel)
    if not lines.any():
        return mask
    lines = cv2.resize(lines, (w, h), interpolation=cv2.INTER_NEAREST)
    lines = cv2.dilate(lines, cv2.getStructuringElement(cv2.MORPH_RECT, (3, 3)))
    cleaned = cv2.subtract(mask, lines)
    # Re-close the strokes a line crossed.
    return cv2.morphologyEx(cleaned, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (1, 5)))


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


def _merge_strokes(groups: list[tuple[tuple, list[int]]], p: Params) -> list[tuple[tuple, list[int]]]:
    """Join components that overlap in x and sit on top of each other (the bar of a 5, a 4 in two strokes)."""
    changed = True
    while changed:
        changed = False
        for i in range(len(groups)):
            for j in range(i + 1, len(groups)):
                a, b = groups[i][0], groups[j][0]
                overlap_x = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
                narrow = min(a[2], b[2])
                gap_y = max(a[1], b[1]) - min(a[1] + a[3], b[1] + b[3])
                tall = max(a[3], b[3])
                merged = _union(a, b)
                if (overlap_x > 0.5 * narrow and gap_y < p.merge_gap * tall
                        and merged[3] <= 1.6 * tall and merged[2] <= 1.2 * merged[3]):
                    groups[i] = (merged, groups[i][1] + groups[j][1])
                    del groups[j]
                    changed = True
                    break
            if changed:
                break
    return groups


def _split(mask: np.ndarray, box, count: int) -> list[tuple[int, int, int, int]]:
    """Cut a blob into ``count`` digits at the weakest columns near the evenly spaced cuts."""
    x, y, w, h = box
    columns = (mask[y : y + h, x : x + w] > 0).sum(0).astype(np.float32)
    cuts = [0]
    for k in range(1, count):
        centre = int(k * w / count)
        window = max(2, int(0.25 * w / count))
        lo, hi = max(cuts[-1] + 2, centre - window), min(w - 2, centre + window)
        if hi <= lo:
            continue
        cuts.append(lo + int(np.argmin(columns[lo:hi])))
    cuts.append(w)
    parts = []
    for a, b in zip(cuts[:-1], cuts[1:]):
        cols = np.nonzero((mask[y : y + h, x + a : x + b] > 0).any(0))[0]
        rows = np.nonzero((mask[y : y + h, x + a : x + b] > 0).any(1))[0]
        if len(cols) and len(rows):
            parts.append((x + a + int(cols[0]), y + int(rows[0]), int(cols[-1] - cols[0] + 1),
                          int(rows[-1] - rows[0] + 1)))
    return parts if len(parts) == count else []


def _split_options(mask: np.ndarray, box, p: Params) -> list[list[tuple[int, int, int, int]]]:
    """Ways to read a blob: whole, or (when wide) as 2 or 3 touching digits. The classifier picks."""
    x, y, w, h = box
    options = [[box]]
    if w > p.split_aspect * h:
        for count in (2, 3):
            if w >= count * 0.35 * h:
                parts = _split(mask, box, count)
                if parts:
                    options.append(parts)
    return options


def _choose(options: list[list[Detection]], classifier) -> list[Detection]:
    """Label every option and keep the one whose least confident digit is the most confident."""
    if len(options) == 1 and classifier is None:
        return options[0]
    flat = [d for option in options for d in option]
    probs = classifier.predict(np.stack([d.digit for d in flat]))
    for det, row in zip(flat, probs):
        det.label, det.confidence = int(row.argmax()), float(row.max())
    return max(options, key=lambda option: (min(d.confidence for d in option), -len(option)))


def find_digits(frame: np.ndarray, params: Params | None = None, classifier=None) -> list[Detection]:
    """Boxes and MNIST-normalised 28x28 crops of the handwritten digits in ``frame`` (gray or BGR).

    With a ``classifier`` the digits come back labelled, and wide blobs are read whole or as touching
    digits, whichever the classifier is surer of; without one, wide blobs are split by shape alone.
    """
    import cv2

    p = params or Params()
    gray = to_gray(frame)
    h, w = gray.shape
    if h < 8 or w < 8:
        return []
    ink = ink_map(gray)
    mask = remove_lines(binarize(ink))
    mask = cv2.morphologyEx(mask, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_ELLIPSE, (3, 3)))
    contours, _ = cv2.findContours(mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    min_h = max(p.min_pixels, p.min_height * h)
    groups = []
    for i, contour in enumerate(contours):
        x, y, bw, bh = cv2.boundingRect(contour)
        if bh < 0.35 * min_h or bw * bh < 6:  # specks; strokes of a bigger digit are kept for merging
            continue
        groups.append(((x, y, bw, bh), [i]))
    groups = _merge_strokes(groups, p)
    blobs = []
    for (x, y, bw, bh), ids in groups:
        if bh < min_h or bh > p.max_height * h:
            continue
        if x <= 0 or y <= 0 or x + bw >= w or y + bh >= h:  # cut off by the frame edge
            continue
        # The group's ink: its filled outer contours, holes (0, 6, 8, 9) restored from the mask.
        outline = np.zeros((bh, bw), np.uint8)
        cv2.drawContours(outline, [contours[i] for i in ids], -1, 1, thickness=-1, offset=(-x, -y))
        component = (outline > 0) & (mask[y : y + bh, x : x + bw] > 0)
        options = []
        for boxes in _split_options(component.astype(np.uint8), (0, 0, bw, bh), p):
            option = [_crop(component, ink, x, y, box, p) for box in boxes]
            if all(option):
                options.append(option)
        if options:
            blobs.append(options)
    blobs = _drop_specks(blobs)
    if classifier is None:  # shape alone: whole, unless too wide to be one digit
        return [d for options in blobs for d in options[0]]
    return [d for options in blobs for d in _choose(options, classifier)]


def _crop(component, ink, x, y, box, p: Params) -> Detection | None:
    """The normalised digit inside ``box`` (relative to the blob at x, y), or None if it is no digit."""
    import cv2

    bx, by, bw, bh = box
    if bw > p.max_aspect * bh:  # a line, or several digits: only a split option can use it
        return None
    part = component[by : by + bh, bx : bx + bw]
    if not p.min_fill <= float(part.mean()) <= p.max_fill:
        return None
    # Grey levels of this digit only (anti-aliasing kept), its neighbours masked out.
    keep = cv2.dilate(part.astype(np.uint8), np.ones((3, 3), np.uint8)) > 0
    crop = np.where(keep, ink[y + by : y + by + bh, x + bx : x + bx + bw], 0)
    return Detection((x + bx, y + by, bw, bh), normalize_digit(crop))


def _drop_specks(blobs: list[list[list[Detection]]]) -> list[list[list[Detection]]]:
    """Blobs far smaller than the typical digit in the frame are dots and dirt, not digits."""
    if len(blobs) < 3:
        return blobs
    typical = float(np.median([options[0][0].box[3] for options in blobs]))
    return [options for options in blobs if options[0][0].box[3] >= 0.45 * typical]


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
    for line in lines:
        line.sort(key=lambda d: d.box[0])
        height = float(np.median([d.box[3] for d in line]))
        current = [line[0]]
        for det in line[1:]:
            prev = current[-1]
            gap = det.box[0] - (prev.box[0] + prev.box[2])
            if gap > 0.6 * height:
                numbers.append(_number(current))
                current = [det]
            else:
                current.append(det)
        numbers.append(_number(current))
    return numbers


def _number(digits: list[Detection]) -> Number:
    box = digits[0].box
    for d in digits[1:]:
        box = _union(box, d.box)
    text = "".join("?" if d.label is None else str(d.label) for d in digits)
    return Number(text, box, digits)


def read_frame(frame: np.ndarray, classifier, min_confidence: float = 0.0) -> tuple[list[Detection], list[Number]]:
    """Find, classify and group the digits of one frame."""
    detections = [d for d in find_digits(frame, classifier=classifier) if d.confidence >= min_confidence]
    return detections, group_numbers(detections)
