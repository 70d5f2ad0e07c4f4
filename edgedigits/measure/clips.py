"""Generated camera clips for the motion gate (``benchmarks/camera_idle.py`` and its tests): a page of
handwritten numbers (MNIST test digits) seen by a still camera at 30 fps, with sensor noise and JPEG
compression, frame after frame:

    static    nothing happens
    written   a digit is written every 5 s (stroke by stroke, in half a second); every 10 s one is erased
    hand      a hand passes over the page every 10 s
    light     the light falls slowly to 60% and comes back (auto exposure, a cloud)
    shake     the camera shakes: the picture moves by up to a few pixels

Each frame comes with the reading it shows (its truth: numbers line by line, None while a hand covers the page)
and whether the page's ink changes on it.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from edgedigits.measure.scenes import _glyph

CLIPS = ("static", "written", "hand", "light", "shake")
FPS = 30
WRITE_EVERY = 5.0  # seconds between written digits
WRITE_FRAMES = 15  # frames a digit takes to write
ERASE_EVERY = 10.0  # seconds between erased digits (the first at ERASE_EVERY / 2 + WRITE_EVERY)
ERASE_FRAMES = 8
HAND_EVERY, HAND_SECONDS = 10.0, 2.0  # a hand passes every 10 s, in 2 s
LIGHT_LOW = 0.6  # the light's lowest gain, at the clip's middle
SHAKE_PX = 3.0  # the largest shift, at 640 px wide
NOISE = 2.5  # the sensor's noise (grey levels)
NOISES = 12  # noise fields made once and cycled
JPEG_QUALITY = 85
DIGIT_HEIGHT = 0.1  # of the frame's height
PER_LINE = (4, 3)  # the numbers of a pre-written line; the written lines take 6 digits, as two numbers of 3


@dataclass
class _Digit:
    x: int
    y: int
    glyph: np.ndarray  # ink coverage, 0-1
    label: int
    line: int
    written: int = 0  # the frame its writing starts (0: there from the start)
    erased: int | None = None  # the frame its erasing starts


@dataclass
class Clip:
    name: str
    size: tuple[int, int]  # width, height
    frames: int
    digits: list = field(default_factory=list)
    paper: np.ndarray | None = None  # grey, float32
    seed: int = 0
    pace: float = 1.0  # events come this many times as often (a short clip for a test)

    def __post_init__(self):
        width, height = self.size
        rng = np.random.default_rng(self.seed + 1)
        self._noise = [rng.normal(0, NOISE, (height, width)).astype(np.float32) for _ in range(NOISES)]
        walk = np.cumsum(rng.normal(0, 0.6, (self.frames, 2)), axis=0)  # a wandering shake, kept within bounds
        self._shake = SHAKE_PX * (width / 640) * np.tanh(walk / 3)

    # ------------------------------------------------------------ what a frame shows

    def truth(self, i: int) -> str | None:
        """The reading frame ``i`` shows, as ``vision.reading`` writes it: each line's digits, lines joined by "-"
        (None: a hand covers the page)."""
        if self.name == "hand" and self._hand_at(i) is not None:
            return None
        lines: dict = {}
        for d in self.digits:
            if (d.written == 0 or d.written + WRITE_FRAMES <= i + 1) and (d.erased is None or i < d.erased):
                lines.setdefault(d.line, []).append(str(d.label))
        return "-".join("".join(lines[k]) for k in sorted(lines))

    def changing(self, i: int) -> bool:
        """Whether the page's ink changes at frame ``i``: a digit being written or erased, a hand in view (light
        and shake are not changes: the gate must see through them)."""
        return (self.name == "hand" and self._hand_at(i) is not None) or any(
            d.written <= i < d.written + WRITE_FRAMES for d in self.digits if d.written) or any(
            d.erased <= i < d.erased + ERASE_FRAMES for d in self.digits if d.erased is not None)

    def frame(self, i: int) -> np.ndarray:
        """Frame ``i``, BGR, as the camera decodes it."""
        import cv2

        return cv2.imdecode(self.encoded(i), cv2.IMREAD_COLOR)

    def encoded(self, i: int) -> np.ndarray:
        """Frame ``i`` as the camera sends it: JPEG bytes."""
        import cv2

        page = self.paper.copy()
        for d in self.digits:
            alpha = _written(d, i)
            if alpha is not None:
                h, w = alpha.shape
                region = page[d.y : d.y + h, d.x : d.x + w]
                region[:] = region * (1 - alpha) + INK * alpha
        if self.name == "light":
            page *= 1 - (1 - LIGHT_LOW) * (1 - np.cos(2 * np.pi * i / self.frames)) / 2
        if self.name == "shake":
            dx, dy = self._shake[i]
            page = cv2.warpAffine(page, np.float32([[1, 0, dx], [0, 1, dy]]), self.size, flags=cv2.INTER_LINEAR,
                                  borderMode=cv2.BORDER_REPLICATE)
        if self.name == "hand":
            self._draw_hand(page, i)
        page += self._noise[i % NOISES]
        grey = np.clip(page, 0, 255).astype(np.uint8)
        bgr = cv2.merge([grey, np.clip(grey * 1.02, 0, 255).astype(np.uint8), np.clip(grey * 1.05, 0, 255).astype(np.uint8)])
        return cv2.imencode(".jpg", bgr, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])[1]

    # ------------------------------------------------------------ the hand

    def _hand_at(self, i: int) -> float | None:
        """How far across the page the hand is at frame ``i`` (0-1), None when it is not in view."""
        every, seconds = HAND_EVERY / self.pace, HAND_SECONDS / max(1.0, self.pace / 2)
        t = i / FPS - every / 2
        if t < 0:
            return None
        phase = t % every
        return phase / seconds if phase < seconds else None

    def _draw_hand(self, page: np.ndarray, i: int) -> None:
        import cv2

        at = self._hand_at(i)
        if at is None:
            return
        width, height = self.size
        cx, cy = int(width * (1.25 - 1.5 * at)), int(height * 0.55)
        mask = np.zeros(page.shape, np.float32)
        palm = (int(height * 0.22), int(height * 0.28))
        cv2.ellipse(mask, (cx, cy), palm, 0, 0, 360, 1.0, -1)
        for k in range(4):  # fingers, pointing up and left
            fx = cx - palm[0] + int(k * palm[0] * 0.55)
            cv2.ellipse(mask, (fx, cy - palm[1]), (int(height * 0.045), int(height * 0.16)), -15, 0, 360, 1.0, -1)
        shadow = cv2.GaussianBlur(np.roll(mask, (int(height * 0.04), int(width * 0.03)), (0, 1)), (0, 0), height * 0.03)
        page *= 1 - 0.35 * shadow
        mask = cv2.GaussianBlur(mask, (0, 0), 2)
        page[:] = page * (1 - mask) + SKIN * mask


INK, SKIN = 45.0, 150.0  # grey levels of the pen and of a hand


def _written(d: _Digit, i: int) -> np.ndarray | None:
    """The digit's ink at frame ``i``: written top to bottom over WRITE_FRAMES, then fading out when erased."""
    if i < d.written:
        return None
    alpha = d.glyph
    done = (i - d.written + 1) / WRITE_FRAMES if d.written else 1
    if done < 1:
        alpha = alpha.copy()
        alpha[int(round(done * alpha.shape[0])) :] = 0
    if d.erased is not None and i >= d.erased:
        left = 1 - (i - d.erased + 1) / ERASE_FRAMES
        if left <= 0:
            return None
        alpha = alpha * left
    return alpha


def make_clip(name: str, images: np.ndarray, labels: np.ndarray, size=(640, 480), seconds: float = 60.0,
              seed: int = 0, pace: float = 1.0) -> Clip:
    """A clip ``name`` (one of ``CLIPS``) of ``seconds`` at 30 fps, its digits drawn from ``images``/``labels``;
    ``pace`` 5 makes its events come five times as often (a digit written every second)."""
    import cv2

    if name not in CLIPS:
        raise ValueError(f"no clip {name!r}: one of {', '.join(CLIPS)}")
    rng = np.random.default_rng(seed)
    width, height = size
    frames = int(round(seconds * FPS))
    gy, gx = np.mgrid[0:height, 0:width].astype(np.float32)
    paper = 215.0 * (1 + 0.08 * (gx / width - 0.5) - 0.05 * (gy / height - 0.5))
    clip = Clip(name, size, frames, paper=cv2.GaussianBlur(paper, (0, 0), 3), seed=seed, pace=pace)
    digit_h = int(DIGIT_HEIGHT * height)
    written = 0
    for line in range(4):
        y, x = int(height * (0.1 + 0.22 * line)), int(width * 0.08)
        pre = line < 2
        sizes = [PER_LINE[line]] * (2 if PER_LINE[line] == 3 else 1) if pre else [3, 3]
        for count in sizes:
            for _ in range(count):
                k = int(rng.integers(len(images)))
                glyph = _glyph(images[k], int(digit_h * rng.uniform(0.92, 1.0)))
                if x + glyph.shape[1] > width - 20:
                    break
                start = 0
                if not pre:
                    start = int(round((written + 1) * WRITE_EVERY / pace * FPS))
                    written += 1
                    if name != "written" or start + WRITE_FRAMES > frames:
                        continue
                clip.digits.append(_Digit(x, y + digit_h - glyph.shape[0], glyph, int(labels[k]), line,
                                          written=start))
                x += glyph.shape[1] + int(digit_h * 0.25)
            x += int(digit_h * 1.2)
    if name == "written":
        last = [d for d in clip.digits if d.written == 0]
        erase_at = (ERASE_EVERY / 2 + WRITE_EVERY) / pace
        for d in reversed(last):  # the last digits of the first lines go, one by one
            start = int(round(erase_at * FPS))
            if start + ERASE_FRAMES > frames:
                break
            d.erased = start
            erase_at += ERASE_EVERY / pace
    return clip
