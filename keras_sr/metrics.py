"""PSNR and SSIM on the Y channel, the evaluation protocol of the SR tables.

Protocol (as in the EDSR and BasicSR evaluation code):

1. HR is cropped at the top-left to a multiple of the scale and degraded with
   MATLAB's bicubic ``imresize`` on uint8 RGB (see :mod:`keras_sr.imresize`).
2. The uint8 SR output and the uint8 HR image are converted to luma with
   MATLAB's ``rgb2ycbcr`` on ``double(img) / 255``, scaled back by 255:
   ``Y = 16 + (65.481 R + 128.553 G + 24.966 B) / 255`` in 0..255 units,
   kept in float (``round_y=False``, the default). Grayscale images (bridge
   in Set14) are used as they are, without the 16..235 studio-swing mapping
   (mapping them moves Set14 by +0.09 dB, away from the tables).
3. ``shave`` = scale pixels are cut from each border, as in the MATLAB code
   (EDSR's scale + 6 moves Set5 x3 by +0.03 dB).
4. PSNR = 10 log10(255^2 / MSE); SSIM is Wang et al.'s ``ssim_index``:
   11x11 Gaussian window with sigma 1.5, K1 = 0.01, K2 = 0.03, L = 255,
   'valid' filtering, mean of the map, no automatic downsampling (the 2009
   ``ssim.m`` downsampling by ``round(min(H, W) / 256)`` gives 0.94 on Set14
   x2 instead of 0.8688).

What was verified (``tools/check_protocol.py``, full Set5 and Set14): with the
uint8 RGB pipeline above, bicubic gives Set5/Set14 x2 33.674/0.9303 and
30.232/0.8691, x3 30.405/0.8689 and 27.539/0.7745, x4 28.430/0.8111 and
25.997/0.7029 against the published 33.66/0.9299, 30.24/0.8688,
30.39/0.8682, 27.55/0.7742, 28.42/0.8104, 26.00/0.7027: within 0.015 dB and
0.0007 SSIM. Rounding Y (``round_y=True``) is no closer (up to 0.02 dB off).
The published bicubic row itself was made by the SRCNN-era MATLAB pipeline,
which works on Y only: ``Y = uint8 rgb2ycbcr(HR)`` (rounded), bicubic down
and up in double, SR Y rounded to uint8. That pipeline (see
``tools/check_protocol.py``) reproduces Set5 exactly (33.662/0.9299,
30.394/0.8682, 28.422/0.8104) and Set14 to 0.007 dB / 0.0008 SSIM (30.233,
27.543, 26.003, which round to the 30.23 / 27.54 / 26.00 of the A+ and
SRCNN papers).
"""

from __future__ import annotations

import math

import numpy as np

# Peak value of 8-bit pixels.
PIXEL_MAX = 255.0

# MATLAB rgb2ycbcr (ITU-R BT.601, studio swing) for R, G, B in 0..255.
_YCBCR_MATRIX = np.array(
    [
        [65.481, 128.553, 24.966],
        [-37.797, -74.203, 112.0],
        [112.0, -93.786, -18.214],
    ]
) / 255.0
_YCBCR_OFFSET = np.array([16.0, 128.0, 128.0])

# Wang et al.'s SSIM constants.
SSIM_WINDOW = 11
SSIM_SIGMA = 1.5
SSIM_K1 = 0.01
SSIM_K2 = 0.03


def rgb2ycbcr(img: np.ndarray) -> np.ndarray:
    """MATLAB ``rgb2ycbcr`` on doubles, in 0..255 units.

    Args:
        img: HxWx3 RGB image, pixels 0..255 (uint8 or float).

    Returns:
        HxWx3 float64 YCbCr: Y in 16..235, Cb and Cr in 16..240 (not rounded).
    """
    if img.ndim != 3 or img.shape[2] != 3:
        raise ValueError(f"expected an HxWx3 RGB image, got shape {img.shape}")
    return img.astype(np.float64) @ _YCBCR_MATRIX.T + _YCBCR_OFFSET


def ycbcr2rgb(img: np.ndarray) -> np.ndarray:
    """Exact inverse of :func:`rgb2ycbcr` (MATLAB ``ycbcr2rgb`` on doubles).

    Args:
        img: HxWx3 YCbCr image in 0..255 units.

    Returns:
        HxWx3 float64 RGB in 0..255 units (not rounded or clipped).
    """
    if img.ndim != 3 or img.shape[2] != 3:
        raise ValueError(f"expected an HxWx3 YCbCr image, got shape {img.shape}")
    return (img.astype(np.float64) - _YCBCR_OFFSET) @ np.linalg.inv(_YCBCR_MATRIX).T


def to_y(img: np.ndarray) -> np.ndarray:
    """Luma used by the evaluation, in 0..255 units.

    Args:
        img: HxW grayscale, HxWx1 grayscale or HxWx3 RGB, pixels 0..255.

    Returns:
        HxW float64: grayscale is returned as is (as float), RGB goes through
        :func:`rgb2ycbcr` and keeps Y unrounded.
    """
    if img.ndim == 3 and img.shape[2] == 1:
        img = img[:, :, 0]
    if img.ndim == 2:
        return img.astype(np.float64)
    return rgb2ycbcr(img)[:, :, 0]


def _shaved_y(
    sr: np.ndarray, hr: np.ndarray, shave: int, round_y: bool
) -> tuple[np.ndarray, np.ndarray]:
    """Y channels of ``sr`` and ``hr`` with ``shave`` pixels cut from each border."""
    if sr.shape != hr.shape:
        raise ValueError(f"sr and hr differ in shape: {sr.shape} vs {hr.shape}")
    if shave < 0:
        raise ValueError(f"shave must be non-negative, got {shave}")
    y_sr, y_hr = to_y(sr), to_y(hr)
    if round_y:
        # MATLAB's rgb2ycbcr on uint8 returns uint8: round half away from zero.
        y_sr = np.floor(np.clip(y_sr, 0.0, PIXEL_MAX) + 0.5)
        y_hr = np.floor(np.clip(y_hr, 0.0, PIXEL_MAX) + 0.5)
    if shave > 0:
        y_sr = y_sr[shave:-shave, shave:-shave]
        y_hr = y_hr[shave:-shave, shave:-shave]
    if y_sr.size == 0:
        raise ValueError(f"nothing left of a {sr.shape[:2]} image after shaving {shave}")
    return y_sr, y_hr


def psnr_y(sr: np.ndarray, hr: np.ndarray, shave: int, *, round_y: bool = False) -> float:
    """PSNR in dB on the Y channel, borders shaved.

    Args:
        sr: HxW or HxWx3 image, pixels 0..255 (normally uint8).
        hr: ground truth of the same shape.
        shave: pixels cut from each border before comparing (the scale).
        round_y: round Y to integers first, as MATLAB's ``rgb2ycbcr`` on uint8.

    Returns:
        PSNR in dB with peak 255; ``inf`` for identical Y channels.
    """
    y_sr, y_hr = _shaved_y(sr, hr, shave, round_y)
    mse = float(np.mean((y_sr - y_hr) ** 2))
    if mse == 0.0:
        return math.inf
    return 10.0 * math.log10(PIXEL_MAX**2 / mse)


def _gaussian_window(size: int = SSIM_WINDOW, sigma: float = SSIM_SIGMA) -> np.ndarray:
    """MATLAB ``fspecial('gaussian', size, sigma)`` as a 1-D factor (sums to 1)."""
    x = np.arange(size, dtype=np.float64) - (size - 1) / 2.0
    g = np.exp(-(x**2) / (2.0 * sigma**2))
    return g / g.sum()


def _filter_valid(img: np.ndarray, g: np.ndarray) -> np.ndarray:
    """'valid' correlation of HxW ``img`` with the separable window ``g (x) g``."""
    k = g.size
    windows = np.lib.stride_tricks.sliding_window_view(img, k, axis=0)
    rows = windows @ g
    windows = np.lib.stride_tricks.sliding_window_view(rows, k, axis=1)
    return windows @ g


def ssim_y(sr: np.ndarray, hr: np.ndarray, shave: int, *, round_y: bool = False) -> float:
    """Mean SSIM (Wang et al. 2004) on the Y channel, borders shaved.

    Args:
        sr: HxW or HxWx3 image, pixels 0..255 (normally uint8).
        hr: ground truth of the same shape.
        shave: pixels cut from each border before comparing (the scale).
        round_y: round Y to integers first, as MATLAB's ``rgb2ycbcr`` on uint8.

    Returns:
        Mean of the SSIM map over the 'valid' positions of the 11x11 window;
        1.0 for identical images.
    """
    y_sr, y_hr = _shaved_y(sr, hr, shave, round_y)
    if min(y_sr.shape) < SSIM_WINDOW:
        raise ValueError(f"SSIM needs at least {SSIM_WINDOW}x{SSIM_WINDOW} pixels, got {y_sr.shape}")
    c1 = (SSIM_K1 * PIXEL_MAX) ** 2
    c2 = (SSIM_K2 * PIXEL_MAX) ** 2
    g = _gaussian_window()
    mu_x = _filter_valid(y_sr, g)
    mu_y = _filter_valid(y_hr, g)
    sigma_xx = _filter_valid(y_sr * y_sr, g) - mu_x**2
    sigma_yy = _filter_valid(y_hr * y_hr, g) - mu_y**2
    sigma_xy = _filter_valid(y_sr * y_hr, g) - mu_x * mu_y
    ssim_map = ((2 * mu_x * mu_y + c1) * (2 * sigma_xy + c2)) / (
        (mu_x**2 + mu_y**2 + c1) * (sigma_xx + sigma_yy + c2)
    )
    return float(ssim_map.mean())
