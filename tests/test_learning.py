"""The learning loop end to end, as a user runs it: predict --collect on photos of a writing style the bundled
model misreads (seven-segment digits), label every crop through the review API, fine-tune (small: 2 epochs on
6,000 MNIST digits and the crops), models use, predict reads them, models use camera, the old answers are back.
And the store: a damaged model file is refused in one line and the bundled model is used."""

import json

import numpy as np
import pytest

from edgedigits.crops.review import ReviewServer
from edgedigits.measure import styles
from edgedigits.measure.scenes import iou
from tests.helpers import run_cli
from tests.test_crops import _call


def _pages(folder, seed, count):
    import cv2

    folder.mkdir(parents=True, exist_ok=True)
    rng, truth = np.random.default_rng(seed), {}
    for k in range(count):
        image, boxes, labels = styles.make_page(rng)
        path = folder / f"page{k:02d}.png"
        cv2.imwrite(str(path), image)
        truth[str(path)] = list(zip(boxes, labels))
    return truth


def _read(folder, truth, env):
    proc = run_cli("predict", folder, "--json", env=env)
    assert proc.returncode == 0, proc.stderr
    right = total = 0
    answers = {}
    for line in proc.stdout.splitlines():
        result = json.loads(line)
        answers[result["image"]] = result["reading"]
        for box, label in truth[result["image"]]:
            total += 1
            right += any(iou(d["box"], box) >= 0.5 and d["digit"] == label for d in result["digits"])
    return right / total, answers


@pytest.mark.mnist
def test_the_learning_loop_end_to_end(tmp_path, mnist):
    env = {"EDGEDIGITS_HOME": str(tmp_path / "home")}
    crops = tmp_path / "mine"
    truth = _pages(tmp_path / "seen", 1, 50)
    proc = run_cli("predict", tmp_path / "seen", "--collect", crops, "--collect-below", "1", env=env)
    assert proc.returncode == 0, proc.stderr

    server = ReviewServer(crops, "127.0.0.1:0")  # label every crop through the API, as the page does
    try:
        base = server.url.rstrip("/")
        listing = _call(f"{base}/api/crops")[1]["crops"]
        for crop in listing:
            label = next((str(d) for box, d in truth[crop["image"]] if iou(crop["box"], box) >= 0.5), "not-a-digit")
            assert _call(f"{base}/api/crops/{crop['id']}", {"label": label})[0] == 200
        counts = _call(f"{base}/api/crops")[1]["counts"]
    finally:
        server.close()
    assert counts["unlabelled"] == 0 and min(counts[str(d)] for d in range(10)) >= 10, counts

    held = _pages(tmp_path / "held", 2, 12)
    before, old_answers = _read(tmp_path / "held", held, env)
    assert before <= 0.9  # a style the bundled model misreads

    run = tmp_path / "run"
    proc = run_cli("train", "--arch", "camera", "--init-from", "camera", "--user-data", crops, "--epochs", "2",
                   "--limit", "6000", "--lr", "3e-4", "--seed", "7", "--val-seed", "42", "--out", run, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    metrics = json.loads((run / "metrics.json").read_text())
    assert metrics["user"]["after"]["accuracy"] > metrics["user"]["before"]["accuracy"]

    proc = run_cli("models", "use", run, env=env)
    assert proc.returncode == 0, proc.stderr[-2000:]
    after, _ = _read(tmp_path / "held", held, env)
    assert after >= 0.95 and after > before, (before, after)
    listing = run_cli("models", env=env).stdout
    assert "run" in listing and "yours" in listing

    proc = run_cli("models", "use", "camera", env=env)
    assert proc.returncode == 0, proc.stderr
    assert _read(tmp_path / "held", held, env)[1] == old_answers

    # A damaged file: refused at load in one line, and the bundled model reads instead.
    model = tmp_path / "home" / "models" / "run" / "run.int8.tflite"
    assert run_cli("models", "use", model, env=env).returncode == 0
    blob = bytearray(model.read_bytes())
    blob[len(blob) // 2] ^= 0xFF
    model.write_bytes(blob)
    proc = run_cli("predict", tmp_path / "held", "--json", env=env)
    assert proc.returncode == 0
    warnings = [line for line in proc.stderr.splitlines() if "SHA-256" in line]
    assert len(warnings) == 1 and "using the bundled camera model" in warnings[0]
    assert {json.loads(line)["image"]: json.loads(line)["reading"] for line in proc.stdout.splitlines()} == old_answers


def test_models_use_refuses_what_is_not_better(tmp_path):
    run = tmp_path / "run"
    run.mkdir()
    (run / "model.keras").write_bytes(b"PK")
    (run / "metrics.json").write_text(json.dumps({"accuracy": 0.990, "mnist_before": 0.9961,
                                                  "user": {"before": {"accuracy": 0.6}, "after": {"accuracy": 0.5}}}))
    proc = run_cli("models", "use", run, env={"EDGEDIGITS_HOME": str(tmp_path / "home")})
    assert proc.returncode != 0 and len(proc.stderr.strip().splitlines()) == 1
    assert "MNIST fell 0.61 pp" in proc.stderr and "did not improve" in proc.stderr
    assert not (tmp_path / "home" / "current.json").exists()
    proc = run_cli("models", "use", tmp_path / "nothing", env={"EDGEDIGITS_HOME": str(tmp_path / "home")})
    assert proc.returncode != 0 and len(proc.stderr.strip().splitlines()) == 1
