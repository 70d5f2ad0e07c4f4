"""A writer the bundled model has never met: digits drawn as a seven-segment display shows them (a meter's
reading copied by hand, a clock, a printed display), with a pen: jittered strokes, slant, pen width. The bundled
camera model reads about 60% of them. It is what ``benchmarks/adaptation.py`` and the learning loop's test teach
the model, and it is never MNIST.
"""

from __future__ import annotations

import numpy as np

SEGMENTS = {"a": [(0, 0), (1, 0)], "b": [(1, 0), (1, 0.5)], "c": [(1, 0.5), (1, 1)], "d": [(0, 1), (1, 1)],
            "e": [(0, 0.5), (0, 1)], "f": [(0, 0), (0, 0.5)], "g": [(0, 0.5), (1, 0.5)]}
LIT = {0: "abcdef", 1: "bc", 2: "abged", 3: "abgcd", 4: "fgbc", 5: "afgcd", 6: "afgedc", 7: "abc", 8: "abcdefg",
       9: "abfgcd"}
# Each digit: its segments as polylines in a unit box (x right, y down).
STROKES = {digit: [SEGMENTS[s] for s in lit] for digit, lit in LIT.items()}
STYLE_DIGITS = tuple(STROKES)

def draw(rng: np.random.Generator, digit: int, height: int) -> np.ndarray:
    """One digit of the style, ``height`` pixels tall: ink coverage in [0, 1] (a 1 is its segments' width)."""
    import cv2

    width = int(round(0.75 * height))
    pad = max(2, height // 10)
    canvas = np.zeros((height + 2 * pad, width + 2 * pad), np.float32)
    slant = np.tan(np.deg2rad(rng.uniform(-10, 10)))
    pen = max(1, int(round(height * rng.uniform(0.06, 0.1))))
    for line in STROKES[digit]:
        points = np.array(line, np.float64) + rng.normal(0, 0.03, (len(line), 2))
        xs = pad + (points[:, 0] * 0.8 + 0.1 + slant * (1 - points[:, 1]) * 0.3) * width
        ys = pad + points[:, 1] * height
        cv2.polylines(canvas, [np.stack([xs, ys], 1).round().astype(np.int32)], False, 1.0, pen, cv2.LINE_AA)
    ys, xs = np.nonzero(canvas > 0.05)
    return canvas[ys.min() : ys.max() + 1, xs.min() : xs.max() + 1]


def make_page(rng: np.random.Generator, count: int = 6, height: int = 80):
    """A grey photo of one line of ``count`` style digits on paper: (image, boxes, labels)."""
    import cv2

    digits = [int(rng.choice(STYLE_DIGITS)) for _ in range(count)]
    glyphs = [draw(rng, d, int(height * rng.uniform(0.9, 1.1))) for d in digits]
    gap = height // 2
    width = sum(g.shape[1] for g in glyphs) + gap * (count + 1)
    page = np.full((height * 3, width), rng.uniform(200, 240), np.float32)
    boxes, x = [], gap
    for glyph in glyphs:
        gh, gw = glyph.shape
        y = height * 2 - gh  # on the baseline
        region = page[y : y + gh, x : x + gw]
        region[:] = region * (1 - glyph) + rng.uniform(20, 60) * glyph
        boxes.append((x, y, gw, gh))
        x += gw + gap
    page = cv2.GaussianBlur(page, (0, 0), 0.8) + rng.normal(0, 3, page.shape).astype(np.float32)
    return np.clip(page, 0, 255).astype(np.uint8), boxes, digits
