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
LINE_SHARE = 0.75  # a pen's strokes along a line are under a quarter of its band's ink
LEVELS = 256  # contrast steps in which a line's own contrasts are counted


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
            pieces = _horizontal_lines(view, stroke, int(run * PAPER_PIECE))
            if pieces is not None:  # with the whole lines (a piece's chain may run into a digit's strokes)
                whole, more = found[0], pieces[0]
                found = (np.where(more > 0, more, np.where(whole > 0, whole + more.max(), 0)), found[1])
        bands.append((np.ascontiguousarray(found[0].T) if transpose else found[0], across))
    if not bands:
        return mask
    pen = _pen(mask, [lines for lines, _ in bands], contrast) if contrast is not None else 0
    cleaned = mask
    for lines, across in bands:
        lines = (lines > 0).astype(np.uint8) & (1 - pen)
        without = cleaned & (1 - lines)
        rejoined = cv2.morphologyEx(without, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, across))
        cleaned = without | (rejoined & mask & lines)
    return cleaned


def _pen(mask: np.ndarray, bands: list[np.ndarray], contrast: np.ndarray) -> np.ndarray | int:
    """The pixels of the lines' bands (each line numbered in its band map) that the pen drew. A notebook's lines
    are printed fainter than a pen writes, so where a line and the pen are told apart (three quarters of the
    line's ink, ``LINE_SHARE``, fainter than halfway between its typical contrast and the other ink's), the ink
    of its band past that halfway mark is a stroke running along it, and stays. Each line is judged on its own:
    graph paper prints every fifth line bolder. Lines as dark as the ink (a table drawn in the same pen) keep
    nothing."""
    on_lines = np.zeros(mask.shape, np.uint8)
    for band in bands:
        on_lines += band > 0
    elsewhere = contrast[(mask > 0) & (on_lines == 0)]
    if elsewhere.size == 0:
        return 0
    ink = float(np.median(elsewhere))
    pen = np.zeros(mask.shape, np.uint8)
    for band in bands:
        ys, xs = np.nonzero(band)
        if not len(ys):
            continue
        ids, values = band[ys, xs], contrast[ys, xs]
        # each line's contrasts as a histogram (a row per line): its median and LINE_SHARE quantile
        cdf = np.cumsum(np.bincount(ids * LEVELS + np.clip((values * LEVELS).astype(np.int64), 0, LEVELS - 1),
                                    minlength=(int(ids.max()) + 1) * LEVELS).reshape(-1, LEVELS), axis=1)
        median = (cdf < 0.5 * cdf[:, -1:]).sum(axis=1) / LEVELS
        halfway = (median + ink) / 2
        apart = (cdf < LINE_SHARE * cdf[:, -1:]).sum(axis=1) / LEVELS < halfway
        darker = apart[ids] & (values > halfway[ids])
        pen[ys[darker], xs[darker]] = 1
    return pen & (on_lines == 1)  # where two lines cross, their inks add up: no pen there


def _horizontal_lines(mask: np.ndarray, stroke: float, length: int) -> tuple[np.ndarray, int] | None:
    """The bands of the near-horizontal lines at least ``length`` long, across the frame (an int32 map, each
    line's band numbered from 1, where the mask has ink), and their count; None if there is none.

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
    lines = np.zeros(mask.shape, np.int32)
    columns = np.arange(w, dtype=np.float64)
    for n, i in enumerate(np.nonzero(long)[0], 1):
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
        lines[top:bottom][distance <= thickness / 2 + 1] = n
    return np.where(mask > 0, lines, 0), int(long.sum())


def without_lines(parts: tuple, stroke: float, length: float, min_lines: int = 1,
                  contrast: np.ndarray | None = None) -> tuple:
    """``remove_lines`` on ``parts`` (mask, labels, stats) and, when it removed any, the components again;
    ``parts`` itself when nothing changed."""
    mask, _, stats = parts
    cleaned = remove_lines(mask, stroke, length, min_lines=min_lines, stats=stats, contrast=contrast)
    return parts if cleaned is mask else (cleaned, *components(cleaned)[1:])
