import io
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request

import numpy as np
import pytest

from edgedigits import runtime
from edgedigits.errors import EdgeDigitsError
from edgedigits.measure import scenes
from edgedigits.reader.camera import CameraOptions, run
from edgedigits.reader.outputs.live import LiveServer
from edgedigits.reader.sources import Source
from edgedigits.runtime.bundled import bundled
from tests.helpers import ROOT, free_port, mjpeg_source, run_cli, wait_for_port

DIGIT_KEYS = {"box", "digit", "confidence"}


@pytest.fixture(scope="module")
def scene_files(mnist, tmp_path_factory):
    import cv2

    rng = np.random.default_rng(21)
    folder = tmp_path_factory.mktemp("scenes")
    made = []
    for i in range(3):
        scene = scenes.make_scene(rng, mnist.test.images, mnist.test.labels, n=6)
        cv2.imwrite(str(folder / f"scene{i}.png"), scene.image)
        made.append(scene)
    return folder, made


@pytest.fixture(scope="module")
def clip(mnist, tmp_path_factory):
    """A 3-second clip of one still scene, written with cv2.VideoWriter."""
    import cv2

    scene = scenes.make_scene(np.random.default_rng(3), mnist.test.images, mnist.test.labels, n=8)
    path = tmp_path_factory.mktemp("clip") / "clip.mp4"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10.0, (640, 480))
    rng = np.random.default_rng(0)
    for _ in range(30):
        noisy = np.clip(scene.image.astype(np.int16) + rng.integers(-3, 4, scene.image.shape), 0, 255)
        writer.write(noisy.astype(np.uint8))
    writer.release()
    return path, scene


def test_camera_reads_a_video_file(clip):
    path, scene = clip
    proc = run_cli("camera", "--source", path, "--json")
    assert proc.returncode == 0, proc.stderr
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    assert len(lines) == 30
    for i, frame in enumerate(lines):
        assert frame["frame"] == i and isinstance(frame["timestamp"], float)
        read = {"preprocess", "infer"} if frame["reread"] != "none" else set()
        assert set(frame["ms"]) == {"capture", "total", "cpu"} | read
        assert frame["fps"] > 0
        for digit in frame["digits"]:
            assert set(digit) == DIGIT_KEYS and len(digit["box"]) == 4 and 0 <= digit["digit"] <= 9
        for number in frame["numbers"]:
            assert set(number) == {"text", "box"}
    rereads = [frame["reread"] for frame in lines]
    assert rereads[0] == "full" and rereads.count("none") >= 25  # a still scene is read once, then kept
    truth = sorted(scene.labels)
    hits = sum(sorted(d["digit"] for d in frame["digits"]) == truth for frame in lines)
    assert hits >= 27, f"only {hits}/30 frames read {truth}"
    assert "30 frames" in proc.stderr  # the summary at the end of the file


def test_predict_json_schema_and_annotate(scene_files, tmp_path):
    folder, made = scene_files
    proc = run_cli("predict", folder, "--json", "--annotate", tmp_path)
    assert proc.returncode == 0, proc.stderr
    results = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [r["image"].rsplit("/", 1)[-1] for r in results] == ["scene0.png", "scene1.png", "scene2.png"]
    for result, scene in zip(results, made):
        assert set(result) == {"image", "digits", "numbers", "reading"}
        assert sorted(d["digit"] for d in result["digits"]) == sorted(scene.labels)
        assert "".join(n["text"] for n in result["numbers"]) == "".join(scene.numbers)
        assert result["reading"].replace("-", "") == "".join(scene.numbers)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["scene0.png", "scene1.png", "scene2.png"]


def test_kaggle_submission(mnist, tmp_path):
    images = mnist.test.images[:200]
    rows = [",".join(f"pixel{i}" for i in range(784))]
    rows += [",".join(map(str, img.reshape(-1))) for img in images]
    (tmp_path / "test.csv").write_text("\n".join(rows) + "\n")
    out = tmp_path / "submission.csv"
    proc = run_cli("predict", "--kaggle", tmp_path / "test.csv", "-o", out)
    assert proc.returncode == 0, proc.stderr
    lines = out.read_text().splitlines()
    assert lines[0] == "ImageId,Label" and len(lines) == 201 and lines[1].startswith("1,")
    predicted = np.array([int(line.split(",")[1]) for line in lines[1:]])
    assert np.mean(predicted == mnist.test.labels[:200]) >= 0.98


@pytest.mark.parametrize("suffix,content", [
    (".tflite", b"\x00" * 64),
    (".tflite", None),  # truncated real model
    (".tflite", b"\x1c\x00\x00\x00TFL3" + b"\xff" * 200),  # right identifier, offsets outside the file
    (".onnx", b"this is not protobuf at all \x00\x01\x02"),
    (".onnx", b""),
])
def test_corrupt_models_give_one_line(tmp_path, suffix, content):
    path = tmp_path / f"bad{suffix}"
    path.write_bytes(bundled("seed", ".int8.tflite").read_bytes()[:5000] if content is None else content)
    with pytest.raises(EdgeDigitsError):
        runtime.load(path)
    proc = run_cli("predict", "--model", path, tmp_path)
    assert proc.returncode == 1 and "Traceback" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1 and str(path) in proc.stderr


def test_missing_source_and_bad_roi(tmp_path):
    proc = run_cli("camera", "--source", tmp_path / "nope.mp4")
    assert proc.returncode == 1 and "no such camera, file or folder" in proc.stderr
    proc = run_cli("camera", "--roi", "1,2,3")
    assert proc.returncode == 2 and "x,y,w,h" in proc.stderr


def test_mjpeg_preview_binds_loopback():
    server = LiveServer("0")  # port 0: any free port, host defaults to 127.0.0.1
    try:
        assert server.url.startswith("http://127.0.0.1:")
        server.publish(np.zeros((48, 64, 3), np.uint8))
        with urllib.request.urlopen(server.url + "stream.mjpg", timeout=10) as resp:
            assert resp.headers["Content-Type"].startswith("multipart/x-mixed-replace")
            server.publish(np.full((48, 64, 3), 255, np.uint8))
            chunk = resp.read(200)
        assert b"--frame" in chunk and b"image/jpeg" in chunk
    finally:
        server.close()


class _Flaky(Source):
    """A live source that drops once, then comes back."""

    live = True

    def __init__(self, frame):
        self.frame, self.calls, self.reopened = frame, 0, 0

    def read(self):
        self.calls += 1
        return None if self.calls == 2 else self.frame

    def reopen(self):
        self.reopened += 1


def test_reconnects_after_a_drop(monkeypatch, clip):
    import cv2

    from edgedigits.reader import camera

    cap = cv2.VideoCapture(str(clip[0]))
    ok, frame = cap.read()
    cap.release()
    flaky = _Flaky(frame)
    monkeypatch.setattr(camera, "open_source", lambda spec: flaky)
    out = io.StringIO()
    summary = run(CameraOptions(source="x", json_lines=True, max_frames=3), runtime.load(bundled("seed", ".int8.tflite")),
                  out=out)
    assert flaky.reopened == 1 and summary["frames"] == 3
    assert len(out.getvalue().splitlines()) == 3


def test_mutated_tflite_files_never_crash_the_process(tmp_path):
    """Hundreds of byte-flipped and truncated copies of the real model: each loads or fails cleanly, no segfault."""
    import subprocess
    import sys

    script = f"""
import json
import numpy as np
from pathlib import Path
from edgedigits import runtime
from edgedigits.errors import EdgeDigitsError
blob = Path({str(bundled("micro", ".int8.tflite"))!r}).read_bytes()
rng = np.random.default_rng(0)
target = Path({str(tmp_path / "m.tflite")!r})
outcomes = {{"loaded": 0, "refused": 0, "truncated_loaded": 0}}
for i in range(300):
    data = bytearray(blob)
    if i % 3 == 0:
        data = data[: int(rng.integers(8, len(data)))]
    for _ in range(int(rng.integers(1, 20))):
        pos = int(rng.integers(0, min(len(data), 4096 if i % 2 else len(data))))
        data[pos] = int(rng.integers(0, 256))
    target.write_bytes(bytes(data))
    try:
        clf = runtime.load(target)
        clf.predict(np.zeros((1, 28, 28), np.uint8))
        outcomes["loaded"] += 1
        outcomes["truncated_loaded"] += i % 3 == 0
    except EdgeDigitsError:
        outcomes["refused"] += 1
print(json.dumps(outcomes))
"""
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, f"exit {proc.returncode}: {proc.stderr[-1500:]}"
    outcomes = json.loads(proc.stdout.strip().splitlines()[-1])
    assert outcomes["loaded"] + outcomes["refused"] == 300
    assert outcomes["truncated_loaded"] == 0  # every one of the 100 truncated copies is refused
    assert outcomes["refused"] >= 100 and outcomes["loaded"] > 0  # flips in weights still load, and run


def test_sigterm_releases_and_flushes(clip):
    import os
    import signal
    import subprocess
    import sys

    proc = subprocess.Popen([sys.executable, "-m", "edgedigits", "camera", "--source", str(clip[0]), "--json",
                             "--max-fps", "5"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    first = proc.stdout.readline()  # one frame is out: the loop is running
    os.kill(proc.pid, signal.SIGTERM)
    rest, err = proc.communicate(timeout=30)
    assert proc.returncode == 0, err
    lines = [first, *rest.splitlines()]
    assert all(json.loads(line)["frame"] == i for i, line in enumerate(lines))
    assert len(lines) < 30  # stopped early, not at the end of the file
    assert f"{len(lines)} frames in" in err


def test_missing_camera_is_one_line():
    proc = run_cli("camera", "--source", "7")
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines() == ["error: cannot open video source 7"]


def test_predict_many_matches_predict(mnist):
    clf = runtime.load(bundled("micro", ".int8.tflite"))
    images = mnist.test.images[:1234]
    np.testing.assert_array_equal(clf.predict_many(images, batch=500), clf.predict(images))
    assert clf.classes == 11 and clf.predict_many(images[:0]).shape == (0, 11)


def test_camera_debug_keeps_the_latest_frames(clip, tmp_path):
    """camera --debug DIR: a stage picture per frame, only the latest --debug-frames kept; a folder that cannot be
    made is one line."""
    import cv2

    path, _ = clip
    proc = run_cli("camera", "--source", path, "--max-frames", "12", "--debug", tmp_path / "dbg", "--debug-frames", "5",
                   "--no-gate")
    assert proc.returncode == 0, proc.stderr
    written = sorted(p.name for p in (tmp_path / "dbg").iterdir())
    assert written == [f"frame-{i:06d}.debug.png" for i in range(7, 12)]
    proc = run_cli("camera", "--source", path, "--max-frames", "12", "--debug", tmp_path / "gated")
    assert proc.returncode == 0, proc.stderr
    assert "frame-000000.debug.png" in {p.name for p in (tmp_path / "gated").iterdir()}  # the frames read
    picture = cv2.imread(str(tmp_path / "dbg" / written[-1]))
    assert picture is not None and picture.shape[1] >= 3 * 400  # three stages a row
    blocker = tmp_path / "file"
    blocker.write_text("x")
    proc = run_cli("camera", "--source", path, "--max-frames", "1", "--debug", blocker / "dbg")
    assert proc.returncode != 0 and len(proc.stderr.strip().splitlines()) == 1, proc.stderr


def test_sighup_loads_the_model_made_the_default(number_frame, tmp_path):
    """`edgedigits models use` while the camera runs, then SIGHUP: the live page's status names the new model."""
    import shutil

    env = {**os.environ, "EDGEDIGITS_HOME": str(tmp_path / "home")}
    mine = tmp_path / "mine.int8.tflite"
    shutil.copyfile(bundled("micro", ".int8.tflite"), mine)
    port = free_port()
    with mjpeg_source(number_frame[0]) as source:
        proc = subprocess.Popen([sys.executable, "-m", "edgedigits", "camera", "--source", source[0],
                                 "--serve", f"127.0.0.1:{port}"], cwd=ROOT, env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        try:
            wait_for_port(port, proc)
            status = f"http://127.0.0.1:{port}/api/status"
            assert _json(status)["model"] == "camera.int8.tflite"
            deadline = time.time() + 60
            while not _json(status)["frames"]:
                assert time.time() < deadline, "no frame reached the live page"
                time.sleep(0.2)
            gate = _json(status)["gate"]  # the motion gate's share of each kind of frame, and CPU per frame
            assert abs(sum(gate["reread"].values()) - 1) < 1e-3 and gate["reread"]["full"] > 0
            assert gate["cpu_ms_per_frame"] > 0
            assert run_cli("models", "use", mine, env=env).returncode == 0
            proc.send_signal(signal.SIGHUP)
            deadline = time.time() + 60
            while _json(status)["model"] != "mine.int8.tflite":
                assert time.time() < deadline, "the model was not reloaded"
                time.sleep(0.2)
        finally:
            proc.send_signal(signal.SIGTERM)
            _, stderr = proc.communicate(timeout=30)
    assert "model reloaded: mine.int8.tflite" in stderr


def _json(url):
    with urllib.request.urlopen(url, timeout=10) as r:
        return json.loads(r.read())
