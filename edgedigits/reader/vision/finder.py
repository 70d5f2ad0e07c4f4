"""``find_digits``: from a camera frame or a photo to normalised, labelled digits. Every threshold comes from what
the frame itself shows (its stroke width, its digit height, its ink contrast), never from an absolute pixel count:
the ink (``ink``), its measures (``measures``), the lines removed (``lines``), then the pieces read as digits
(``pieces``).
"""

from __future__ import annotations

import numpy as np

from edgedigits.digit import DIGITS, NOT_A_DIGIT
from edgedigits.reader.vision.ink import as_image, find_ink, plane
from edgedigits.reader.vision.lines import LINE_LENGTH, PAGE_LINES, without_lines
from edgedigits.reader.vision.measures import GROUP_ASPECT, digit_height
from edgedigits.reader.vision.page import Page, box_back, find_pages, painted, rectify
from edgedigits.reader.vision.pieces import (
    MAX_CLUSTER,
    Finder,
    alone,
    best_reading,
    clusters,
    drop_specks,
)
from edgedigits.reader.vision.results import Detection, Trace, View

PAGE_MODES = ("auto", "off")
STRAIGHT = 3.0  # degrees: a page turned less than this is read as it lies (the classifier learned +-10 degrees)
NOT_A_DIGIT_SHARE = 0.5  # "not a digit" when the model gives that over half its probability: more likely than any
                         # digit at all, not merely than the best one (a digit torn between two readings stays)


def find_digits(frame: np.ndarray, classifier=None, page: str = "auto", trace: Trace | None = None,
                rejected: list | None = None) -> list[Detection]:
    """Boxes (input pixels) and MNIST-normalised 28x28 crops of the handwritten digits in ``frame`` (gray or BGR).

    With a ``classifier`` the digits come back labelled, and pieces that may be one digit, or blobs that may be
    touching digits, are read every plausible way; the reading with the highest joint probability wins. Without
    one, pieces near each other are one digit and wide blobs are split by shape alone.

    ``page="auto"`` first looks for sheets of paper in the frame (``page.find_pages``) and reads each on its own,
    rectified when it has four corners; ``"off"`` reads the whole frame. A ``trace`` records every stage; a
    ``rejected`` list receives the digits of the reading that the model called "not a digit".
    """
    frame = np.asarray(frame)
    if frame.ndim < 2 or frame.shape[0] < 8 or frame.shape[1] < 8:
        return []
    frame = as_image(frame)
    grey = plane(frame, 0)  # one grey copy for the page finder and the ink
    if page == "auto":
        sheets = find_pages(frame, grey)
        if sheets:
            if trace is not None:
                trace.pages = sheets
            return [d for sheet in sheets for d in _on_page(frame, sheet, classifier, trace, rejected)]
    return _in_frame(frame, classifier, view=trace.view(frame) if trace is not None else None, rejected=rejected,
                     grey=grey)


def _on_page(frame: np.ndarray, sheet: Page, classifier, trace: Trace | None = None,
             rejected: list | None = None) -> list[Detection]:
    """The digits of one sheet, in the input's pixels."""
    if sheet.corners is None and abs(sheet.angle) < STRAIGHT:
        image = painted(frame, sheet)
        return _in_frame(image, classifier, light=False, view=trace.view(image) if trace is not None else None,
                         rejected=rejected)
    flat, back = rectify(frame, sheet)
    mine: list = []
    found = _in_frame(flat, classifier, light=False, view=trace.view(flat) if trace is not None else None,
                      rejected=mine)
    for d in found + mine:
        d.box = box_back(d, back, frame.shape)
    if rejected is not None:
        rejected += mine
    return found


def _in_frame(frame: np.ndarray, classifier, light: bool | None = None, view: View | None = None,
              rejected: list | None = None, grey: np.ndarray | None = None) -> list[Detection]:
    """The digits of a frame read whole: every decision taken from all of its pixels (but the ink's polarity,
    when ``light`` says it: ink on a sheet of paper is darker than the sheet; ``grey``: its grey plane)."""
    ink = find_ink(frame, light, grey)
    if ink is None:
        return []
    # Ruled or grid paper first: several parallel lines across half the frame, which no digit draws. Digits
    # written on them join them into one component, which would hide the digits' height.
    whole = ((ink.labels > 0).astype(np.uint8), ink.labels, ink.stats)
    parts = without_lines(whole, ink.stroke, max(ink.labels.shape) / 2, min_lines=PAGE_LINES,
                          contrast=ink.contrast)
    side = ink.labels.shape[0] if parts is not whole else None  # lined paper: its broken lines' rests are no digits
    height = digit_height(parts[2][1:], ink.stroke, side)
    if height is None:
        return []
    changed = without_lines(parts, ink.stroke, LINE_LENGTH * height)
    if changed is not parts:
        parts = changed
        height = digit_height(parts[2][1:], ink.stroke, side) or height
    _, labels, stats = parts
    stats = stats[1:]
    # Pieces: components bigger than a stroke's square (smaller ones are dust).
    pieces = [i for i in range(len(stats)) if stats[i, 4] >= ink.stroke ** 2 and max(stats[i, 2], stats[i, 3])
              >= 1.5 * ink.stroke]
    finder = Finder(ink, labels, stats, height)
    boxes = [tuple(int(v) for v in stats[i, :4]) for i in pieces]
    readings = []
    for cluster in clusters(boxes, ink.stroke, height):
        cluster = sorted((pieces[i] for i in cluster), key=lambda i: stats[i, 0] + stats[i, 2] / 2)
        if len(cluster) > MAX_CLUSTER:
            readings += [([i], {(0, 1): finder.candidate([i])}) for i in cluster]
            continue
        groups = {}
        for start in range(len(cluster)):
            for end in range(start + 1, len(cluster) + 1):
                ids = cluster[start:end]
                box = finder.box(ids)
                if box[2] > GROUP_ASPECT * box[3] and end - start > 1:
                    break
                if finder.side_by_side(ids):
                    continue
                groups[(start, end)] = finder.candidate(ids)
        readings.append((cluster, groups))
    crops = finder.crops
    if view is not None:
        _draw_ink(view, whole[0], parts[0], frame.shape)
        view.candidates += [(box, reason, None) for box, reason in finder.dropped]
    if not crops:
        return []
    if classifier is None:  # shape alone: each cluster whole when it can be, else its pieces
        chosen = []
        for cluster, groups in readings:
            whole_reading = groups.get((0, len(cluster)))
            chosen += whole_reading[0] if whole_reading else alone(groups)
        return _kept(view, crops, chosen, drop_specks([crops[i] for i in chosen]))
    probs = classifier.predict(np.stack([d.digit for d in crops]))
    for det, row in zip(crops, probs):
        # the reading weighs each crop by its best digit; a camera model may call it "not a digit" outright
        det.label, det.confidence = int(row[:DIGITS].argmax()), float(row[:DIGITS].max())
        if len(row) > DIGITS and row[NOT_A_DIGIT] > NOT_A_DIGIT_SHARE:
            det.label = NOT_A_DIGIT
    chosen = []
    for cluster, groups in readings:
        chosen += best_reading(cluster, groups, crops, finder.priors)
    if rejected is not None:
        rejected += [crops[i] for i in chosen if crops[i].label == NOT_A_DIGIT]
    return _kept(view, crops, chosen, drop_specks([crops[i] for i in chosen if crops[i].label != NOT_A_DIGIT]))


def _draw_ink(view: View, mask, cleaned, shape) -> None:
    """The ink and the lines removed from it, at the image's size, for the trace."""
    import cv2

    size = (shape[1], shape[0])
    view.ink = cv2.resize(mask * 255, size, interpolation=cv2.INTER_NEAREST)
    view.lines = cv2.resize((mask & (1 - cleaned)) * 255, size, interpolation=cv2.INTER_NEAREST)


def _kept(view: View | None, crops: list[Detection], chosen: list[int], kept: list[Detection]) -> list[Detection]:
    """``kept``; with a trace, every candidate digit and why it was kept or dropped."""
    if view is not None:
        chosen_set, kept_ids = set(chosen), {id(d) for d in kept}
        for i, d in enumerate(crops):
            if id(d) in kept_ids:
                reason = "digit"
            elif d.label == NOT_A_DIGIT:
                reason = "not a digit"
            elif i in chosen_set:
                reason = "speck"  # far smaller than the frame's typical digit
            else:
                reason = "another reading"
            view.candidates.append((d.box, reason, d.label))
    return kept
