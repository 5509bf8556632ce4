"""Kernels rounded for their inputs (keras_sr.int8.round_for_inputs): on the converter's grid,
kept by the converter, and with less output error than rounding to nearest."""

from __future__ import annotations

import numpy as np
import pytest

from keras_sr.archs import esr
from keras_sr.config import ESRConfig
from keras_sr.int8 import calibration_images, calibration_patches, input_grams, round_for_inputs


def _smooth_gram(rng, k: int, cin: int) -> np.ndarray:
    """Second moments of k x k x cin patches of smooth, positive images (a local mean of ~100
    plus small detail), as pixels are."""
    images = 100 + 0.5 * np.cumsum(np.cumsum(rng.normal(0, 1, (4, 40, 40, cin)), 1), 2)
    cols = np.stack([images[:, y:y + k, x:x + k].reshape(4, -1)
                     for y in range(40 - k) for x in range(40 - k)]).reshape(-1, k * k * cin)
    return cols.T @ cols / len(cols)


def _nearest(kernel: np.ndarray) -> np.ndarray:
    step = np.abs(kernel).max(axis=(0, 1, 2)) / 127
    return np.round(kernel / step) * step


def _output_error(rounded, kernel, gram) -> np.ndarray:
    r = (rounded - kernel).reshape(-1, kernel.shape[-1])
    return np.einsum("ko,kl,lo->o", r, gram, r)


def test_rounding_for_inputs_is_on_the_grid_and_beats_nearest(rng):
    kernel = rng.uniform(-1, 1, (5, 5, 2, 6)).astype(np.float32)
    gram = _smooth_gram(rng, 5, 2)
    rounded = round_for_inputs(kernel, gram)
    step = np.abs(kernel).max(axis=(0, 1, 2)) / 127
    units = rounded / step
    np.testing.assert_allclose(units, np.round(units), atol=1e-3)  # on the grid
    assert np.abs(np.round(units)).max() == 127
    np.testing.assert_allclose(np.abs(rounded).max(axis=(0, 1, 2)), np.abs(kernel).max(axis=(0, 1, 2)),
                               rtol=1e-6)  # same scale for the converter
    assert np.abs(rounded - kernel).max() <= step.max() * (1 + 1e-4)  # one of the two neighbours
    ours, nearest = _output_error(rounded, kernel, gram), _output_error(_nearest(kernel), kernel, gram)
    assert np.all(ours <= nearest * (1 + 1e-3)) and ours.sum() < 0.2 * nearest.sum(), (ours, nearest)


def test_input_grams_are_the_second_moments_of_the_patches(rng):
    config = ESRConfig(scale=2, mode="max", kernel_size=3, channels=2)
    network = esr.fold(esr.build(config), config)
    patch = rng.integers(0, 256, (6, 7, 1)).astype(np.uint8)
    gram = input_grams(network, [patch])["filter"]
    padded = np.pad(patch[..., 0].astype(np.float64), 1)
    cols = np.stack([padded[y:y + 3, x:x + 3].ravel() for y in range(6) for x in range(7)])
    np.testing.assert_allclose(gram, cols.T @ cols / 42, rtol=1e-6)


@pytest.mark.parametrize("rounding", ["nearest", "inputs"])
def test_the_converter_keeps_the_rounded_kernel(rounding):
    """The int8 file's filter is exactly the kernel rounded for its inputs (or to nearest)."""
    from ai_edge_litert.interpreter import Interpreter

    from keras_sr.export import convert

    config = ESRConfig(scale=2, mode="max", kernel_size=5, channels=2)
    network = esr.fold(esr.build(config), config)
    kernel = network.get_layer("filter").get_weights()[0]
    patches = calibration_patches(calibration_images(None)[0], config, 8)
    expected = (round_for_inputs(kernel, input_grams(network, patches)["filter"])
                if rounding == "inputs" else _nearest(kernel))
    interpreter = Interpreter(model_content=convert(network, config, "int8", None, patches, rounding))
    (weights,) = [d for d in interpreter.get_tensor_details()
                  if d["dtype"] == np.int8 and len(d["shape"]) == 4 and d["shape"][0] == kernel.shape[-1]]
    stored = interpreter.get_tensor(weights["index"]).astype(np.float64)
    stored *= weights["quantization_parameters"]["scales"][:, None, None, None]
    np.testing.assert_allclose(stored.transpose(1, 2, 3, 0), expected, atol=1e-6)
    if rounding == "inputs":
        assert not np.allclose(expected, _nearest(kernel), atol=1e-6)
