"""``--collect DIR``: the digits the model was unsure of, saved for the user to label (``crops.folder`` is the
format). Every digit read below a confidence is saved once: a digit held still before the camera, seen again
and again, is a near-duplicate (same place, same perceptual hash) and is not saved twice. The folder is bounded:
past its size, the oldest unlabelled crops go first. Nothing leaves the machine.
"""

from __future__ import annotations

import collections
import itertools
import json
import threading
import time
from pathlib import Path

import numpy as np

from edgedigits.crops.folder import NOT_A_DIGIT, UNLABELLED, scan
from edgedigits.digit import NOT_A_DIGIT as NOT_A_DIGIT_CLASS
from edgedigits.errors import EdgeDigitsError
from edgedigits.files import atomic_path, sha256

MARGIN = 0.25  # paper kept around a digit's box, as a share of its longer side
HASH_BITS = 6  # two digits whose 64-bit hashes differ in at most 6 bits, at the same place, are one digit
RECENT = 256  # digits remembered for the duplicate check
SAME_PLACE = 0.5  # boxes overlapping this much (IoU) are at the same place


def perceptual_hash(digit: np.ndarray) -> int:
    """A 64-bit difference hash of a 28x28 digit: which of each row's neighbouring cells is brighter."""
    import cv2

    small = cv2.resize(np.asarray(digit, np.float32), (9, 8), interpolation=cv2.INTER_AREA)
    bits = (small[:, 1:] > small[:, :-1]).ravel()
    return int(sum(1 << i for i, bit in enumerate(bits) if bit))


def _iou(a, b) -> float:
    ix = max(0, min(a[0] + a[2], b[0] + b[2]) - max(a[0], b[0]))
    iy = max(0, min(a[1] + a[3], b[1] + b[3]) - max(a[1], b[1]))
    inter = ix * iy
    return inter / max(1, a[2] * a[3] + b[2] * b[3] - inter)


def cut(frame: np.ndarray, box) -> np.ndarray:
    """The digit in ``box`` with a margin of paper, grey, dark ink on light paper (a board's light chalk is
    turned dark)."""
    import cv2

    grey = frame if frame.ndim == 2 else cv2.cvtColor(frame, cv2.COLOR_BGR2GRAY)
    x, y, w, h = (int(v) for v in box)
    m = int(round(MARGIN * max(w, h)))
    crop = grey[max(0, y - m) : y + h + m, max(0, x - m) : x + w + m]
    low, paper, high = np.percentile(crop, [1, 50, 99])
    return 255 - crop if paper - low < high - paper else crop.copy()  # paper is the majority: ink the extreme


class Collector:
    """Saves the digits read below ``below`` (1: every digit) into ``root``/unlabelled, at most ``max_mb``."""

    def __init__(self, root: Path, below: float = 0.9, max_mb: float = 200.0, model: Path | None = None):
        self.root, self.below, self.max_bytes = Path(root), below, int(max_mb * 1024 * 1024)
        self.folder = self.root / UNLABELLED
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise EdgeDigitsError(f"--collect {root}: {exc.strerror or exc}") from None
        self.model = {"file": model.name, "sha256": sha256(model)} if model and Path(model).is_file() else None
        self.recent: collections.deque = collections.deque(maxlen=RECENT)
        self.sizes = collections.OrderedDict()  # unlabelled crop id -> bytes, oldest first
        for crop in scan(self.root, (UNLABELLED,)):
            self.sizes[crop.id] = self._size(crop.id)
        self.total = sum(self.sizes.values())
        self.saved = 0
        self._count = itertools.count()
        self._lock = threading.Lock()  # the camera loop and the live page's "this reading is wrong" both add

    def add(self, frame: np.ndarray, detections, image: str, every: bool = False) -> int:
        """Save the unsure digits of one frame (``image`` names its file or camera), and those the model called
    "not a digit" among them; ``every``: all its digits (a reading the user flagged). Returns how many."""
        with self._lock:
            return self._add(frame, detections, image, every)

    def _add(self, frame: np.ndarray, detections, image: str, every: bool) -> int:
        saved = 0
        for d in detections:
            if d.confidence is None or (not every and self.below < 1 and d.confidence >= self.below):
                continue
            fingerprint = perceptual_hash(d.digit)
            if self._seen(image, d.box, fingerprint):
                continue
            self.recent.append((image, tuple(d.box), fingerprint))
            self._save(cut(frame, d.box), d, image)
            saved += 1
        self.saved += saved
        return saved

    def _seen(self, image: str, box, fingerprint: int) -> bool:
        return any(src == image and _iou(box, old) >= SAME_PLACE and bin(fingerprint ^ h).count("1") <= HASH_BITS
                   for src, old, h in self.recent)

    def _save(self, crop: np.ndarray, d, image: str) -> None:
        import cv2

        now = time.time()
        cid = f"{int(now * 1000):013d}-{next(self._count):04d}"
        meta = {"image": image, "box": [int(v) for v in d.box],
                "digit": NOT_A_DIGIT if d.label == NOT_A_DIGIT_CLASS else int(d.label),
                "confidence": round(float(d.confidence), 4), "model": self.model, "time": round(now, 3)}
        for suffix, write in ((".28.png", lambda p: cv2.imwrite(str(p), d.digit)),
                              (".json", lambda p: p.write_text(json.dumps(meta) + "\n") > 0),
                              (".png", lambda p: cv2.imwrite(str(p), crop))):  # the image last: it names the crop
            with atomic_path(self.folder / f"{cid}{suffix}") as tmp:
                if not write(tmp):
                    raise EdgeDigitsError(f"cannot write {self.folder / (cid + suffix)}")
        self.sizes[cid] = self._size(cid)
        self.total += self.sizes[cid]
        while self.total > self.max_bytes and len(self.sizes) > 1:
            old, size = self.sizes.popitem(last=False)
            for suffix in (".png", ".json", ".28.png"):
                (self.folder / f"{old}{suffix}").unlink(missing_ok=True)
            self.total -= size

    def _size(self, cid: str) -> int:
        return sum((self.folder / f"{cid}{s}").stat().st_size for s in (".png", ".json", ".28.png")
                   if (self.folder / f"{cid}{s}").exists())
