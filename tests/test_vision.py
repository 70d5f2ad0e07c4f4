import subprocess
import sys

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from edgedigits import runtime, scenes, vision
from edgedigits.camera import Smoother
from edgedigits.models import bundled
from edgedigits.preprocess import normalize_digit
from tests.conftest import needs_mnist


@pytest.fixture(scope="module")
def int8():
    path = bundled("seed", ".int8.tflite")
    if not path.exists():
        pytest.fail(f"bundled {path} is missing")
    return runtime.load(path)


@needs_mnist
def test_clean_scenes_acceptance(mnist, int8):
    t = scenes.evaluate(int8, mnist.test.images, mnist.test.labels, hard=False, frames=100, seed=11)
    assert t["truth"] >= 900
    assert t["recall"] >= 0.99 and t["precision"] >= 0.98 and t["accuracy"] >= 0.98, t


@needs_mnist
def test_hard_scenes_acceptance(mnist, int8):
    t = scenes.evaluate(int8, mnist.test.images, mnist.test.labels, hard=True, frames=100, seed=12)
    assert t["accuracy"] >= 0.95, t


@needs_mnist
def test_normalize_digit_rebuilds_mnist(mnist, int8):
    """Upscaled MNIST digits, normalised again, keep MNIST's geometry and the model's accuracy."""
    import cv2

    images, labels = mnist.test.images[:1000], mnist.test.labels[:1000]
    again = np.stack([normalize_digit(cv2.resize(img, (84, 84), interpolation=cv2.INTER_LINEAR)) for img in images])
    ys, xs = np.mgrid[0:28, 0:28]
    mass = again.astype(np.float64).sum((1, 2))
    assert abs(((again * ys).sum((1, 2)) / mass).mean() - 14.0) < 0.1
    assert abs(((again * xs).sum((1, 2)) / mass).mean() - 14.0) < 0.1
    boxes = [np.ptp(np.nonzero(a)[0]) + 1 for a in again] + [np.ptp(np.nonzero(a)[1]) + 1 for a in again]
    assert max(boxes) <= 21
    original = np.mean(int8.predict(images).argmax(1) == labels)
    renormalised = np.mean(int8.predict(again).argmax(1) == labels)
    assert renormalised >= original - 0.01


def test_normalize_digit_contract():
    blank = normalize_digit(np.zeros((50, 30), np.uint8))
    assert blank.shape == (28, 28) and blank.dtype == np.uint8 and not blank.any()
    bar = np.zeros((60, 10), np.uint8)
    bar[5:55, 3:7] = 200
    out = normalize_digit(bar)
    rows = np.nonzero(out.any(1))[0]
    assert np.ptp(rows) + 1 == 20 and out.max() == 255  # tallest side scaled to 20, contrast stretched


@needs_mnist
def test_light_on_dark_reads_like_dark_on_light(mnist, int8):
    rng = np.random.default_rng(5)
    scene = scenes.make_scene(rng, mnist.test.images, mnist.test.labels, n=8)
    dark, _ = vision.read_frame(scene.image, int8)
    light, _ = vision.read_frame(255 - scene.image, int8)
    assert [d.label for d in dark] == [d.label for d in light]
    assert len(dark) == len(scene.boxes)


def test_empty_paper_has_no_digits():
    rng = np.random.default_rng(0)
    paper = np.clip(rng.normal(210, 4, (480, 640, 3)), 0, 255).astype(np.uint8)
    assert vision.find_digits(paper) == []


@pytest.mark.parametrize("shape", [(1, 1), (1, 1, 3), (2, 500, 3), (480, 640), (8000, 8000)])
@pytest.mark.parametrize("value", [0, 255])
def test_degenerate_frames_never_crash(shape, value):
    assert vision.find_digits(np.full(shape, value, np.uint8)) == []


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(h=st.integers(1, 300), w=st.integers(1, 300), channels=st.sampled_from([None, 1, 3, 4]),
       seed=st.integers(0, 2**31 - 1), kind=st.sampled_from(["noise", "blocks", "lines"]))
def test_random_frames_never_crash(h, w, channels, seed, kind):
    rng = np.random.default_rng(seed)
    shape = (h, w) if channels is None else (h, w, channels)
    if kind == "noise":
        frame = rng.integers(0, 256, shape, dtype=np.uint8)
    else:
        frame = np.full(shape, int(rng.integers(0, 256)), np.uint8)
        for _ in range(5):
            y, x = int(rng.integers(0, h)), int(rng.integers(0, w))
            if kind == "blocks":
                frame[y : y + int(rng.integers(1, 60)), x : x + int(rng.integers(1, 60))] = int(rng.integers(0, 256))
            else:
                frame[y, :] = int(rng.integers(0, 256))
    for det in vision.find_digits(frame):
        x, y, bw, bh = det.box
        assert 0 <= x and 0 <= y and x + bw <= w and y + bh <= h
        assert det.digit.shape == (28, 28)


def _det(box, label, conf=0.9):
    d = vision.Detection(box, np.zeros((28, 28), np.uint8))
    d.label, d.confidence = label, conf
    return d


def test_grouping_into_numbers():
    dets = [_det((10 + 40 * i, 100, 30, 50), d) for i, d in enumerate([2, 0, 2, 4])]
    dets += [_det((400, 105, 30, 50), 7), _det((440, 100, 30, 50), 1)]  # a second number on the same line
    dets += [_det((10, 300, 30, 50), 5)]  # a second line
    numbers = vision.group_numbers(list(reversed(dets)))
    assert [n.text for n in numbers] == ["2024", "71", "5"]
    assert numbers[0].box == (10, 100, 150, 50)


def test_smoothing_stops_flicker():
    smoother = Smoother(window=5)
    seen = []
    for label in [3, 3, 8, 3, 3, 3]:
        (det,) = smoother.update([_det((100, 100, 30, 50), label, 0.8)])
        seen.append(det.label)
    assert seen == [3] * 6
    assert len(smoother.tracks) == 1
    for _ in range(5):  # the digit leaves: its track ages out
        smoother.update([])
    assert smoother.tracks == []


def test_runtime_never_imports_tensorflow(tmp_path):
    models = [bundled("seed", ".int8.tflite"), bundled("seed", ".onnx")]
    script = f"""
import sys, numpy as np
from edgedigits import runtime, vision, camera
for path in {[str(m) for m in models]!r}:
    clf = runtime.load(path)
    assert clf.predict(np.zeros((2, 28, 28), np.uint8)).shape == (2, 10)
vision.find_digits(np.zeros((100, 100), np.uint8))
bad = [m for m in sys.modules if m == "tensorflow" or m.startswith(("tensorflow.", "keras"))]
print("TF-FREE" if not bad else bad)
"""
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "TF-FREE"


@needs_mnist
@pytest.mark.parametrize("n", [1, 20, 40])
def test_scenes_stay_inside_the_frame(mnist, n):
    for seed in range(5):
        scene = scenes.make_scene(np.random.default_rng(seed), mnist.test.images, mnist.test.labels, n=n, hard=True)
        assert scene.image.shape == (480, 640, 3)
        assert 1 <= len(scene.boxes) <= n and len(scene.boxes) == len(scene.labels)
        for x, y, w, h in scene.boxes:
            assert 0 <= x and 0 <= y and x + w <= 640 and y + h <= 480
