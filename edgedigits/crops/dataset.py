"""The user's labelled crops as training data: each crop's ink measured as the finder measures it and normalised by
``digit.normalize_digit``, the function training and the camera share; and a hold-out, per class, of the latest
crops by capture time, so that a burst of near-identical frames never lands on both sides.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from edgedigits.crops.folder import LABELS, NOT_A_DIGIT, read_grey, scan
from edgedigits.digit import IMAGE_SIZE, normalize_digit
from edgedigits.digit import NOT_A_DIGIT as NOT_A_DIGIT_CLASS
from edgedigits.errors import EdgeDigitsError
from edgedigits.reader.vision.ink import ink_image


@dataclass
class UserDigits:
    digits: np.ndarray  # (N, 28, 28) uint8, MNIST-normalised
    labels: np.ndarray  # (N,) int64: 0-9, or the "not a digit" class
    times: np.ndarray  # (N,) float64 capture times
    ids: list[str]

    def __len__(self) -> int:
        return len(self.labels)

    def take(self, index: np.ndarray) -> UserDigits:
        return UserDigits(self.digits[index], self.labels[index], self.times[index], [self.ids[i] for i in index])


def load(root: Path, warn=lambda line: None) -> UserDigits:
    """Every labelled crop of ``root`` that can be read; each one that cannot is named through ``warn``."""
    digits, labels, times, ids = [], [], [], []
    for crop in scan(root, LABELS, warn):
        grey = read_grey(crop.image)
        if grey is None:
            warn(f"{crop.image}: not a readable image of at least 4x4 pixels; left out")
            continue
        ink = ink_image(grey, light=False)  # collected crops are dark ink on light paper
        if ink is None:
            warn(f"{crop.image}: no ink found; left out")
            continue
        digits.append(normalize_digit(ink))
        labels.append(NOT_A_DIGIT_CLASS if crop.state == NOT_A_DIGIT else int(crop.state))
        value = crop.meta.get("time")
        times.append(float(value) if isinstance(value, (int, float)) else crop.image.stat().st_mtime)
        ids.append(crop.id)
    if not digits:
        raise EdgeDigitsError(f"{root}: no labelled crops (label them with `edgedigits label {root}`, or move them "
                              "into folders 0-9 and not-a-digit)")
    return UserDigits(np.stack(digits), np.array(labels, np.int64), np.array(times, np.float64), ids)


def hold_out(data: UserDigits, share: float) -> tuple[UserDigits, UserDigits]:
    """(train, hold-out): per class, the latest ``share`` of its crops by capture time (at least one crop when the
    class has two or more) are held out."""
    if not 0.0 <= share < 1.0:
        raise EdgeDigitsError(f"--user-holdout must be in [0, 1), got {share}")
    held = []
    for label in np.unique(data.labels):
        members = np.flatnonzero(data.labels == label)
        members = members[np.argsort(data.times[members], kind="stable")]
        n = int(round(share * len(members)))
        if share > 0 and len(members) >= 2:
            n = max(1, n)
        held += members[len(members) - n :].tolist() if n else []
    mask = np.zeros(len(data), bool)
    mask[held] = True
    return data.take(np.flatnonzero(~mask)), data.take(np.flatnonzero(mask))


def empty() -> UserDigits:
    return UserDigits(np.zeros((0, IMAGE_SIZE, IMAGE_SIZE), np.uint8), np.zeros(0, np.int64), np.zeros(0), [])
