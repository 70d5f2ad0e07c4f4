"""Lines that are not digits: ruled and grid paper, then any line far longer than a digit, tilted or not, removed
along their fitted band; strokes that crossed them are closed again.
"""

from __future__ import annotations

import numpy as np

from edgedigits.reader.vision.measures import components, pool

# 5. Lines
PAGE_LINES = 3  # three parallel lines each across half the frame are ruled or grid paper
LINE_LENGTH = 2.0  # a run longer than twice the digit height is a line: no stroke of a digit is that long...
PAPER_PIECE = 0.4  # on ruled or grid paper, a straight run 40% as long as its lines is one of them, broken
LINE_SLENDER = 0.25  # ...and at least 4x longer than it spans across (a tilt of 1 in 10 plus its thickness)
LINE_SHARE = 0.9  # a pen's strokes along the lines are under a tenth of their band's ink


def remove_lines(mask: np.ndarray, stroke: float, length: float, min_lines: int = 1,
                 stats: np.ndarray | None = None, contrast: np.ndarray | None = None) -> np.ndarray:
    """Drop lines at least ``length`` long (ruled paper, grids, table borders), horizontal or vertical give or
    take a tilt, where at least ``min_lines`` of them run the same way; re-close the strokes that crossed them.
    With the mask's component ``stats``, a direction in which no component spans half that length is skipped.
    With the ink's ``contrast``, a pen stroke that runs along a line fainter than the pen stays (``_pen``)."""
    import cv2

    if length >= max(mask.shape):
        return mask
    bridge = int(2 * stroke) + 3  # a crossing stroke spans a line's band: 2 strokes and the line itself
    bands = []
    for transpose, across in ((False, (1, bridge)), (True, (bridge, 1))):
        view = mask.T if transpose else mask
        run = int(length if min_lines == 1 else min(length, view.shape[1] / 2))  # paper's lines cross its side
        if stats is not None and not (stats[1:, 3 if transpose else 2] >= run / 2).any():
            continue
        found = _horizontal_lines(view, stroke, run)
        if found is None or found[1] < min_lines:
            continue
        if min_lines > 1:  # ruled or grid paper: the pieces of its lines that the ink threshold broke go too
            found = _horizontal_lines(view, stroke, int(run * PAPER_PIECE)) or found
        bands.append((np.ascontiguousarray(found[0].T) if transpose else found[0], across))
    if not bands:
        return mask
    pen = _pen(mask, [lines for lines, _ in bands], contrast) if contrast is not None else 0
    cleaned = mask
    for lines, across in bands:
        lines = lines & (1 - pen)
        without = cleaned & (1 - lines)
        rejoined = cv2.morphologyEx(without, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, across))
        cleaned = without | (rejoined & mask & lines)
    return cleaned


def _pen(mask: np.ndarray, bands: list[np.ndarray], contrast: np.ndarray) -> np.ndarray | int:
    """The pixels of the lines' bands that the pen drew: a notebook's lines are printed fainter than a pen writes,
    so where the two are told apart (nearly all of the lines' ink, ``LINE_SHARE``, fainter than halfway between
    the lines' typical contrast and the other ink's), the band's ink past that halfway mark is a stroke running
    along a line, and stays. Lines as dark as the ink (a table drawn in the same pen) keep nothing."""
    lines = bands[0].copy()
    for band in bands[1:]:
        lines |= band
    on_lines = contrast[lines > 0]
    elsewhere = contrast[(mask > 0) & (lines == 0)]
    if on_lines.size == 0 or elsewhere.size == 0:
        return 0
    halfway = (float(np.median(on_lines)) + float(np.median(elsewhere))) / 2
    if np.quantile(on_lines, LINE_SHARE) >= halfway:
        return 0
    return lines & (contrast > halfway).astype(np.uint8)


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
    count, labels, stats = components(pool(runs, cell))
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


def without_lines(parts: tuple, stroke: float, length: float, min_lines: int = 1,
                  contrast: np.ndarray | None = None) -> tuple:
    """``remove_lines`` on ``parts`` (mask, labels, stats) and, when it removed any, the components again;
    ``parts`` itself when nothing changed."""
    mask, _, stats = parts
    cleaned = remove_lines(mask, stroke, length, min_lines=min_lines, stats=stats, contrast=contrast)
    return parts if cleaned is mask else (cleaned, *components(cleaned)[1:])
