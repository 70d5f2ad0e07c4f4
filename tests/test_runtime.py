"""One predict API: probabilities that mean the same thing in every format, and only digit classifiers."""

import numpy as np
import pytest

from edgedigits import runtime
from edgedigits.digit import NOT_A_DIGIT
from edgedigits.errors import EdgeDigitsError
from edgedigits.runtime.bundled import bundled
from tests.helpers import onnx_classifier

FILES = [("camera", ".int8.tflite"), ("camera", ".onnx"), ("micro", ".int8.tflite"), ("seed", ".int8.tflite"),
         ("seed", ".onnx")]


@pytest.fixture(scope="module")
def loaded():
    return {name + suffix: runtime.load(bundled(name, suffix)) for name, suffix in FILES}


def test_classes_come_from_the_model(loaded):
    assert {k: c.classes for k, c in loaded.items()} == {
        "camera.int8.tflite": 11, "camera.onnx": 11, "micro.int8.tflite": 11, "seed.int8.tflite": 10,
        "seed.onnx": 10}


def test_probabilities_sum_to_one_in_every_format(loaded, mnist):
    for name, clf in loaded.items():
        probs = clf.predict(mnist.test.images[:64])
        assert probs.shape == (64, clf.classes), name
        np.testing.assert_allclose(probs.sum(1), 1.0, rtol=1e-5, err_msg=name)


def test_min_confidence_means_the_same_for_int8_and_float(loaded, mnist):
    """int8 outputs top out at 255/256; divided by their sum they reach 1.0 like float ones."""
    images = mnist.test.images[:500]
    for model in ("camera", "seed"):
        int8 = loaded[f"{model}.int8.tflite"].predict(images).max(1)
        floats = loaded[f"{model}.onnx"].predict(images).max(1)
        assert int8.max() == pytest.approx(1.0)
        sure_int8, sure_float = int(np.sum(int8 >= 0.997)), int(np.sum(floats >= 0.997))
        assert sure_float > 250 and abs(sure_int8 - sure_float) < 0.1 * sure_float, (model, sure_int8, sure_float)


def test_camera_model_rejects_what_is_not_a_digit(loaded):
    import cv2

    blob = np.zeros((28, 28), np.uint8)
    cv2.circle(blob, (14, 14), 9, 255, -1)  # a filled dot: a blot, no digit
    bar = np.zeros((28, 28), np.uint8)
    bar[12:16, 4:24] = 255  # a piece of a ruled line
    for name in ("camera.int8.tflite", "camera.onnx"):
        assert list(loaded[name].predict(np.stack([blob, bar])).argmax(1)) == [NOT_A_DIGIT] * 2, name


def test_a_model_of_another_class_count_is_refused(tmp_path):
    with pytest.raises(EdgeDigitsError, match="has 3 outputs; a digit classifier has 10"):
        runtime.load(onnx_classifier(tmp_path / "three.onnx", outputs=3))
    assert runtime.load(onnx_classifier(tmp_path / "eleven.onnx", outputs=11)).classes == 11


def test_bundled_names_resolve():
    assert runtime.resolve(None) == runtime.default_model() == bundled("camera", ".int8.tflite")
    assert runtime.resolve("seed") == bundled("seed", ".int8.tflite")
    assert str(runtime.resolve("my.onnx")) == "my.onnx"


def test_tflite_checks_without_litert(monkeypatch):
    """Without ai-edge-litert the flatbuffer schema comes from tflite-micro or TensorFlow, and the deep check
    still refuses a bad offset; with no schema at all, it says that only the header was checked."""
    import warnings

    from edgedigits.runtime import tflite_file

    good = bundled("micro", ".int8.tflite").read_bytes()
    without_litert = tuple(m for m in tflite_file.SCHEMA_MODULES if not m.startswith("ai_edge_litert"))
    rng = np.random.default_rng(1)
    caught_deep = 0
    for _ in range(100):  # copies with bytes flipped in the tables: some pass the header check alone
        blob = bytearray(good)
        for pos in rng.integers(8, 2048, 8):
            blob[pos] = int(rng.integers(0, 256))
        monkeypatch.setattr(tflite_file, "SCHEMA_MODULES", ("no_such_module.schema",))
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                tflite_file.check(bytes(blob), "flipped.tflite")
        except EdgeDigitsError:
            continue  # the header check alone refuses it
        monkeypatch.setattr(tflite_file, "SCHEMA_MODULES", without_litert)
        try:
            tflite_file.check(bytes(blob), "flipped.tflite")
        except EdgeDigitsError as exc:
            caught_deep += "corrupt" in str(exc)
    assert caught_deep >= 1  # the walk ran on tflite-micro's schema and refused what the header let through
    assert "ai_edge_litert" not in tflite_file.schema().__name__
    assert tflite_file.inspect(good, "micro")["io"]["output"]["shape"] == [1, 11]

    monkeypatch.setattr(tflite_file, "SCHEMA_MODULES", ("no_such_module.schema",))
    with pytest.warns(UserWarning, match="only the header"):
        tflite_file.check(good, "micro.int8.tflite")
    with pytest.raises(EdgeDigitsError, match="flatbuffer schema"), pytest.warns(UserWarning):
        tflite_file.inspect(good, "micro.int8.tflite")
