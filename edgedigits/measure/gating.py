"""The motion gate measured on generated clips (``measure.clips``): each clip played through the camera's reader
twice, every frame read (ungated) and through the gate, and the two compared frame by frame.

    play(clip, classifier, gated)   per frame: the reading, the CPU milliseconds to decode and to read it, and
                                    what the gate did ("none", "region", "full"; "full" for every ungated frame)
    compare(ungated, gated)         how late the gate was after each change of the reading, and the frames it
                                    read differently once that latency was over
"""

from __future__ import annotations

import time

import numpy as np

from edgedigits.measure.clips import FPS
from edgedigits.reader.gate import GatedReader
from edgedigits.reader.pipeline import TimedClassifier, read_frame
from edgedigits.reader.vision import reading as reading_text

LATENCY = 2  # frames a gated reading may lag the ungated one after the page changes


def usable_digits(classifier, images: np.ndarray, labels: np.ndarray, confidence: float = 0.99):
    """The MNIST digits the classifier reads right and sure on their own: a clip tests the gate, not the
    classifier, so its digits are ones every frame reads alike."""
    probs = classifier.predict(images)
    keep = (probs.argmax(1) == labels) & (probs.max(1) >= confidence)
    return images[keep], labels[keep]


def encode(clip) -> list[np.ndarray]:
    """Every frame of ``clip`` as the camera sends it (JPEG)."""
    return [clip.encoded(i) for i in range(clip.frames)]


def play(clip, classifier, gated: bool, encoded: list | None = None) -> list[dict]:
    """Read ``clip`` frame by frame; per frame its reading, "reread", and CPU ms (process time) to decode and
    to read. Timing starts at the frame's JPEG bytes, as a camera gives them."""
    import cv2

    encoded = encoded if encoded is not None else encode(clip)
    timed = TimedClassifier(classifier)

    def read(frame, roi):
        return read_frame(frame, timed, roi)

    gate = GatedReader(read) if gated else None
    records = []
    for i, jpeg in enumerate(encoded):
        t0 = time.process_time()
        frame = cv2.imdecode(jpeg, cv2.IMREAD_COLOR)
        t1 = time.process_time()
        if gate is None:
            result, kind = read(frame, None), "full"
        else:
            result, kind = gate(frame, now=i / FPS)
        t2 = time.process_time()
        records.append({"frame": i, "reading": reading_text(result.numbers), "reread": kind,
                        "decode_ms": (t1 - t0) * 1000, "read_ms": (t2 - t1) * 1000})
    return records


def compare(ungated: list[dict], gated: list[dict], changing=None) -> dict:
    """Latency: for each change of the ungated reading that lasts more than ``LATENCY`` frames (a digit half
    written may be read as another for a frame or two, gated or not), the frames until the gated reading is the
    same. Disagreements: frames read differently more than ``LATENCY`` frames after the ungated reading last
    changed and after the page last changed (``changing(i)``: its ink changes at frame i); those read differently
    while the page changed are counted apart, as transient."""
    texts = [r["reading"] for r in ungated]
    changed = [i for i in range(1, len(texts)) if texts[i] != texts[i - 1]]
    lasting = [i for i in changed if len(set(texts[i : i + LATENCY + 1])) == 1 and i + LATENCY < len(texts)]
    latencies = [next((k for k in range(len(texts) - i) if gated[i + k]["reading"] == texts[i + k]), len(texts) - i)
                 for i in lasting]
    last_change, differ, transient = -LATENCY - 1, [], []
    for i, text in enumerate(texts):
        if (i and text != texts[i - 1]) or (changing is not None and changing(i)):
            last_change = i
        if gated[i]["reading"] != text:
            (differ if i - last_change > LATENCY else transient).append(i)
    return {"changes": len(lasting), "max_latency": max(latencies, default=0), "latencies": latencies,
            "disagreements": differ, "transient": transient}


def still(frames: int, changing) -> list[bool]:
    """Per frame: the page's ink has not changed in it nor in the ``LATENCY`` frames before."""
    moving = [changing(i) for i in range(frames)]
    return [not any(moving[max(0, i - LATENCY) : i + 1]) for i in range(frames)]


def summary(records: list[dict], truth: list, judged_frames: list[bool] | None = None) -> dict:
    """Mean CPU ms per frame (read, and with decoding), the share of each kind of frame, and accuracy: the share
    of frames with a truth (no hand over the page), among ``judged_frames`` when given, read exactly."""
    kinds = {k: sum(r["reread"] == k for r in records) for k in ("none", "region", "full")}
    judged_frames = judged_frames or [True] * len(records)
    judged = [(r["reading"], t) for r, t, j in zip(records, truth, judged_frames) if t is not None and j]
    return {"frames": len(records), "read_ms": float(np.mean([r["read_ms"] for r in records])),
            "decode_ms": float(np.mean([r["decode_ms"] for r in records])),
            "with_decode_ms": float(np.mean([r["read_ms"] + r["decode_ms"] for r in records])),
            "reread": kinds, "accuracy": float(np.mean([a == b for a, b in judged])) if judged else None}
