"""What the finder gives: digits (box, normalised crop, label) and the numbers they group into, line by line."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class Detection:
    box: tuple[int, int, int, int]  # x, y, w, h in frame pixels
    digit: np.ndarray  # 28x28 uint8, white on black, MNIST-normalised
    label: int | None = None
    confidence: float | None = None
    ink: tuple | None = field(default=None, repr=False)  # (mask, x, y, scale): its ink on the finder's working copy

    def outline(self) -> np.ndarray | None:
        """The convex hull of its ink, (N, 2) float32 in frame pixels; None when unknown."""
        import cv2

        if self.ink is None:
            return None
        mask, x, y, scale = self.ink
        points = cv2.findNonZero(mask)
        if points is None:
            return None
        return (cv2.convexHull(points).reshape(-1, 2).astype(np.float32) + (x + 0.5, y + 0.5)) / scale

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


@dataclass
class View:
    """What the finder saw of one image it read: the whole frame, or one sheet of paper flattened."""

    image: np.ndarray  # what was read (the frame, or the flat page), BGR or grey
    ink: np.ndarray | None = None  # uint8 mask of the ink, the image's size
    lines: np.ndarray | None = None  # uint8 mask of the ink removed as ruled, grid or long lines
    candidates: list[tuple[tuple[int, int, int, int], str, int | None]] = field(default_factory=list)
    # (box in the image's pixels, why it was kept or dropped, the digit read or None)


@dataclass
class Trace:
    """Every stage of one frame, for ``predict --debug``: the sheets found and each view's ink, lines and
    candidates with the reason each was kept or dropped."""

    frame: np.ndarray
    pages: list = field(default_factory=list)  # page.Page of each sheet found
    views: list[View] = field(default_factory=list)
    dropped: list[tuple[tuple[int, int, int, int], str]] = field(default_factory=list)  # in the frame's pixels

    def view(self, image: np.ndarray) -> View:
        self.views.append(View(image))
        return self.views[-1]
