"""MATLAB-compatible bicubic ``imresize`` in numpy, and the benchmark degradation.

The published super-resolution tables (SRCNN, VDSR, EDSR, RCAN, ...) make the
low-resolution inputs with MATLAB's ``imresize(hr, 1/s, 'bicubic')`` on uint8
images, and the "bicubic" baseline row with ``imresize(lr, s, 'bicubic')``.
This module reproduces that function:

* cubic kernel with a = -0.5 (Keys), support 4 input pixels;
* when downscaling, antialiasing: the kernel is stretched by ``1/scale``
  (``h(x) = scale * cubic(scale * x)``, support ``4 / scale``);
* MATLAB's contributions: output pixel ``i`` (1-based) maps to input
  coordinate ``u = i / scale + 0.5 * (1 - 1 / scale)``; the taps are the
  ``ceil(support) + 2`` pixels from ``floor(u - support / 2)``; weights are
  normalised to sum to one; out-of-range taps are clamped to the first or
  last pixel (MATLAB's "replicating end-points", not a symmetric mirror);
  all-zero tap columns are dropped;
* the output size is ``ceil(scale * n)`` per dimension;
* dimension order: the dimension with the smaller scale first, rows (height)
  first when the scales are equal, which is always the case here;
* uint8 input: the result is rounded (half away from zero) and clipped to
  0..255 after EACH dimension pass, as MATLAB's ``imresizemex`` stores each
  intermediate in the input class. Float input: no intermediate rounding.

Verified against MATLAB's own files (SelfExSR ``*_LR.png`` made with
``imresize(HR, 1/s, 'bicubic')``, all 19 images of Set5 and Set14 at x2, x3
and x4, ``tools/check_protocol.py``): the output is bit-exact (max and mean
absolute difference 0). Each choice above matters: mirroring the border
instead of clamping gives mean 0.007..0.019 and max 6..11 levels (border
pixels only); columns first gives mean 0.14..0.19; no intermediate rounding
gives mean 0.10..0.14.
"""

from __future__ import annotations

import math

import numpy as np

# Keys' cubic convolution parameter used by MATLAB's 'bicubic'.
CUBIC_A = -0.5
# Support of the (unstretched) cubic kernel, in input pixels.
CUBIC_SUPPORT = 4.0
# Relative tolerance when turning ``scale * n`` into an integer size, so that
# e.g. 498 * (1 / 3) gives 166, not 167 (MATLAB's ceil would see 166.000...03).
_SIZE_EPS = 1e-9


def cubic(x: np.ndarray) -> np.ndarray:
    """Keys' cubic kernel with a = -0.5, as in MATLAB's ``imresize``.

    Args:
        x: distances in input pixels, any shape.

    Returns:
        Kernel values, same shape as ``x``, float64.
    """
    ax = np.abs(np.asarray(x, dtype=np.float64))
    ax2 = ax * ax
    ax3 = ax2 * ax
    a = CUBIC_A
    near = ((a + 2.0) * ax3 - (a + 3.0) * ax2 + 1.0) * (ax <= 1.0)
    far = (a * ax3 - 5.0 * a * ax2 + 8.0 * a * ax - 4.0 * a) * ((ax > 1.0) & (ax <= 2.0))
    return near + far


def output_length(in_length: int, scale: float) -> int:
    """Output size of one dimension, ``ceil(scale * in_length)``.

    A tiny tolerance absorbs the floating error of scales like 1/3.
    """
    return int(math.ceil(scale * in_length * (1.0 - _SIZE_EPS)))


def contributions(
    in_length: int, out_length: int, scale: float, antialiasing: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """MATLAB's ``contributions``: taps and weights of a 1-D bicubic resize.

    Args:
        in_length: input size along the dimension, in pixels.
        out_length: output size along the dimension, in pixels.
        scale: output / input scale factor (< 1 downscales).
        antialiasing: stretch the kernel when downscaling (MATLAB's default).

    Returns:
        ``(weights, indices)``, both of shape (out_length, taps): output pixel
        ``i`` is ``sum_k weights[i, k] * input[indices[i, k]]``. Indices are
        0-based and already clamped into ``0..in_length - 1``.
    """
    if scale < 1.0 and antialiasing:
        kernel_width = CUBIC_SUPPORT / scale

        def kernel(x: np.ndarray) -> np.ndarray:
            return scale * cubic(scale * x)

    else:
        kernel_width = CUBIC_SUPPORT
        kernel = cubic

    # 1-based output coordinates mapped into 1-based input coordinates.
    x = np.arange(1, out_length + 1, dtype=np.float64)
    u = x / scale + 0.5 * (1.0 - 1.0 / scale)
    left = np.floor(u - kernel_width / 2.0)
    taps = int(math.ceil(kernel_width)) + 2
    indices = left[:, None] + np.arange(taps, dtype=np.float64)[None, :]
    weights = kernel(u[:, None] - indices)
    weights = weights / weights.sum(axis=1, keepdims=True)

    # MATLAB clamps out-of-range taps ("replicating end-points"); mirroring
    # them instead differs from MATLAB's files by up to 11 levels at the border.
    indices = np.clip(indices.astype(np.int64) - 1, 0, in_length - 1)

    keep = np.any(weights != 0.0, axis=0)
    return weights[:, keep], indices[:, keep]


def _resize_axis(img: np.ndarray, axis: int, scale: float, out_length: int) -> np.ndarray:
    """Resize float64 ``img`` along ``axis`` (0 rows or 1 columns)."""
    weights, indices = contributions(img.shape[axis], out_length, scale)
    moved = np.moveaxis(img, axis, 0)
    out = np.zeros((out_length,) + moved.shape[1:], dtype=np.float64)
    extra = (slice(None),) + (None,) * (moved.ndim - 1)
    # One pass per tap keeps memory at one output-sized buffer.
    for k in range(weights.shape[1]):
        out += weights[:, k][extra] * moved[indices[:, k]]
    return np.moveaxis(out, 0, axis)


def _round_uint8(x: np.ndarray) -> np.ndarray:
    """Clip to 0..255 and round half away from zero, as MATLAB's uint8 cast."""
    return np.floor(np.clip(x, 0.0, 255.0) + 0.5)


def round_pixels(x: np.ndarray) -> np.ndarray:
    """Float pixels -> uint8: clip to 0..255 and round half up (as MATLAB's uint8 cast)."""
    return _round_uint8(x).astype(np.uint8)


def imresize(img: np.ndarray, scale: float) -> np.ndarray:
    """MATLAB ``imresize(img, scale, 'bicubic')``, antialiased when downscaling.

    Args:
        img: HxW or HxWxC image. uint8 (pixels 0..255) or floating point
            (any range, e.g. 0..255 or 0..1).
        scale: the same scale factor for both dimensions (0.5 halves).

    Returns:
        ``ceil(scale*H) x ceil(scale*W) [x C]``. uint8 input gives uint8 output,
        rounded and clipped after each dimension pass like MATLAB; float input
        gives the same float dtype, computed in float64 without intermediate
        rounding or clipping.

    Raises:
        ValueError: for a non-positive scale or a shape that is not 2-D or 3-D.
        TypeError: for dtypes other than uint8 and floating point.
    """
    if scale <= 0:
        raise ValueError(f"scale must be positive, got {scale}")
    if img.ndim not in (2, 3):
        raise ValueError(f"expected an HxW or HxWxC image, got shape {img.shape}")
    is_uint8 = img.dtype == np.uint8
    if not is_uint8 and not np.issubdtype(img.dtype, np.floating):
        raise TypeError(f"expected uint8 or floating point pixels, got {img.dtype}")

    out = img.astype(np.float64)
    # MATLAB: smaller scale first, rows first on ties; scales are equal here.
    for axis in (0, 1):
        out = _resize_axis(out, axis, scale, output_length(img.shape[axis], scale))
        if is_uint8:
            out = _round_uint8(out)
    if is_uint8:
        return out.astype(np.uint8)
    return out.astype(img.dtype)


def bicubic_downscale(hr: np.ndarray, scale: int) -> tuple[np.ndarray, np.ndarray]:
    """The benchmark degradation: crop HR to a multiple of ``scale``, then bicubic.

    Args:
        hr: HxW or HxWxC image, pixels 0..255; uint8 for the benchmark (float
            input is resized without intermediate rounding, then rounded).
        scale: integer super-resolution factor (2, 3, 4, ...).

    Returns:
        ``(hr_cropped, lr)``: HR cropped at the top-left to
        ``(H // scale * scale, W // scale * scale)``, and the uint8 LR image of
        shape ``(H // scale, W // scale[, C])`` from ``imresize(hr_cropped, 1/scale)``.
    """
    if scale < 1 or int(scale) != scale:
        raise ValueError(f"scale must be a positive integer, got {scale}")
    scale = int(scale)
    h, w = hr.shape[0] // scale * scale, hr.shape[1] // scale * scale
    if h == 0 or w == 0:
        raise ValueError(f"image {hr.shape[:2]} is smaller than the scale {scale}")
    hr_cropped = hr[:h, :w]
    lr = imresize(hr_cropped, 1.0 / scale)
    if lr.dtype != np.uint8:
        lr = _round_uint8(lr).astype(np.uint8)
    return hr_cropped, lr


def bicubic_upscale(lr: np.ndarray, scale: int) -> np.ndarray:
    """The "bicubic" baseline: MATLAB ``imresize(lr, scale, 'bicubic')``.

    Args:
        lr: HxW or HxWxC image, uint8 (pixels 0..255) or float.
        scale: integer upscaling factor.

    Returns:
        ``(scale*H) x (scale*W) [x C]`` image of the same dtype as ``lr``.
    """
    return imresize(lr, float(scale))
