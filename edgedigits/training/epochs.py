"""One epoch of the camera recipe: every MNIST digit degraded afresh (``degrade``), the junk added (``junk``), then
as in the seed recipe one random affine transform of every crop. A pure function of (seed, epoch), drawn in chunks
on every core.
"""

from __future__ import annotations

import numpy as np

from edgedigits.digit import NOT_A_DIGIT
from edgedigits.training.augment import affine
from edgedigits.training.degrade import degrade
from edgedigits.training.junk import junk

JUNK_SHARE = 0.12  # junk crops added per epoch, as a share of the digits (about one class's worth)


def _seed_affine(images: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return np.stack([affine(img, rng) for img in images]) if len(images) else images


CHUNK = 4096  # digits drawn from one random stream: the epoch is the same however many workers make it


def junk_count(digits: int) -> int:
    """How many junk crops an epoch of ``digits`` digits holds."""
    return sum(int(round(JUNK_SHARE * min(CHUNK, digits - start))) for start in range(0, digits, CHUNK))


def _chunk(job) -> tuple[np.ndarray, np.ndarray]:
    images, labels, seed, epoch, index = job
    rng = np.random.default_rng([seed, epoch, index])
    digits = _seed_affine(degrade(images, rng, labels), rng)
    return digits, _seed_affine(junk(junk_count(len(images)), images, rng)[0], rng)


def start_camera_epoch(images: np.ndarray, labels: np.ndarray, seed: int, epoch: int, executor=None):
    """Start drawing one epoch of the camera recipe; returns a function that waits for it and gives what
    ``camera_epoch`` gives. With ``executor`` (a process pool) the chunks are drawn while the caller goes on, so
    a trainer can draw the next epoch while it trains on this one."""
    jobs = [(images[start : start + CHUNK], labels[start : start + CHUNK], seed, epoch, start // CHUNK)
            for start in range(0, len(images), CHUNK)]
    pending = executor.map(_chunk, jobs) if executor else map(_chunk, jobs)  # Executor.map submits every job now

    def drawn() -> tuple[np.ndarray, np.ndarray]:
        parts = list(pending)
        digits = np.concatenate([p[0] for p in parts]) if parts else images[:0]
        bad = np.concatenate([p[1] for p in parts]) if parts else images[:0]
        return (np.concatenate([digits, bad]),
                np.concatenate([labels.astype(np.int64), np.full(len(bad), NOT_A_DIGIT, np.int64)]))

    return drawn


def camera_epoch(images: np.ndarray, labels: np.ndarray, seed: int, epoch: int,
                 executor=None) -> tuple[np.ndarray, np.ndarray]:
    """One epoch of the camera recipe: every digit degraded afresh, then the junk (labelled ``NOT_A_DIGIT``).
    A pure function of (seed, epoch), so a resumed run sees the same data; ``executor`` (a process pool)
    shares the work out in chunks of ``CHUNK`` digits."""
    return start_camera_epoch(images, labels, seed, epoch, executor)()
