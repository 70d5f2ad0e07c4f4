"""What the ink measures, from which every threshold derives: its stroke width, its components, the typical
digit height and the sizes a digit may take relative to it.
"""

from __future__ import annotations

import math

import numpy as np

from edgedigits.digit import stroke_width

MIN_STROKES_TALL = 2.0  # a digit is at least 2 stroke widths tall (a bold one too); a dot or a dash is 1
SPECK_HEIGHT = 0.4  # a digit is at least 40% as tall as the frame's typical digit (a written "-" or dot is less)
MAX_DIGIT_HEIGHT = 1.6  # joined pieces are at most 1.6x the typical digit height or their tallest piece
                        # (more: two digits stacked)
MAX_ASPECT = 2.25  # a digit is at most this much wider than tall (a 2 with a long tail: MNIST's widest is 2.22
                   # times); wider is a line
GROUP_ASPECT = 2.0  # pieces joined into one digit are at most twice as wide as tall; a wider group is two digits
                    # (and each group tried costs a reading)
UPRIGHT_LINE = 12.0  # a piece 12x taller than wide is a line's rest for the digit height (a 1 has slant or width)
SPLIT_ASPECT = 1.15  # a blob wider than this may be touching digits: try reading it as 2 or 3


def component_strokes(labels: np.ndarray, stats: np.ndarray) -> float:
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
    return weighted_median(widths, area[ok])


def components(mask: np.ndarray) -> tuple[int, np.ndarray, np.ndarray]:
    """8-connected components of a 0/1 uint8 mask: count, labels and stats (x, y, w, h, area per label).
    Grana's algorithm: three times faster here than OpenCV's default for 8-connectivity."""
    import cv2

    count, labels, stats, _ = cv2.connectedComponentsWithStatsWithAlgorithm(mask, 8, cv2.CV_32S, cv2.CCL_GRANA)
    return count, labels, stats


def pool(image: np.ndarray, block: int) -> np.ndarray:
    """The maximum of each ``block`` x ``block`` cell."""
    import cv2

    if block <= 1:
        return image
    return np.ascontiguousarray(cv2.dilate(image, np.ones((block, block), np.uint8),
                                           anchor=(0, 0))[::block, ::block])


def weighted_median(values, weights) -> float:
    order = np.argsort(values)
    values, cumulative = np.asarray(values, float)[order], np.cumsum(np.asarray(weights, float)[order])
    return float(values[np.searchsorted(cumulative, cumulative[-1] / 2)])


def digit_height(stats: np.ndarray, stroke: float, side: float | None = None) -> float | None:
    """The typical digit height: the median height of components that are neither lines nor dots, weighted by
    their ink squared, so that many small pieces of paper texture do not outweigh one digit.
    Pieces of lines lying down do not count, nor, on lined paper (``side``: the frame's height), upright rests of
    its lines that the ink threshold broke (slender, and longer than a quarter of the frame); when every
    component is line-shaped (digits written on ruled lines merge with them, or a lone upright 1), the tall ones
    count: a line alone is thinner than a digit is tall."""
    w, h, area = stats[:, 2], stats[:, 3], stats[:, 4]
    tall = h >= MIN_STROKES_TALL * stroke
    shaped = tall & (w <= 3 * h)
    if side is not None:
        shaped &= (h <= UPRIGHT_LINE * w) | (h < side / 4)
    chosen = shaped if shaped.any() else tall
    if not chosen.any():
        return None
    return weighted_median(h[chosen], area[chosen].astype(np.float64) ** 2)  # squared: dust and texture count little
