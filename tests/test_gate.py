"""The motion gate (``reader.gate``): what it calls a change, and readings equal to reading every frame whole on
generated clips with writing, erasing, a hand, a light ramp and camera shake (``measure.clips``)."""

import numpy as np
import pytest

from edgedigits.measure import clips, gating
from edgedigits.reader.gate import MotionGate


@pytest.fixture(scope="module")
def page():
    """A grey page with dark strokes and sensor noise, and a function giving noisy copies of it."""
    import cv2

    rng = np.random.default_rng(0)
    base = np.full((480, 640), 210, np.uint8)
    for k in range(8):
        cv2.putText(base, str(k), (40 + 70 * k, 200), cv2.FONT_HERSHEY_SIMPLEX, 2.0, 50, 4)
    base = base.astype(np.float32)

    def shot(image=base, noise=2.5):
        return np.clip(image + rng.normal(0, noise, image.shape), 0, 255).astype(np.uint8)

    return base, shot


def _gate(first):
    gate = MotionGate()
    gate.accept(gate.small(first))
    return gate


def test_noise_light_and_shake_are_no_change(page):
    import cv2

    base, shot = page
    gate = _gate(shot())
    assert gate.compare(gate.small(shot())).kind == "none"
    assert gate.compare(gate.small(shot(base * 0.7 + 10))).kind == "none"  # the light fell
    moved = cv2.warpAffine(base, np.float32([[1, 0, 6], [0, 1, -3]]), (640, 480), borderMode=cv2.BORDER_REPLICATE)
    change = gate.compare(gate.small(shot(moved)))
    assert change.kind == "none" and abs(change.shift[0] - 6) < 1.5 and abs(change.shift[1] + 3) < 1.5


def test_ink_that_comes_or_goes_is_a_change_where_it_is(page):
    import cv2

    base, shot = page
    gate = _gate(shot())
    written = base.astype(np.uint8)
    cv2.putText(written, "9", (300, 400), cv2.FONT_HERSHEY_SIMPLEX, 2.0, 50, 4)
    written = written.astype(np.float32)
    change = gate.compare(gate.small(shot(written)))
    assert change.kind == "region"
    x, y, w, h = change.spots[0]
    assert 280 <= x + w / 2 <= 360 and 330 <= y + h / 2 <= 410
    erased = base.copy()
    erased[140:210, 250:320] = 210  # one digit rubbed out
    assert gate.compare(gate.small(shot(erased))).kind == "region"
    covered = base.copy()
    covered[:, :400] = 120  # a hand over most of the page
    assert gate.compare(gate.small(shot(covered))).kind == "full"


@pytest.fixture(scope="module")
def reader(mnist):
    from edgedigits import runtime

    classifier = runtime.load(runtime.default_model())
    images, labels = gating.usable_digits(classifier, mnist.test.images[:2000], mnist.test.labels[:2000])
    return classifier, images, labels


@pytest.mark.parametrize("name", clips.CLIPS)
def test_gated_readings_equal_reading_every_frame(reader, name):
    """Each clip (events five times as often as in the benchmark): once the latency of 2 frames is over, the gated
    reading is the full re-read's, on every frame; and the gate keeps most frames."""
    classifier, images, labels = reader
    clip = clips.make_clip(name, images, labels, seconds=4, seed=5, pace=5)
    encoded = gating.encode(clip)
    ungated = gating.play(clip, classifier, gated=False, encoded=encoded)
    gated = gating.play(clip, classifier, gated=True, encoded=encoded)
    found = gating.compare(ungated, gated, clip.changing)
    assert found["disagreements"] == [] and found["max_latency"] <= gating.LATENCY
    kinds = [r["reread"] for r in gated]
    assert kinds[0] == "full" and kinds.count("none") >= 0.5 * len(kinds)
    if name == "written":
        assert found["changes"] >= 3 and "region" in kinds  # digits written and erased, read in their lines
    truth, still = [clip.truth(i) for i in range(clip.frames)], gating.still(clip.frames, clip.changing)
    assert gating.summary(gated, truth, still)["accuracy"] >= gating.summary(ungated, truth, still)["accuracy"]
