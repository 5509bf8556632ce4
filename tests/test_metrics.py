"""Tests of the Y-channel PSNR/SSIM evaluation protocol."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from keras_sr.imresize import bicubic_downscale, bicubic_upscale
from keras_sr.metrics import psnr_y, rgb2ycbcr, ssim_y, to_y, ycbcr2rgb

DATA = Path(__file__).parent / "data"

# Regression values from this code on tests/data/bird_96.png (a 96x96 crop of
# Set5 bird at rows 96..191, columns 96..191): bicubic down and up by the
# scale, Y unrounded, shave = scale. (PSNR dB, SSIM, PSNR with round_y=True.)
BIRD_BICUBIC = {
    2: (35.74073333258022, 0.9766566592108119, 35.70197738367009),
    3: (32.24057356046242, 0.9441908721953715, 32.228386542057315),
    4: (30.083659646581133, 0.9060232511030906, 30.081148439615486),
}


def _bird() -> np.ndarray:
    with Image.open(DATA / "bird_96.png") as im:
        return np.asarray(im, dtype=np.uint8)


def test_ycbcr_matches_matlab_reference_values() -> None:
    px = np.array([[[0, 0, 0], [255, 255, 255], [255, 0, 0], [0, 0, 255]]], dtype=np.uint8)
    ycc = rgb2ycbcr(px)[0]
    np.testing.assert_allclose(ycc[0], [16.0, 128.0, 128.0], atol=1e-9)
    np.testing.assert_allclose(ycc[1], [235.0, 128.0, 128.0], atol=1e-9)
    np.testing.assert_allclose(ycc[2], [16 + 65.481, 128 - 37.797, 128 + 112.0], atol=1e-9)
    np.testing.assert_allclose(ycc[3], [16 + 24.966, 128 + 112.0, 128 - 18.214], atol=1e-9)


def test_ycbcr_round_trip() -> None:
    rng = np.random.default_rng(0)
    rgb = rng.random((13, 17, 3)) * 255
    np.testing.assert_allclose(ycbcr2rgb(rgb2ycbcr(rgb)), rgb, atol=1e-9)
    ycc = rng.random((5, 7, 3)) * 255
    np.testing.assert_allclose(rgb2ycbcr(ycbcr2rgb(ycc)), ycc, atol=1e-9)


def test_to_y_grayscale_is_returned_as_is() -> None:
    gray = np.arange(12, dtype=np.uint8).reshape(3, 4)
    y = to_y(gray)
    assert y.dtype == np.float64
    np.testing.assert_array_equal(y, gray)
    np.testing.assert_array_equal(to_y(gray[:, :, None]), gray)
    rgb = np.repeat(gray[:, :, None], 3, axis=2)
    # RGB gray goes through studio swing: 16 + 219/255 * v.
    np.testing.assert_allclose(to_y(rgb), 16.0 + gray * 219.0 / 255.0, atol=1e-9)


def test_psnr_identical_is_inf_and_ssim_is_one() -> None:
    img = _bird()
    assert psnr_y(img, img, 4) == math.inf
    assert ssim_y(img, img, 4) == pytest.approx(1.0, abs=1e-12)


@pytest.mark.parametrize("d", [1, 3, 10])
def test_psnr_of_constant_y_offset(d: int) -> None:
    hr = np.full((20, 24), 100, dtype=np.uint8)
    hr[5:9, 3:20] = 180
    sr = hr + np.uint8(d)
    assert psnr_y(sr, hr, 2) == pytest.approx(20 * math.log10(255 / d), abs=1e-9)
    # On RGB, an offset of d in all channels moves Y by d * 219 / 255.
    rgb_hr = np.repeat(hr[:, :, None], 3, axis=2)
    rgb_sr = np.repeat(sr[:, :, None], 3, axis=2)
    expected = 20 * math.log10(255 / (d * 219 / 255))
    assert psnr_y(rgb_sr, rgb_hr, 2) == pytest.approx(expected, abs=1e-9)


def test_shave_excludes_borders() -> None:
    hr = np.full((30, 30, 3), 120, dtype=np.uint8)
    sr = hr.copy()
    sr[:3, :] = 0
    sr[:, -3:] = 255
    assert psnr_y(sr, hr, 3) == math.inf
    assert ssim_y(sr, hr, 3) == pytest.approx(1.0)
    assert psnr_y(sr, hr, 2) < 30.0


def test_ssim_is_symmetric_and_drops_with_noise() -> None:
    hr = _bird()
    rng = np.random.default_rng(1)
    noisy = np.clip(hr + rng.normal(0, 8, hr.shape), 0, 255).astype(np.uint8)
    noisier = np.clip(hr + rng.normal(0, 20, hr.shape), 0, 255).astype(np.uint8)
    assert ssim_y(noisy, hr, 2) == pytest.approx(ssim_y(hr, noisy, 2), abs=1e-12)
    assert 0.0 < ssim_y(noisier, hr, 2) < ssim_y(noisy, hr, 2) < 1.0


def test_ssim_matches_direct_formula_on_one_window() -> None:
    # An 11x11 image has exactly one 'valid' window: SSIM uses Gaussian-
    # weighted moments over it.
    rng = np.random.default_rng(2)
    x = rng.integers(0, 256, (11, 11)).astype(np.uint8)
    y = rng.integers(0, 256, (11, 11)).astype(np.uint8)
    t = np.arange(11) - 5.0
    g = np.exp(-(t[:, None] ** 2 + t[None, :] ** 2) / (2 * 1.5**2))
    w = g / g.sum()
    xf, yf = x.astype(np.float64), y.astype(np.float64)
    mx, my = (w * xf).sum(), (w * yf).sum()
    vx, vy = (w * xf * xf).sum() - mx**2, (w * yf * yf).sum() - my**2
    cxy = (w * xf * yf).sum() - mx * my
    c1, c2 = (0.01 * 255) ** 2, (0.03 * 255) ** 2
    expected = ((2 * mx * my + c1) * (2 * cxy + c2)) / ((mx**2 + my**2 + c1) * (vx + vy + c2))
    assert ssim_y(x, y, 0) == pytest.approx(expected, abs=1e-12)


@pytest.mark.parametrize("scale", [2, 3, 4])
def test_bicubic_protocol_regression(scale: int) -> None:
    hr, lr = bicubic_downscale(_bird(), scale)
    sr = bicubic_upscale(lr, scale)
    psnr, ssim, psnr_rounded = BIRD_BICUBIC[scale]
    assert psnr_y(sr, hr, scale) == pytest.approx(psnr, abs=1e-4)
    assert ssim_y(sr, hr, scale) == pytest.approx(ssim, abs=1e-6)
    assert psnr_y(sr, hr, scale, round_y=True) == pytest.approx(psnr_rounded, abs=1e-4)


def test_rejects_mismatched_or_too_small_inputs() -> None:
    a = np.zeros((20, 20, 3), dtype=np.uint8)
    with pytest.raises(ValueError):
        psnr_y(a, a[:19], 2)
    with pytest.raises(ValueError):
        ssim_y(a, a, 5)
    with pytest.raises(ValueError):
        psnr_y(a, a, 10)
