"""Tests of the MATLAB-compatible bicubic imresize and the benchmark degradation."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from keras_sr.imresize import (
    bicubic_downscale,
    bicubic_upscale,
    contributions,
    cubic,
    imresize,
)

DATA = Path(__file__).parent / "data"
# LR pixels next to a crop edge that is not an image edge see pixels outside
# the crop in MATLAB's file; the bicubic support is 2 LR pixels each side.
INTERIOR_MARGIN = 4

# (name, scale, whether the crop's top-left corner is the image's corner).
MATLAB_CROPS = [
    ("pepper", 2, True),
    ("baboon", 3, True),
    ("butterfly", 4, False),
    ("bridge", 2, False),
]


def _load(path: Path) -> np.ndarray:
    with Image.open(path) as im:
        return np.asarray(im, dtype=np.uint8)


@pytest.mark.parametrize(("name", "scale", "at_corner"), MATLAB_CROPS)
def test_matches_matlab_lr_crop(name: str, scale: int, at_corner: bool) -> None:
    hr = _load(DATA / f"{name}_x{scale}_hr.png")
    lr_matlab = _load(DATA / f"{name}_x{scale}_lr_matlab.png").astype(np.float64)
    lr = imresize(hr, 1.0 / scale)
    assert lr.dtype == np.uint8
    assert lr.shape == lr_matlab.shape
    # Where the crop corner is the image corner, the top and left edges are
    # MATLAB's real border handling and are compared too.
    start = 0 if at_corner else INTERIOR_MARGIN
    region = (slice(start, -INTERIOR_MARGIN), slice(start, -INTERIOR_MARGIN))
    diff = np.abs(lr.astype(np.float64) - lr_matlab)[region]
    assert diff.mean() < 0.05
    assert diff.max() <= 1


def test_border_taps_are_clamped_not_mirrored() -> None:
    weights, indices = contributions(10, 5, 0.5)
    assert indices.min() == 0 and indices.max() == 9
    # First output pixel: taps left of the image all read pixel 0.
    assert indices[0, 0] == 0 and indices[0, 1] == 0
    np.testing.assert_allclose(weights.sum(axis=1), 1.0, atol=1e-12)


def test_cubic_kernel_values() -> None:
    np.testing.assert_allclose(cubic(np.array([0.0, 1.0, 2.0, 3.0])), [1.0, 0.0, 0.0, 0.0])
    # Keys a = -0.5 at 0.5 and 1.5.
    np.testing.assert_allclose(cubic(np.array([0.5, -1.5])), [0.5625, -0.0625])


@pytest.mark.parametrize("scale", [2, 3, 4])
@pytest.mark.parametrize("shape", [(13, 17), (13, 17, 3), (31, 29, 1), (7, 5, 3)])
def test_shapes_odd_sizes(shape: tuple[int, ...], scale: int) -> None:
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, size=shape, dtype=np.uint8)
    hr, lr = bicubic_downscale(img, scale)
    h, w = shape[0] // scale * scale, shape[1] // scale * scale
    assert hr.shape == (h, w) + shape[2:]
    np.testing.assert_array_equal(hr, img[:h, :w])
    assert lr.shape == (h // scale, w // scale) + shape[2:]
    assert lr.dtype == np.uint8
    up = bicubic_upscale(lr, scale)
    assert up.shape == hr.shape and up.dtype == np.uint8
    # Non-integer output sizes round up, as MATLAB's ceil(scale * size).
    assert imresize(img, 1.0 / scale).shape[:2] == (-(-shape[0] // scale), -(-shape[1] // scale))


def test_scale_one_third_size_has_no_float_error() -> None:
    img = np.zeros((498, 6), dtype=np.uint8)
    assert imresize(img, 1.0 / 3).shape == (166, 2)


def test_constant_image_is_preserved() -> None:
    img = np.full((12, 9, 3), 77, dtype=np.uint8)
    np.testing.assert_array_equal(imresize(img, 0.5), 77)
    np.testing.assert_array_equal(imresize(img, 3.0), 77)


def _pass(img: np.ndarray, axis: int, scale: float) -> np.ndarray:
    """One 1-D bicubic pass by explicit matrix product, float64."""
    n = img.shape[axis]
    weights, indices = contributions(n, int(np.ceil(n * scale - 1e-9)), scale)
    matrix = np.zeros((weights.shape[0], n))
    np.add.at(matrix, (np.arange(weights.shape[0])[:, None], indices), weights)
    return np.moveaxis(np.tensordot(matrix, np.moveaxis(img, axis, 0), axes=1), 0, axis)


def _round(x: np.ndarray) -> np.ndarray:
    return np.floor(np.clip(x, 0, 255) + 0.5)


def test_uint8_rounds_and_clips_after_each_pass_rows_first() -> None:
    rng = np.random.default_rng(1)
    img = rng.integers(0, 256, size=(24, 20, 3), dtype=np.uint8)
    x = img.astype(np.float64)
    out = imresize(img, 0.5)
    rows_first = _round(_pass(_round(_pass(x, 0, 0.5)), 1, 0.5))
    cols_first = _round(_pass(_round(_pass(x, 1, 0.5)), 0, 0.5))
    rounded_once = _round(_pass(_pass(x, 0, 0.5), 1, 0.5))
    np.testing.assert_array_equal(out, rows_first)
    assert np.any(out != cols_first)
    assert np.any(out != rounded_once)
    # Float input: same passes, no rounding, overshoot kept.
    out_float = imresize(x, 0.5)
    assert out_float.dtype == np.float64
    np.testing.assert_allclose(out_float, _pass(_pass(x, 0, 0.5), 1, 0.5), atol=1e-9)
    assert not np.allclose(out_float, np.round(out_float))


def test_uint8_upscale_clips_overshoot() -> None:
    img = np.zeros((8, 8), dtype=np.uint8)
    img[:, 4:] = 255
    assert imresize(img.astype(np.float64), 2.0).max() > 255.0
    out = imresize(img, 2.0)
    assert out.min() == 0 and out.max() == 255


def test_float_dtype_is_kept() -> None:
    img = np.linspace(0, 1, 16 * 12, dtype=np.float32).reshape(16, 12)
    out = imresize(img, 2.0)
    assert out.dtype == np.float32 and out.shape == (32, 24)
    # A ramp stays monotonic (replicated borders, weights summing to one).
    assert np.all(np.diff(out, axis=1) >= -1e-6)


@pytest.mark.parametrize("scale", [4.0, 3.0, 2.0, 1 / 2, 1 / 3, 1 / 4])
def test_linear_ramp_maps_to_matlab_coordinates(scale: float) -> None:
    # Output pixel i (0-based) sits at input coordinate (i + 0.5) / scale - 0.5;
    # away from the clamped borders a ramp is reproduced exactly there.
    i, j = np.mgrid[:48, :60].astype(np.float64)
    out = imresize(3.0 * i + 2.0 * j, scale)
    oi, oj = np.mgrid[: out.shape[0], : out.shape[1]].astype(np.float64)
    expected = 3.0 * ((oi + 0.5) / scale - 0.5) + 2.0 * ((oj + 0.5) / scale - 0.5)
    m = int(3 * max(scale, 1.0))
    np.testing.assert_allclose(out[m:-m, m:-m], expected[m:-m, m:-m], atol=1e-9)


def test_fast_enough_for_512_rgb() -> None:
    import time

    img = np.random.default_rng(3).integers(0, 256, size=(512, 512, 3), dtype=np.uint8)
    start = time.perf_counter()
    imresize(img, 0.25)
    assert time.perf_counter() - start < 1.0


@pytest.mark.parametrize("bad", [0.0, -2.0])
def test_rejects_bad_scale(bad: float) -> None:
    with pytest.raises(ValueError):
        imresize(np.zeros((4, 4), dtype=np.uint8), bad)


def test_rejects_bad_input() -> None:
    with pytest.raises(TypeError):
        imresize(np.zeros((4, 4), dtype=np.int32), 2.0)
    with pytest.raises(ValueError):
        imresize(np.zeros((4, 4, 3, 1), dtype=np.uint8), 2.0)
    with pytest.raises(ValueError):
        bicubic_downscale(np.zeros((4, 4), dtype=np.uint8), 5)
