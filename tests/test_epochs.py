"""The camera recipe's epochs: every digit degraded afresh and a share of junk, a pure function of (seed, epoch)."""

import numpy as np

from edgedigits.digit import NOT_A_DIGIT
from edgedigits.training import epochs


def test_an_epoch_is_a_pure_function_of_seed_and_epoch(digits, monkeypatch):
    from concurrent.futures import ThreadPoolExecutor

    monkeypatch.setattr(epochs, "CHUNK", 256)  # three chunks
    x, y = digits
    a, la = epochs.camera_epoch(x, y, seed=7, epoch=3)
    with ThreadPoolExecutor(2) as pool:  # the same epoch, however the work is shared out
        b, lb = epochs.camera_epoch(x, y, seed=7, epoch=3, executor=pool)
        ahead = epochs.start_camera_epoch(x, y, seed=7, epoch=3, executor=pool)  # drawn while the caller goes on
        d, ld = ahead()
    c, _ = epochs.camera_epoch(x, y, seed=7, epoch=4)
    assert np.array_equal(a, b) and np.array_equal(la, lb)
    assert np.array_equal(a, d) and np.array_equal(la, ld)
    assert not np.array_equal(a, c)


def test_an_epoch_holds_every_digit_and_a_share_of_junk(digits):
    x, y = digits
    images, labels = epochs.camera_epoch(x, y, seed=1, epoch=0)
    assert images.shape == (len(x) + epochs.junk_count(len(x)), 28, 28) and images.dtype == np.uint8
    assert np.array_equal(labels[: len(x)], y)
    assert np.all(labels[len(x) :] == NOT_A_DIGIT) and epochs.junk_count(len(x)) >= len(x) // 12
    assert all(img.max() >= 128 for img in images)  # normalised (then resampled by the affine), none empty
