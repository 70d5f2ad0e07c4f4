"""From pieces of ink to digits: pieces that may be one digit are clustered; with a classifier, every plausible way
to read a cluster (pieces joined, apart, or a wide blob split as touching digits) is read, and the most probable
reading wins. Each digit is normalised by ``digit.normalize_digit``, the function training uses.
"""

from __future__ import annotations

import math

import numpy as np

from edgedigits.digit import normalize_digit
from edgedigits.reader.vision.ink import Ink, relative_contrast, stroke_ink
from edgedigits.reader.vision.measures import (
    MAX_ASPECT,
    MAX_DIGIT_HEIGHT,
    MIN_STROKES_TALL,
    SPECK_HEIGHT,
    SPLIT_ASPECT,
    weighted_median,
)
from edgedigits.reader.vision.results import Detection

CROP_HEIGHT = 40  # a digit this tall on the working copy is cut there; a smaller one from the full-size input
                  # (normalisation draws digits 20 px tall: twice that keeps their anti-aliasing)
# 6. Digits
STACK_GAP = 0.35  # pieces above one another may be one digit (a 5's bar, a 9's stem) across a third of a digit
JOIN_GAP = 1.5  # pieces side by side closer than 1.5 stroke widths may be one digit broken by the threshold...
FRAGMENT = 0.5  # ...when one is under half the digit height; taller pieces side by side are two digits...
LEVEL = 0.3  # ...when they stand level: two digits of a line share a top and a baseline within 30% of its
             # height (a 4's hook beside its stem does not)
SOLID_FILL = 0.9  # a box this full of ink and wider than 3 strokes is a blot, not a digit
EDGE_SUBJECT = 0.5  # a blob cut by the frame's edge is kept only if it spans half the frame (a close-up)...
EDGE_CONTACT = 0.25  # ...and meets the edge along under a quarter of its size: a stroke runs off, a desk lies along
EDGE_TIP = 1.0  # ...or, as tall as the line's digits, meets it along at most one stroke width: a tip
MAX_CLUSTER = 8  # pieces read together at most; a bigger cluster is read piece by piece
STACKED = 0.5  # two digits of a reading never overlap across half the narrower's width while sharing rows
DIGIT_COST = 0.99  # each digit of a reading costs 1%: equally likely readings within the int8 model's
                   # resolution (1/256 per output) go to the one with fewer digits
JOIN_COST = 0.9  # two tall pieces side by side read as one digit (a 4's hook and its stem) cost 10%: they are
                 # two digits (a 1 beside a 6) unless one digit is clearly the more probable reading


def _gap(a, b) -> float:
    """Chebyshev distance between two boxes (negative when they overlap on both axes)."""
    gx = max(a[0], b[0]) - min(a[0] + a[2], b[0] + b[2])
    gy = max(a[1], b[1]) - min(a[1] + a[3], b[1] + b[3])
    return max(gx, gy)


def _two_digits(a, b, digit_height: float) -> bool:
    """Do boxes ``a`` and ``b``, side by side, stand as two digits of a line: sharing a top and a bottom, or
    together wider than tall (a digit is not)?"""
    level = (abs(a[1] - b[1]) <= LEVEL * digit_height
             and abs(a[1] + a[3] - b[1] - b[3]) <= LEVEL * digit_height)
    width = max(a[0] + a[2], b[0] + b[2]) - min(a[0], b[0])
    height = max(a[1] + a[3], b[1] + b[3]) - min(a[1], b[1])
    return level or width > height


def _may_join(a, b, stroke: float, digit_height: float) -> bool:
    """Could pieces ``a`` and ``b`` (boxes) be parts of one digit?"""
    overlap_x = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    if overlap_x > 0.5 * min(a[2], b[2]):  # stacked
        gap_y = max(a[1], b[1]) - min(a[1] + a[3], b[1] + b[3])
        return gap_y <= STACK_GAP * digit_height
    if _gap(a, b) <= JOIN_GAP * stroke and min(a[3], b[3]) < FRAGMENT * digit_height:
        return True
    return _gap(a, b) <= STACK_GAP * digit_height and not _two_digits(a, b, digit_height)


def clusters(boxes: list[tuple], stroke: float, digit_height: float) -> list[list[int]]:
    """Connected sets of pieces that may be parts of one digit (``_may_join``)."""
    parent = list(range(len(boxes)))

    def root(i):
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    reach = max(JOIN_GAP * stroke, STACK_GAP * digit_height)
    order = sorted(range(len(boxes)), key=lambda i: boxes[i][0])
    for n, i in enumerate(order):
        for j in order[n + 1 :]:
            if boxes[j][0] - (boxes[i][0] + boxes[i][2]) > reach:
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


class Finder:
    """One frame's digits: pieces -> clusters -> candidate digits -> the most probable reading."""

    def __init__(self, ink: Ink, labels: np.ndarray, stats: np.ndarray, digit_height: float):
        self.ink, self.labels, self.stats, self.height = ink, labels, stats, digit_height
        self.crops: list[Detection] = []
        self.priors: dict[int, float] = {}  # crop index -> prior, where not 1
        self.dropped: list[tuple[tuple[int, int, int, int], str]] = []  # (box in input pixels, why)

    def box(self, ids) -> tuple[int, int, int, int]:
        s = self.stats[list(ids)]
        x0, y0 = int(s[:, 0].min()), int(s[:, 1].min())
        x1, y1 = int((s[:, 0] + s[:, 2]).max()), int((s[:, 1] + s[:, 3]).max())
        return x0, y0, x1 - x0, y1 - y0

    def _tall_pairs(self, ids):
        """Pairs of pieces taller than a fragment that stand side by side (do not stack)."""
        tall = [self.stats[i] for i in ids if self.stats[i, 3] >= FRAGMENT * self.height]
        for n, a in enumerate(tall):
            for b in tall[n + 1 :]:
                if min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]) <= 0.5 * min(a[2], b[2]):
                    yield a, b

    def side_by_side(self, ids) -> bool:
        """Do these pieces hold two that stand as two digits of a line (``_two_digits``), never one?"""
        return any(_two_digits(a, b, self.height) for a, b in self._tall_pairs(ids))

    def prior(self, ids) -> float:
        """How likely these pieces are one digit before they are read: ``JOIN_COST`` when they hold two tall
        pieces side by side."""
        return JOIN_COST if any(True for _ in self._tall_pairs(ids)) else 1.0

    def why_not(self, box, ids) -> str | None:
        """Why these pieces, in this box, cannot be one digit; None when they can."""
        x, y, w, h = box
        stroke = self.ink.stroke
        if w > MAX_ASPECT * h:
            return "line"
        if not self.shaped(box):
            return "speck"
        if len(ids) > 1 and h > MAX_DIGIT_HEIGHT * max(self.height, float(self.stats[list(ids), 3].max())) \
                and _rows_apart(self.stats[list(ids)]):
            return "too tall"  # pieces stacked into more than a digit's height (each judged by the taller), rows
            # apart: the digits of two lines share no row, a digit's separate bar (a 5's) shares some with its body
        ink = float(self.stats[list(ids), 4].sum())
        if ink < 0.5 * stroke * h:  # sparse: dots spread over a box
            return "speck"
        if ink > SOLID_FILL * w * h and w > 3 * stroke:
            return "blot"
        return None

    def shaped(self, box) -> bool:
        """Is a box of this shape and size a digit's, in this frame?"""
        w, h = box[2], box[3]
        return w <= MAX_ASPECT * h and h >= MIN_STROKES_TALL * self.ink.stroke and h >= SPECK_HEIGHT * self.height

    def inside(self, box, ids) -> bool:
        """Not cut by the frame's edge; or a close-up whose stroke runs off it (not a desk lying along it); or a
        digit as tall as the line's whose one stroke's tip touches it."""
        x, y, w, h = box
        fh, fw = self.labels.shape
        if x > 0 and y > 0 and x + w < fw and y + h < fh:
            return True
        labels = self.labels
        border = np.concatenate([labels[0], labels[-1], labels[:, 0], labels[:, -1]])
        contact = int(np.isin(border, [i + 1 for i in ids]).sum())
        if contact <= EDGE_TIP * self.ink.stroke and h >= (1 - LEVEL) * self.height:
            return True
        return (h >= EDGE_SUBJECT * fh or w >= EDGE_SUBJECT * fw) and contact <= EDGE_CONTACT * max(w, h)

    def candidate(self, ids) -> list[list[int]]:
        """The ways to read these pieces, each a list of crop indices: as one digit, and as 2 or 3 touching
        digits when the blob is wide. Empty when they cannot be a digit. ``priors`` holds each crop's ``prior``."""
        whole = self.box(ids)
        options = []
        if not self.inside(whole, ids):
            self.dropped.append((self._to_input(whole), "edge"))
            return options
        region = self.labels[whole[1] : whole[1] + whole[3], whole[0] : whole[0] + whole[2]]
        region = (region == ids[0] + 1 if len(ids) == 1 else np.isin(region, [i + 1 for i in ids])).astype(np.uint8)
        reason = self.why_not(whole, ids)
        if reason is None:
            options.append([self._crop(region, whole, (0, 0, whole[2], whole[3]))])
            self.priors[options[-1][0]] = self.prior(ids)
        elif len(ids) == 1:  # a group's reasons are many and say little: a lone piece's is the one to show
            self.dropped.append((self._to_input(whole), reason))
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
            crop = stroke_ink(contrast, weak, keep > 0, ink.stroke)
        else:  # a small digit of a big photo: cut it at full resolution
            x_in, y_in, w_in, h_in = box_in
            size = (max(1, w_in), max(1, h_in))
            full = ink.plane[y_in : y_in + h_in, x_in : x_in + w_in].astype(np.float32)
            background = cv2.resize(ink.background[y : y + ph, x : x + pw], size, interpolation=cv2.INTER_LINEAR)
            grow = cv2.dilate(cv2.resize(keep, size, interpolation=cv2.INTER_NEAREST),
                              np.ones((3, 3), np.uint8), iterations=max(1, int(round(1 / ink.scale))))
            contrast = relative_contrast(full, background)
            weak = cv2.resize(ink.weak[y : y + ph, x : x + pw], size, interpolation=cv2.INTER_LINEAR)
            crop = stroke_ink(contrast, weak, (grow > 0) & (contrast > weak), ink.stroke / ink.scale)
        self.crops.append(Detection(box_in, normalize_digit(crop), ink=(own, x, y, ink.scale)))
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


def _rows_apart(stats: np.ndarray) -> bool:
    """Do these pieces (their stats rows) leave an empty row between them?"""
    bottom = None
    for top, height in sorted(stats[:, 1:4:2].tolist()):
        if bottom is not None and top > bottom:
            return True
        bottom = top + height if bottom is None else max(bottom, top + height)
    return False


def alone(groups: dict) -> list[int]:
    """Crop indices of a cluster's pieces read one by one, where they read as a digit at all."""
    return [i for (start, end), options in groups.items() if end == start + 1 and options for i in options[0]]


def _stacked(a, b) -> bool:
    """Two boxes (x, y, w, h) drawn over each other: sharing rows, and columns across ``STACKED`` of the
    narrower one's width."""
    across = min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0])
    down = min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1])
    return down > 0 and across > STACKED * min(a[2], b[2])


def best_reading(cluster: list[int], groups: dict, crops: list[Detection], priors: dict | None = None) -> list[int]:
    """The partition of a cluster's pieces (left to right) into digits with the highest joint probability
    (each crop's confidence times its prior, from ``priors``, 1 if absent)."""
    priors = priors or {}
    n = len(cluster)
    best = [(0.0, [])] + [(-math.inf, [])] * n
    for end in range(1, n + 1):
        for start in range(end):
            for option in groups.get((start, end), []):
                if best[start][1] and _stacked(crops[best[start][1][-1]].box, crops[option[0]].box):
                    continue  # digits of a number stand side by side, not drawn over each other
                score = best[start][0] + sum(math.log(max(crops[i].confidence, 1e-6) * DIGIT_COST * priors.get(i, 1.0))
                                             for i in option)
                if score > best[end][0]:
                    best[end] = (score, best[start][1] + option)
    if best[n][0] == -math.inf:  # no full reading: keep the pieces that read alone
        return alone(groups)
    return best[n][1]


def drop_specks(detections: list[Detection]) -> list[Detection]:
    """Digits far smaller than the frame's typical digit (ink-weighted) are dots and dirt."""
    if len(detections) < 2:
        return detections
    heights = [d.box[3] for d in detections]
    typical = weighted_median(heights, [d.box[2] * d.box[3] for d in detections])
    return [d for d in detections if d.box[3] >= SPECK_HEIGHT * typical]
