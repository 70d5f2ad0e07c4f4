"""What people see of a frame: boxes, digits and numbers drawn on it (``live.LiveServer`` serves it)."""

from __future__ import annotations

import numpy as np


def annotate(frame: np.ndarray, detections, numbers) -> np.ndarray:
    import cv2

    out = frame.copy() if frame.ndim == 3 else cv2.cvtColor(frame, cv2.COLOR_GRAY2BGR)
    scale = max(0.5, out.shape[0] / 640)
    for det in detections:
        x, y, w, h = det.box
        cv2.rectangle(out, (x, y), (x + w, y + h), (0, 200, 0), max(1, int(2 * scale)))
        cv2.putText(out, str(det.label), (x, max(12, y - 4)), cv2.FONT_HERSHEY_SIMPLEX, 0.7 * scale, (0, 0, 255),
                    max(1, int(2 * scale)))
    for num in numbers:
        x, y, w, h = num.box
        cv2.rectangle(out, (x - 4, y - 4), (x + w + 4, y + h + 4), (255, 128, 0), 1)
        cv2.putText(out, num.text, (x, y + h + int(22 * scale)), cv2.FONT_HERSHEY_SIMPLEX, 0.8 * scale,
                    (255, 128, 0), max(1, int(2 * scale)))
    return out


