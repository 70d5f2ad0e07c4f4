import numpy as np
import pytest

from edgedigits.digit import to_model_input
from edgedigits.errors import EdgeDigitsError
from edgedigits.training import architectures


@pytest.mark.parametrize("name", sorted(architectures.ARCHS))
def test_registry_param_counts_and_io(name):
    model = architectures.build(name)
    assert model.count_params() == architectures.ARCHS[name].params
    assert tuple(model.input_shape) == (None, 28, 28, 1)
    probs = np.asarray(model(to_model_input(np.zeros((3, 28, 28), np.uint8))))
    assert probs.shape == (3, architectures.ARCHS[name].classes)
    np.testing.assert_allclose(probs.sum(1), 1.0, rtol=1e-5)


def test_seed_is_the_kaggle_cnn():
    model = architectures.build("seed")
    assert model.count_params() == 887_530
    convs = [(layer.filters, layer.kernel_size) for layer in model.layers if type(layer).__name__ == "Conv2D"]
    assert convs == [(32, (5, 5)), (32, (5, 5)), (64, (3, 3)), (64, (3, 3))]
    dropouts = [layer.rate for layer in model.layers if type(layer).__name__ == "Dropout"]
    assert dropouts == [0.25, 0.25, 0.5]
    assert [layer.units for layer in model.layers if type(layer).__name__ == "Dense"] == [256, 10]


def test_camera_is_the_seed_body_with_an_eleventh_class():
    seed, camera = architectures.build("seed"), architectures.build("camera")
    body = [type(layer).__name__ for layer in seed.layers]
    assert [type(layer).__name__ for layer in camera.layers] == body
    assert camera.output.shape[-1] == 11 and seed.output.shape[-1] == 10
    assert camera.count_params() == seed.count_params() + 256 + 1  # one more output unit
    assert architectures.ARCHS["camera"].recipe == architectures.ARCHS["micro"].recipe == "camera"
    assert architectures.ARCHS["seed"].recipe == "seed"


@pytest.mark.parametrize("name", sorted(architectures.ARCHS))
def test_inference_models_hold_no_augmentation(name):
    kinds = {type(layer).__name__ for layer in architectures.build(name).layers}
    assert not any(k.startswith("Random") for k in kinds), kinds


def test_micro_fits_a_microcontroller():
    model = architectures.build("micro")
    assert model.count_params() <= 60_000  # int8 weights and the arena fit a Pico's 264 KB of RAM with room


def test_unknown_arch():
    with pytest.raises(EdgeDigitsError, match="unknown architecture"):
        architectures.build("resnet")


def test_mac_count():
    # conv 28x28x32x5x5x1 + 28x28x32x5x5x32 + 14x14x64x3x3x32 + 14x14x64x3x3x64 + 3136x256 + 256x10
    assert architectures.count_macs(architectures.build("seed")) == 32_340_992
