"""``--debug``: one PNG per input (``predict``) or per recent frame (``camera``) that shows each stage of the
finder, like ssocr's ``-D``.

Top row: the input with the sheets of paper found (outline and corners), and the final reading. Then, per image the
finder read (the frame, or each sheet flattened): the ink it measured, the ink it removed as lines, and every
candidate digit with the reason it was kept or dropped.
"""

from __future__ import annotations

from collections import deque
from pathlib import Path

import numpy as np

from edgedigits.errors import EdgeDigitsError
from edgedigits.files import atomic_path
from edgedigits.reader.vision.results import Trace

PANEL = 480  # each stage is drawn this wide
REASONS = {  # why a candidate was kept or dropped -> its colour (BGR)
    "digit": (40, 170, 40), "not a digit": (200, 0, 200), "another reading": (150, 150, 150), "speck": (0, 200, 230),
    "line": (220, 120, 0), "blot": (40, 80, 140), "edge": (0, 140, 255), "too tall": (200, 200, 0),
    "below confidence": (0, 0, 230),
}


def _bgr(image: np.ndarray) -> np.ndarray:
    import cv2

    return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR) if image.ndim == 2 else image.copy()


def _panel(image: np.ndarray | None, title: str) -> tuple[np.ndarray, float]:
    """``image`` scaled to ``PANEL`` wide under a title bar; and its scale."""
    import cv2

    if image is None:
        image = np.full((PANEL // 2, PANEL, 3), 235, np.uint8)
        cv2.putText(image, "none", (10, 40), cv2.FONT_HERSHEY_SIMPLEX, 0.8, (90, 90, 90), 2)
    scale = PANEL / image.shape[1]
    body = cv2.resize(_bgr(image), (PANEL, max(1, round(image.shape[0] * scale))), interpolation=cv2.INTER_AREA)
    bar = np.full((26, PANEL, 3), 255, np.uint8)
    cv2.putText(bar, title, (6, 19), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (0, 0, 0), 1)
    return np.vstack([bar, body]), scale


def _box(canvas, box, scale: float, colour, text: str | None = None) -> None:
    import cv2

    x, y, w, h = (int(round(v * scale)) for v in box)
    cv2.rectangle(canvas, (x, y + 26), (x + w, y + h + 26), colour, 2)
    if text:
        cv2.putText(canvas, text, (x, max(38, y + 22)), cv2.FONT_HERSHEY_SIMPLEX, 0.45, colour, 1)


def _row(panels: list[np.ndarray]) -> np.ndarray:
    height = max(p.shape[0] for p in panels)
    padded = [np.vstack([p, np.full((height - p.shape[0], PANEL, 3), 255, np.uint8)]) for p in panels]
    padded += [np.full((height, PANEL, 3), 255, np.uint8)] * (3 - len(padded))
    return np.hstack(padded)


def stages(trace: Trace, detections, reading: str) -> np.ndarray:
    """The debug picture of one frame (BGR uint8)."""
    import cv2

    found = _bgr(trace.frame)
    thick = max(2, round(max(found.shape[:2]) / 400))
    for page in trace.pages:
        if page.corners is not None:
            cv2.polylines(found, [page.corners.astype(np.int32)], True, (255, 200, 0), thick)
            for x, y in page.corners.astype(int):
                cv2.circle(found, (int(x), int(y)), 3 * thick, (0, 0, 255), -1)
        else:
            contours, _ = cv2.findContours(page.mask, cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
            cv2.drawContours(found, contours, -1, (255, 200, 0), thick)
    pages = f"{len(trace.pages)} sheet(s) of paper found" if trace.pages else "no sheet of paper: the frame read whole"
    top, scale = _panel(found, f"1 page: {pages}")
    final, _ = _panel(trace.frame, f"5 reading: {reading or '(nothing)'}")
    for d in detections:
        _box(final, d.box, scale, REASONS["digit"], f"{d.label} {d.confidence:.2f}")
    for box, reason in trace.dropped:
        _box(final, box, scale, REASONS[reason], reason)
    rows = [_row([top, final, _legend()])]
    for n, view in enumerate(trace.views, 1):
        ink, _ = _panel(view.ink, f"2 ink ({'sheet ' + str(n) if trace.pages else 'frame'})")
        lines = None
        if view.ink is not None:
            lines = np.full(view.ink.shape + (3,), 255, np.uint8)
            lines[view.ink > 0] = (170, 170, 170)
            lines[view.lines > 0] = (0, 0, 230)
        removed, _ = _panel(lines, "3 lines removed (red)")
        picked, s = _panel(view.image, "4 candidates and why")
        for box, reason, label in view.candidates:
            _box(picked, box, s, REASONS[reason], reason if label is None or reason != "digit" else str(label))
        rows.append(_row([ink, removed, picked]))
    return np.vstack(rows)


def _legend() -> np.ndarray:
    import cv2

    legend = np.full((26 + 22 * (len(REASONS) + 1), PANEL, 3), 255, np.uint8)
    cv2.putText(legend, "candidates: kept or dropped, and why", (6, 19), cv2.FONT_HERSHEY_SIMPLEX, 0.55, (0, 0, 0), 1)
    for i, (reason, colour) in enumerate(REASONS.items(), 1):
        cv2.rectangle(legend, (10, 14 + 22 * i), (30, 28 + 22 * i), colour, -1)
        cv2.putText(legend, reason, (40, 27 + 22 * i), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1)
    return legend


def save(image: np.ndarray, path: Path) -> None:
    """Write a picture whole or not at all (a temporary file renamed into place)."""
    import cv2

    with atomic_path(path) as tmp:
        if not cv2.imwrite(str(tmp), image):
            raise EdgeDigitsError(f"cannot write {path}")


class RecentFrames:
    """``camera --debug DIR``: the stage picture of each frame, ``frame-NNNNNN.debug.png``, of which only the
    latest ``keep`` stay (older ones are removed as new ones come), so a long run never fills the disk."""

    def __init__(self, folder: Path, keep: int):
        self.folder, self.keep, self.written = Path(folder), keep, deque()
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise EdgeDigitsError(f"--debug {folder}: {exc.strerror or exc}") from None

    def write(self, index: int, trace: Trace, detections, reading: str) -> None:
        path = self.folder / f"frame-{index:06d}.debug.png"
        save(stages(trace, detections, reading), path)
        self.written.append(path)
        while len(self.written) > self.keep:
            self.written.popleft().unlink(missing_ok=True)
