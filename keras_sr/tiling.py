"""Run an SR model on an image of any size in overlapping tiles, bit-identical to one whole run.

The scheme (shared with the Android app): window size T (LR pixels), halo R = the model's
receptive radius, T > 2R, step = T - 2R. Along an axis of length L: if L <= T one window [0, L);
else n = 1 + ceil((L - T) / step) windows starting at p_i = min(i * step, L - T). Window i's
output is kept on [a_i, b_i) with a_0 = 0, a_i = p_i + R (i > 0), b_i = p_i + T - R, b_last = L,
and written on [a_i, a_{i+1}) (times the scale in output pixels). Tiles are the product of the
two axes. Every kept output pixel sees only real pixels or true image borders (where the model
zero-pads, as on the whole image), so stitching gives exactly the whole-image result.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterator

import numpy as np

from keras_sr.errors import UserError

DEFAULT_TILE = 256


@dataclasses.dataclass(frozen=True)
class Window:
    """One window along an axis: input [start, start + size), output written on [keep_start, keep_end)."""

    start: int
    size: int
    keep_start: int
    keep_end: int


def axis_windows(length: int, tile: int, radius: int) -> list[Window]:
    """The windows covering ``length`` LR pixels (see the module docstring)."""
    if tile <= 2 * radius:
        raise UserError(f"tile size {tile} must be larger than twice the receptive radius {radius}")
    if length <= tile:
        return [Window(0, length, 0, length)]
    step = tile - 2 * radius
    n = 1 + math.ceil((length - tile) / step)
    starts = [min(i * step, length - tile) for i in range(n)]
    keep_from = [0] + [p + radius for p in starts[1:]]
    # Window i writes [a_i, a_{i+1}); a_{i+1} <= b_i = p_i + T - R because p_{i+1} <= p_i + step.
    keep_to = keep_from[1:] + [length]
    return [Window(p, tile, a, b) for p, a, b in zip(starts, keep_from, keep_to)]


def tiled_bands(model: Callable[[np.ndarray], np.ndarray], rows: Callable[[int, int], np.ndarray],
                height: int, width: int, scale: int, radius: int,
                tile: tuple[int, int]) -> Iterator[tuple[int, int, np.ndarray]]:
    """Run ``model`` band by band: yield (y0, y1, out) where ``out`` is the model output for LR
    rows [y0, y1), all columns: ((y1 - y0) * scale, width * scale, C) uint8.

    ``rows(r0, r1)`` returns the LR model input rows [r0, r1) (all columns, HxWxC uint8), so
    the caller can compute the input (e.g. the Y channel) one band at a time.
    """
    col_windows = axis_windows(width, tile[1], radius)
    for rw in axis_windows(height, tile[0], radius):
        lr = rows(rw.start, rw.start + rw.size)
        band = None
        for cw in col_windows:
            out = model(np.ascontiguousarray(lr[:, cw.start:cw.start + cw.size]))
            if band is None:
                band = np.empty(((rw.keep_end - rw.keep_start) * scale, width * scale, out.shape[2]),
                                out.dtype)
            y0 = (rw.keep_start - rw.start) * scale
            x0 = (cw.keep_start - cw.start) * scale
            band[:, cw.keep_start * scale:cw.keep_end * scale] = out[
                y0:y0 + band.shape[0], x0:x0 + (cw.keep_end - cw.keep_start) * scale]
        yield rw.keep_start, rw.keep_end, band


def run_tiled(model, lr: np.ndarray, tile: int | tuple[int, int] = DEFAULT_TILE) -> np.ndarray:
    """The whole output of an :class:`keras_sr.runtime.SRModel` on ``lr`` (HxWxC uint8),
    computed in tiles: equal to ``model(lr)``."""
    tile = (tile, tile) if isinstance(tile, int) else tile
    h, w = lr.shape[:2]
    out = None
    for y0, y1, band in tiled_bands(model, lambda r0, r1: lr[r0:r1], h, w, model.scale,
                                    model.receptive_radius, tile):
        if out is None:
            out = np.empty((h * model.scale, w * model.scale, band.shape[2]), band.dtype)
        out[y0 * model.scale:y1 * model.scale] = band
    return out


def model_tile(model, tile: int | None) -> tuple[int, int]:
    """The window size (H, W): ``tile``, or the model's fixed input size, or :data:`DEFAULT_TILE`."""
    if tile is not None:
        return tile, tile
    return model.input_size or (DEFAULT_TILE, DEFAULT_TILE)
