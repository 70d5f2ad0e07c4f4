"""Fixtures and hooks. Tests that need MNIST carry ``@pytest.mark.mnist`` and are skipped, with the reason, when
it is absent; every other test runs anywhere."""

import os
import tempfile

import numpy as np
import pytest

from tests.helpers import DATA, HAVE_MNIST

# The tests never see, nor change, the models a user made theirs (``edgedigits models use``).
os.environ["EDGEDIGITS_HOME"] = tempfile.mkdtemp(prefix="edgedigits-home-")


def pytest_collection_modifyitems(config, items):
    """A test that uses the ``mnist`` fixture, even through another fixture, is marked ``mnist`` too."""
    skip = pytest.mark.skip(reason="MNIST not found (set EDGEDIGITS_DATA)")
    for item in items:
        if "mnist" in getattr(item, "fixturenames", ()):
            item.add_marker("mnist")
        if not HAVE_MNIST and "mnist" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def mnist():
    if not HAVE_MNIST:
        pytest.skip("MNIST not found (set EDGEDIGITS_DATA)")
    from edgedigits.training import mnist

    return mnist.load(DATA)


@pytest.fixture(scope="session")
def tiny_digits():
    """Small random uint8 digit sets for format tests: (train_x, train_y, test_x, test_y)."""
    rng = np.random.default_rng(0)
    return (rng.integers(0, 256, (30, 28, 28), dtype=np.uint8), rng.integers(0, 10, 30, dtype=np.uint8),
            rng.integers(0, 256, (12, 28, 28), dtype=np.uint8), rng.integers(0, 10, 12, dtype=np.uint8))


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory, mnist):
    """A seed model trained once for a single epoch on 2,000 images: real weights for the CLI and export tests."""
    from edgedigits.training.train import TrainConfig, train

    out = tmp_path_factory.mktemp("tiny_run")
    cfg = TrainConfig(arch="seed", epochs=1, batch_size=64, val_split=0.1, limit=2000, distribute="none")
    model_path, _, state = train(cfg, out, data=DATA, verbose=0)
    return model_path, state


@pytest.fixture(scope="session")
def exported(tiny_run, tmp_path_factory):
    """Every format (and the TFLM sources) exported from the tiny model, verified on 1,000 test digits."""
    from edgedigits.export.convert import export
    from edgedigits.runtime.formats import parse_formats

    out = tmp_path_factory.mktemp("export")
    manifest = export(tiny_run[0], parse_formats("all"), out=out, verify_samples=1000, min_agreement=0.95,
                      data=DATA, calib_n=200)
    return out, manifest


@pytest.fixture(scope="session")
def number_frame(mnist, tmp_path_factory):
    """A generated frame of four MNIST digits that the default model reads right: (its path, the number)."""
    import cv2

    from edgedigits import runtime
    from edgedigits.measure import scenes
    from edgedigits.reader.pipeline import read_frame
    from edgedigits.reader.vision import reading

    clf = runtime.load(runtime.default_model())
    for seed in range(50):
        scene = scenes.make_scene(np.random.default_rng(seed), mnist.test.images, mnist.test.labels, n=4)
        if len(scene.numbers) == 1 and reading(read_frame(scene.image, clf).numbers) == scene.numbers[0]:
            path = tmp_path_factory.mktemp("number_frame") / "frame.png"
            cv2.imwrite(str(path), scene.image)
            return path, scene.numbers[0]
    pytest.fail("no generated frame of one number was read right in 50 tries")


@pytest.fixture(scope="session")
def digits(mnist):
    """600 MNIST training digits and their labels: enough for the camera recipe's tests."""
    return mnist.train.images[:600], mnist.train.labels[:600]
