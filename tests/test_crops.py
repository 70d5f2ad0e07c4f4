"""The user's crops: collected by predict and camera (once per near-duplicate, bounded), the folder format (bad
files named and left out), the review API and the review page in a real browser (keyboard labelling, undo, counts).
"""

import json
import shutil
import urllib.error
import urllib.request

import numpy as np
import pytest

from edgedigits.crops import folder
from edgedigits.crops.collect import Collector, cut, perceptual_hash
from edgedigits.crops.review import ReviewServer
from edgedigits.measure import scenes
from edgedigits.reader.vision import Detection
from tests.helpers import ROOT, run_cli

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SIDECAR = {"image", "box", "digit", "confidence", "model", "time"}


@pytest.fixture(scope="module")
def scene_file(mnist, tmp_path_factory):
    import cv2

    scene = scenes.make_scene(np.random.default_rng(5), mnist.test.images, mnist.test.labels, n=6)
    path = tmp_path_factory.mktemp("scene") / "scene.png"
    cv2.imwrite(str(path), scene.image)
    return path, scene


def _detection(label, confidence, box=(10, 10, 20, 30), seed=0):
    digit = np.random.default_rng(seed).integers(0, 256, (28, 28)).astype(np.uint8)
    d = Detection(box, digit)
    d.label, d.confidence = label, confidence
    return d


def test_predict_collects_every_digit_once_with_its_sidecar(scene_file, tmp_path):
    path, scene = scene_file
    proc = run_cli("predict", path, "--collect", tmp_path / "mine", "--collect-below", "1")
    assert proc.returncode == 0, proc.stderr
    crops = folder.scan(tmp_path / "mine")
    assert len(crops) == len(scene.labels) and all(c.state == "unlabelled" for c in crops)
    for crop in crops:
        assert set(crop.meta) == SIDECAR and crop.meta["image"] == str(path)
        assert crop.meta["model"]["file"] == "camera.int8.tflite" and len(crop.meta["model"]["sha256"]) == 64
        assert folder.read_grey(crop.image) is not None and folder.read_grey(crop.seen).shape == (28, 28)
    assert f"collected {len(crops)} digits" in proc.stderr
    proc = run_cli("predict", path, "--collect", tmp_path / "sure", "--collect-below", "0")  # nothing is below 0
    assert proc.returncode == 0 and folder.scan(tmp_path / "sure") == []


def test_a_still_digit_is_collected_once_and_the_folder_is_bounded(tmp_path):
    frame = np.full((200, 300), 230, np.uint8)
    frame[20:50, 15:25] = 20
    collector = Collector(tmp_path, below=1.0)
    for _ in range(20):  # the same digit, frame after frame
        collector.add(frame, [_detection(1, 0.5)], "camera:0")
    assert collector.saved == 1
    collector.add(frame, [_detection(1, 0.5, seed=1)], "camera:0")  # another digit at that place
    collector.add(frame, [_detection(1, 0.5, box=(100, 100, 20, 30))], "camera:0")  # the same digit elsewhere
    assert collector.saved == 3
    small = Collector(tmp_path / "small", below=1.0, max_mb=0.004)  # about 4 KB: room for a few crops
    for k in range(40):
        small.add(frame, [_detection(k % 10, 0.5, box=(k * 5, 10, 20, 30), seed=k)], "x.png")
    kept = folder.scan(tmp_path / "small")
    size = sum(f.stat().st_size for f in (tmp_path / "small" / "unlabelled").iterdir())
    assert 1 <= len(kept) < 40 and size <= 0.004 * 1024 * 1024
    assert kept[-1].meta["box"][0] == 39 * 5  # the newest stay, the oldest went first


def test_a_crop_is_dark_ink_on_light_paper_whatever_the_board():
    board = np.full((100, 100), 30, np.uint8)
    board[40:60, 45:50] = 220  # chalk
    crop = cut(board, (45, 40, 5, 20))
    assert np.median(crop) > 128 and crop.min() < 64
    assert perceptual_hash(np.zeros((28, 28))) == 0


def test_bad_files_are_named_and_left_out(tmp_path):
    import cv2

    (tmp_path / "7").mkdir()
    (tmp_path / "12").mkdir()  # no such class
    cv2.imwrite(str(tmp_path / "7" / "a.png"), np.full((40, 30), 200, np.uint8))
    (tmp_path / "7" / "a.json").write_text("{not json")
    (tmp_path / "7" / "b.png").write_bytes(b"not a png")
    warnings = []
    crops = folder.scan(tmp_path, warn=warnings.append)
    assert sorted(c.id for c in crops) == ["a", "b"]
    assert len(warnings) == 2 and any("12" in w for w in warnings) and any("a.json" in w for w in warnings)
    assert folder.read_grey(tmp_path / "7" / "b.png") is None  # a corrupt image: None, the caller names it
    moved = folder.move(tmp_path, crops[0], "not-a-digit")
    assert (tmp_path / "not-a-digit" / "a.png").is_file() and not (tmp_path / "7" / "a.json").exists()
    assert folder.counts(folder.scan(tmp_path)) == {**{s: 0 for s in folder.STATES}, "7": 1, "not-a-digit": 1}
    with pytest.raises(Exception, match="unknown label"):
        folder.move(tmp_path, moved, "eleven")


@pytest.fixture
def collected(tmp_path):
    frame = np.full((200, 300), 230, np.uint8)
    collector = Collector(tmp_path / "mine", below=1.0)
    for k in range(3):
        collector.add(frame, [_detection(k, 0.4, box=(40 * k + 5, 20, 20, 30), seed=k)], "page.png")
    return tmp_path / "mine"


def _call(url, body=None, token=None):
    headers = {"Content-Type": "application/json"} | ({"Authorization": f"Bearer {token}"} if token else {})
    request = urllib.request.Request(url, data=None if body is None else json.dumps(body).encode(), headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read())


def test_the_review_api_lists_and_labels(collected):
    server = ReviewServer(collected, "127.0.0.1:0")
    base = server.url.rstrip("/")
    try:
        status, listing = _call(f"{base}/api/crops")
        assert status == 200 and len(listing["crops"]) == 3 and listing["counts"]["unlabelled"] == 3
        first = listing["crops"][0]["id"]
        status, answer = _call(f"{base}/api/crops/{first}", {"label": "7"})
        assert status == 200 and answer["crop"]["state"] == "7" and answer["counts"]["7"] == 1
        assert (collected / "7" / f"{first}.png").is_file() and (collected / "7" / f"{first}.28.png").is_file()
        assert _call(f"{base}/api/crops?state=labelled")[1]["crops"][0]["id"] == first
        assert _call(f"{base}/api/crops/{first}", {"label": "eleven"})[0] == 400
        assert _call(f"{base}/api/crops/nope", {"label": "1"})[0] == 404
        assert _call(f"{base}/api/crops/..%2F..%2Fetc", {"label": "1"})[0] == 404
        with urllib.request.urlopen(f"{base}/api/crops/{first}/seen", timeout=10) as r:
            assert r.headers["Content-Type"] == "image/png" and r.read().startswith(b"\x89PNG")
    finally:
        server.close()
    guarded = ReviewServer(collected, "127.0.0.1:0", token="secret")
    try:
        base = guarded.url.split("?")[0].rstrip("/")
        assert _call(f"{base}/api/crops")[0] == 401
        assert _call(f"{base}/api/crops", token="secret")[0] == 200
        assert _call(f"{base}/healthz")[0] == 200
    finally:
        guarded.close()


def test_label_refuses_a_missing_folder_in_one_line(tmp_path):
    proc = run_cli("label", tmp_path / "nope", "--serve", "0")
    assert proc.returncode != 0 and proc.stderr.strip().splitlines() == [
        f"error: {tmp_path / 'nope'} is not a folder of crops (make one with --collect {tmp_path / 'nope'})"]


@pytest.mark.skipif(CHROMIUM is None, reason="no chromium on PATH (apt install chromium)")
def test_the_review_page_labels_with_the_keyboard(collected):
    playwright = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
    server = ReviewServer(collected, "127.0.0.1:0")
    try:
        with playwright.sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"])
            try:
                page = browser.new_page()
                page.goto(server.url)
                page.wait_for_selector(".tile")
                assert page.locator(".tile").count() == 3
                first, second = (page.locator(".tile").nth(i).get_attribute("data-id") for i in (0, 1))
                page.keyboard.press("7")
                page.wait_for_function("() => document.querySelectorAll('.tile').length === 2")
                page.keyboard.press("x")
                page.wait_for_function("() => document.querySelectorAll('.tile').length === 1")
                assert (collected / "7" / f"{first}.png").is_file()
                assert (collected / "not-a-digit" / f"{second}.png").is_file()
                assert page.locator('#counts [data-class="7"]').inner_text() == "7: 1"
                page.keyboard.press("u")  # the "not a digit" taken back
                page.wait_for_function("() => document.querySelectorAll('.tile').length === 2")
                assert (collected / "unlabelled" / f"{second}.png").is_file()
                page.wait_for_function(
                    "() => document.querySelector('#counts [data-class=\"not-a-digit\"]').innerText.endsWith(': 0')")
                (ROOT / "test-artifacts").mkdir(exist_ok=True)
                page.screenshot(path=str(ROOT / "test-artifacts" / "review-page.png"), full_page=True)
            finally:
                browser.close()
    finally:
        server.close()
