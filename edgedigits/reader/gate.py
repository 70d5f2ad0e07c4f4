"""The motion gate: a camera that rests when nothing changes.

Each frame is compared with the last frame that was read, on a grey copy five times smaller. Before comparing,
the gate takes out what moves the whole picture: a gain and offset (auto exposure, a cloud) and, when the frames
differ, a shift (the camera shaken, found by phase correlation). Then each pixel is held against the other frame's
3x3 neighbourhood, with a margin of the noise measured on the frame itself: a shift of up to a pixel of the copy
changes nothing, ink that comes or goes does. Then:

- nothing changed: the last reading stands (its boxes moved by the shift);
- a few places changed (a digit written or erased, a hand): only the lines there are read again, and the rest of
  the reading is kept;
- much changed, the picture moved far, or ``refresh`` seconds passed: the whole frame is read again.
"""

from __future__ import annotations

import time
from copy import copy as shallow
from dataclasses import dataclass, field

import numpy as np

from edgedigits.reader.pipeline import FrameReading
from edgedigits.reader.vision import group_numbers

REDUCTION = 5  # frame pixels per pixel of the compared copy, across and down
MIN_WIDTH = 64  # pixels: the smallest copy
NOISE_K = 6.0  # a pixel changed when it differs by this many noise deviations (robust, measured per frame)
NOISE_FLOOR = 0.5  # grey levels: the deviation of a copy with no noise at all (its rounding)
ALIASING = 0.25  # of a 3x3 neighbourhood's range: how much a sub-pixel shift changes a thin stroke's darkness
MIN_SHIFT = 0.5  # pixels of the copy: a smaller shift is absorbed by the neighbourhood test
MIN_AREA = 3  # pixels of the copy: a smaller changed spot is noise
FULL_SHARE = 0.35  # a change (or the band re-read for it) over this share of the frame: read it all
MOVED = 0.04  # a shift over this share of the frame's width: the page moved, read it all
GROW = 1.5  # a changed spot's band grows by this many digit heights above and below (context for the finder)
UNKNOWN_HEIGHT = 0.12  # the digit height assumed, as a share of the frame's height, before any digit is read
REFRESH = 10.0  # seconds: read the whole frame at least this often, so no error lives for ever
SETTLE = 2  # frames after a change that are read again as it was, change or not (a stroke goes on, in steps
# too small to see one by one)


@dataclass
class Change:
    kind: str  # "none", "region" or "full"
    shift: tuple[float, float] = (0.0, 0.0)  # the picture's shift since the last read frame, in frame pixels
    spots: list = field(default_factory=list)  # changed places, (x, y, w, h) in frame pixels


class MotionGate:
    """What changed since the frame last accepted (``accept``)."""

    _kernel = np.ones((3, 3), np.uint8)

    def __init__(self):
        self.ref = None  # the small copy of the last read frame
        self.scale = 1.0  # frame pixels per copy pixel

    def small(self, frame: np.ndarray) -> np.ndarray:
        """The copy compared: grey, ``REDUCTION`` times smaller, each pixel the mean of the frame's under it."""
        import cv2

        width = max(MIN_WIDTH, round(frame.shape[1] / REDUCTION))
        self.scale = frame.shape[1] / width
        grey = frame if frame.ndim == 2 else cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
        size = (width, max(8, round(frame.shape[0] / self.scale)))
        return cv2.resize(grey, size, interpolation=cv2.INTER_AREA).astype(np.float32)

    def accept(self, copy: np.ndarray, rows: tuple[int, int] | None = None) -> None:
        """``copy`` is the frame read now (only its ``rows``, from y0 to y1 in frame pixels, when only they were
        read): later frames are compared with it, so a change outside what was read stays a change."""
        if rows is not None and self.ref is not None and self.ref.shape == copy.shape:
            top, bottom = int(np.ceil(rows[0] / self.scale)), int(rows[1] / self.scale)
            copy = np.concatenate([self.ref[:top], copy[top:bottom], self.ref[bottom:]]) if bottom > top else self.ref
        self.ref = copy
        self._bounds = self._range(copy)
        self._mean, self._centred = float(copy.mean()), (copy - copy.mean()).ravel()
        self._var = float(self._centred @ self._centred) / copy.size

    def compare(self, copy: np.ndarray) -> Change:
        import cv2

        if self.ref is None or self.ref.shape != copy.shape:
            return Change("full")
        changed, shift = self._changed(copy), (0.0, 0.0)
        if cv2.countNonZero(changed) >= MIN_AREA:  # changed, or moved further than a pixel of the copy?
            (dx, dy), _ = cv2.phaseCorrelate(self.ref, copy, self._window(copy.shape))
            if np.hypot(dx, dy) > MOVED * copy.shape[1]:
                return Change("full")
            if np.hypot(dx, dy) >= MIN_SHIFT:
                back = cv2.warpAffine(copy, np.float32([[1, 0, -dx], [0, 1, -dy]]), copy.shape[::-1],
                                      flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
                changed, shift = self._changed(back), (dx * self.scale, dy * self.scale)
        if cv2.countNonZero(changed) < MIN_AREA:
            return Change("none", shift)
        count, _, stats, _ = cv2.connectedComponentsWithStats(changed, connectivity=8)
        spots = [tuple(int(v) for v in s[:4]) for s in stats[1:count] if s[cv2.CC_STAT_AREA] >= MIN_AREA]
        if not spots:
            return Change("none", shift)
        if sum(w * h for _, _, w, h in spots) > FULL_SHARE * copy.size:
            return Change("full", shift)
        s = self.scale
        return Change("region", shift, [(int(x * s), int(y * s), int(np.ceil(w * s)), int(np.ceil(h * s)))
                                         for x, y, w, h in spots])

    def _range(self, image: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """What each pixel's 3x3 neighbourhood spans, widened by ``ALIASING`` of that span: (low, high)."""
        import cv2

        low, high = cv2.erode(image, self._kernel), cv2.dilate(image, self._kernel)
        slack = ALIASING * (high - low)
        return low - slack, high + slack

    def _changed(self, copy: np.ndarray) -> np.ndarray:
        """Where ``copy``, brought to the light of the frame accepted, shows ink that frame does not, or lost ink it
        had (uint8, 1 where changed). Each pixel is held against the other's neighbourhood range (``_range``), by
        more than the noise: a shift of up to a pixel of the copy changes nothing (though it changes how dark a
        thin stroke's pixels are), while ink that comes or goes does."""
        mean = float(copy.mean())
        centred = copy - mean
        gain = float(self._centred @ centred.ravel()) / copy.size / self._var if self._var > 1e-6 else 1.0
        if gain <= 0.05:  # a frame unlike the last one at all (a lens covered): read it
            return np.ones(copy.shape, np.uint8)
        lit = centred / gain + self._mean  # the copy under the accepted frame's light
        residual = (lit[::3, ::3] - self.ref[::3, ::3]).ravel()  # a sample is enough to measure the noise
        noise = max(NOISE_FLOOR, 1.4826 * float(np.median(np.abs(residual - float(np.median(residual))))))
        margin = NOISE_K * noise
        low, high = self._bounds
        came = (lit < low - margin) | (lit > high + margin)
        low, high = self._range(lit)
        went = (self.ref < low - margin) | (self.ref > high + margin)
        return (came | went).view(np.uint8)

    _windows: dict = {}

    @classmethod
    def _window(cls, shape) -> np.ndarray:
        import cv2

        if shape not in cls._windows:
            cls._windows[shape] = cv2.createHanningWindow(shape[::-1], cv2.CV_32F)
        return cls._windows[shape]


class GatedReader:
    """Read frames through the gate: ``read(frame, roi)`` is the full reader (``pipeline.read_frame`` with its
    options), called on the whole frame or on the bands that changed; ``settle(detections)`` (a ``Smoother``'s
    update) sees every reading made. Returns (reading, "none"|"region"|"full")."""

    def __init__(self, read, refresh: float = REFRESH, clock=time.monotonic, settle=None):
        self.read, self.refresh, self.clock, self.settle = read, refresh, clock, settle
        self.gate = MotionGate()
        self.last = None  # the reading of the last read frame
        self.read_at = -np.inf
        self.settling = (0, None)  # frames still to read again after a change, and where (None: whole)

    def __call__(self, frame: np.ndarray, now: float | None = None):
        now = self.clock() if now is None else now
        copy = self.gate.small(frame)
        due = self.last is None or now - self.read_at >= self.refresh
        change = Change("full") if due else self.gate.compare(copy)
        moved = change.shift != (0.0, 0.0)  # a band read would mix this frame's rows with the last one's: read it all
        band = self._band(change, frame.shape) if change.kind == "region" and not moved else None
        left, where = self.settling
        if due:
            self.settling = (0, None)
        elif change.kind == "none" and left:
            change, band = Change("full" if where is None else "region", change.shift), where
            self.settling = (left - 1, where)
        elif change.kind != "none":
            self.settling = (SETTLE, band)
        if change.kind == "none":
            return self._moved(change.shift), "none"
        if band is None:
            fresh, kind = self.read(frame, None), "full"
            detections = fresh.detections
            self.read_at = now
        else:
            fresh, kind = self.read(frame, band), "region"
            y0, y1 = band[1], band[1] + band[3]
            kept = [d for d in self._moved(change.shift).detections if d.box[1] + d.box[3] <= y0 or d.box[1] >= y1]
            detections = sorted(kept + fresh.detections, key=lambda d: (d.box[1], d.box[0]))
        if self.settle is not None:
            detections = self.settle(detections)
        reading = FrameReading(detections, group_numbers(detections), fresh.ms)
        self.gate.accept(copy, None if band is None else (band[1], band[1] + band[3]))
        self.last = reading
        return reading, kind

    def _band(self, change: Change, shape) -> tuple | None:
        """The frame's full width over the changed rows, grown to whole lines of digits: (x, y, w, h), or None when
        the band is too large to be worth it (read it all)."""
        height, width = shape[:2]
        heights = [d.box[3] for d in self.last.detections]
        grow = GROW * (float(np.median(heights)) if heights else UNKNOWN_HEIGHT * height)
        y0 = max(0, min(y for _, y, _, _ in change.spots) - grow)
        y1 = min(height, max(y + h for _, y, _, h in change.spots) + grow)
        for d in self.last.detections:  # a digit the band cuts is read whole: the band takes in its line
            if d.box[1] < y1 and d.box[1] + d.box[3] > y0:
                y0, y1 = min(y0, d.box[1] - grow / 2), max(y1, d.box[1] + d.box[3] + grow / 2)
        y0, y1 = int(max(0, y0)), int(min(height, y1))
        if y1 - y0 > FULL_SHARE * height * 2 or y1 <= y0:
            return None
        return (0, y0, width, y1 - y0)

    def _moved(self, shift) -> FrameReading:
        """The last reading, its boxes moved by ``shift`` (the picture shook; the digits are the same)."""
        dx, dy = round(shift[0]), round(shift[1])
        if not (dx or dy):
            return self.last
        moved = []
        for d in self.last.detections:
            d = shallow(d)
            d.box = (d.box[0] + dx, d.box[1] + dy, d.box[2], d.box[3])
            moved.append(d)
        return FrameReading(moved, group_numbers(moved), self.last.ms)
