"""One frame in, digits and numbers out: the pipeline that ``predict``, ``camera`` and the photo and scene
benchmarks run, and the one that ``bench --pipeline`` and ``benchmarks/pipeline_speed.py`` time."""

from __future__ import annotations

import time
from typing import NamedTuple

import numpy as np

from edgedigits.errors import EdgeDigitsError
from edgedigits.reader.vision import Detection, Number, find_digits, group_numbers
from edgedigits.reader.vision.results import Trace


class TimedClassifier:
    """Wraps a classifier and adds up the time spent in inference."""

    def __init__(self, classifier):
        self.classifier, self.seconds = classifier, 0.0

    def predict(self, digits):
        start = time.perf_counter()
        try:
            return self.classifier.predict(digits)
        finally:
            self.seconds += time.perf_counter() - start


class FrameReading(NamedTuple):
    detections: list[Detection]
    numbers: list[Number]
    ms: dict  # preprocess (finding, cutting and normalising) and infer, in milliseconds


def read_frame(frame: np.ndarray, classifier, roi=None, min_confidence: float = 0.0, smoother=None,
               page: str = "auto", trace: Trace | None = None, rejected: list | None = None) -> FrameReading:
    """Find and classify the digits of one frame (inside ``roi``, x, y, w, h, when given; on the sheets of paper
    it shows, unless ``page`` is "off"), drop those under ``min_confidence``, let ``smoother`` vote over frames,
    and group them into numbers. Boxes are in full-frame pixels. A ``trace`` records every stage; ``rejected``
    receives the digits the model called "not a digit" (for ``--collect``)."""
    timed = classifier if isinstance(classifier, TimedClassifier) else TimedClassifier(classifier)
    start, timed.seconds = time.perf_counter(), 0.0
    x0, y0 = (roi[0], roi[1]) if roi else (0, 0)
    if roi and (x0 + roi[2] > frame.shape[1] or y0 + roi[3] > frame.shape[0]):
        raise EdgeDigitsError(f"--roi {','.join(map(str, roi))} reaches beyond the {frame.shape[1]}x{frame.shape[0]} "
                              "frame")
    view = frame[y0 : y0 + roi[3], x0 : x0 + roi[2]] if roi else frame
    mine: list = []
    found = find_digits(view, classifier=timed, page=page, trace=trace, rejected=mine if rejected is not None else None)
    for d in found + mine:
        d.box = (d.box[0] + x0, d.box[1] + y0, d.box[2], d.box[3])
    if rejected is not None:
        rejected += mine
    detections = [d for d in found if d.confidence >= min_confidence]
    if trace is not None:
        trace.dropped += [(d.box, "below confidence") for d in found if d.confidence < min_confidence]
    total = time.perf_counter() - start
    if smoother is not None:
        detections = smoother.update(detections)
    ms = {"preprocess": round((total - timed.seconds) * 1000, 3), "infer": round(timed.seconds * 1000, 3)}
    return FrameReading(detections, group_numbers(detections), ms)


def time_frames(classifier, frames: list[np.ndarray], warmup: int = 3) -> dict:
    """Per-frame milliseconds of each stage over ``frames``, after ``warmup`` untimed ones: decode (for frames
    given as encoded JPEG/PNG bytes, 1-D uint8), preprocess, infer and total; and the digits found per frame."""
    import cv2

    timed = TimedClassifier(classifier)

    def one(item):
        t0 = time.perf_counter()
        frame = cv2.imdecode(item, cv2.IMREAD_COLOR) if item.ndim == 1 else item
        t1 = time.perf_counter()
        result = read_frame(frame, timed)
        return result, (t1 - t0) * 1000, (time.perf_counter() - t0) * 1000

    for item in frames[:warmup]:
        one(item)
    stages = {"decode": [], "preprocess": [], "infer": [], "total": []}
    found = 0
    for item in frames:
        result, decode_ms, total_ms = one(item)
        found += len(result.detections)
        stages["decode"].append(decode_ms)
        stages["preprocess"].append(result.ms["preprocess"])
        stages["infer"].append(result.ms["infer"])
        stages["total"].append(total_ms)
    return {"stages": stages, "found_per_frame": found / max(1, len(frames))}
