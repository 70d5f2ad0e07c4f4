"""``find_digits``: from a camera frame or a photo to normalised, labelled digits. Every threshold comes from what
the frame itself shows (its stroke width, its digit height, its ink contrast), never from an absolute pixel count:
the ink (``ink``), its measures (``measures``), the lines removed (``lines``), then the pieces read as digits
(``pieces``).
"""

from __future__ import annotations

import numpy as np

from edgedigits.digit import DIGITS, NOT_A_DIGIT
from edgedigits.reader.vision.ink import find_ink
from edgedigits.reader.vision.lines import LINE_LENGTH, PAGE_LINES, without_lines
from edgedigits.reader.vision.measures import MAX_ASPECT, digit_height
from edgedigits.reader.vision.pieces import (
    MAX_CLUSTER,
    Finder,
    alone,
    best_reading,
    clusters,
    drop_specks,
)
from edgedigits.reader.vision.results import Detection


def find_digits(frame: np.ndarray, classifier=None) -> list[Detection]:
    """Boxes (input pixels) and MNIST-normalised 28x28 crops of the handwritten digits in ``frame`` (gray or BGR).

    With a ``classifier`` the digits come back labelled, and pieces that may be one digit, or blobs that may be
    touching digits, are read every plausible way; the reading with the highest joint probability wins. Without
    one, pieces near each other are one digit and wide blobs are split by shape alone.
    """
    frame = np.asarray(frame)
    if frame.ndim < 2 or frame.shape[0] < 8 or frame.shape[1] < 8:
        return []
    ink = find_ink(frame)
    if ink is None:
        return []
    # Ruled or grid paper first: several parallel lines across half the frame, which no digit draws. Digits
    # written on them join them into one component, which would hide the digits' height.
    parts = ((ink.labels > 0).astype(np.uint8), ink.labels, ink.stats)
    parts = without_lines(parts, ink.stroke, max(ink.labels.shape) / 2, min_lines=PAGE_LINES)
    height = digit_height(parts[2][1:], ink.stroke)
    if height is None:
        return []
    changed = without_lines(parts, ink.stroke, LINE_LENGTH * height)
    if changed is not parts:
        parts = changed
        height = digit_height(parts[2][1:], ink.stroke) or height
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
                if box[2] > MAX_ASPECT * box[3] and end - start > 1:
                    break
                if finder.side_by_side(ids):
                    continue
                groups[(start, end)] = finder.candidate(ids)
        readings.append((cluster, groups))
    crops = finder.crops
    if not crops:
        return []
    if classifier is None:  # shape alone: each cluster whole when it can be, else its pieces
        chosen = []
        for cluster, groups in readings:
            whole = groups.get((0, len(cluster)))
            chosen += whole[0] if whole else alone(groups)
        return drop_specks([crops[i] for i in chosen])
    probs = classifier.predict(np.stack([d.digit for d in crops]))
    for det, row in zip(crops, probs):
        # the reading weighs each crop by its best digit; a camera model may call it "not a digit" outright
        det.label, det.confidence = int(row.argmax()), float(row[:DIGITS].max())
    chosen = []
    for cluster, groups in readings:
        chosen += best_reading(cluster, groups, crops)
    return drop_specks([crops[i] for i in chosen if crops[i].label != NOT_A_DIGIT])
