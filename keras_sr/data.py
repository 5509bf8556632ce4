"""Training and evaluation data: image folders, the benchmark degradation, and the patch stream.

Pairs follow the benchmark protocol of :mod:`keras_sr.metrics`: HR (uint8, grayscale or RGB)
is cropped to a multiple of the scale and degraded with MATLAB's bicubic ``imresize``
(:func:`keras_sr.imresize.bicubic_downscale`), giving a uint8 LR image. Then, per ``colors``:

* ``colors=1`` (Y): the model input is MATLAB ``rgb2ycbcr`` Y of the uint8 LR image, rounded
  and clipped to uint8; the target is the HR image's Y kept in float (unrounded), exactly the
  Y the evaluation compares against. Grayscale images are their own Y.
* ``colors=3`` (RGB): input and target are the uint8 RGB images (grayscale repeated 3 times).

Training batches are random patches with random flips and 90-degree rotations, drawn from the
decoded pairs cached in memory. Batch ``k`` depends only on ``(seed, k)`` (stateless random
ops), so a resumed run sees exactly the batches it would have seen without the interruption.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np

from keras_sr.errors import UserError
from keras_sr.images import IMAGE_SUFFIXES
from keras_sr.imresize import bicubic_downscale, round_pixels
from keras_sr.metrics import to_y


def read_image(path: Path) -> np.ndarray:
    """Decode an image file into uint8 pixels: HxW (grayscale) or HxWx3 (RGB), alpha dropped.

    Decoding is :func:`keras_sr.images.load_image`'s (palette, 16-bit, EXIF orientation);
    raises :class:`UserError` for files that cannot be decoded.
    """
    from keras_sr.images import load_image

    pixels = load_image(Path(path)).pixels
    if pixels.ndim == 3 and pixels.shape[2] in (2, 4):  # gray + alpha, RGBA
        pixels = pixels[:, :, :-1]
    if pixels.ndim == 3 and pixels.shape[2] == 1:
        pixels = pixels[:, :, 0]
    return np.ascontiguousarray(pixels)


def list_images(folders: Sequence[Path]) -> list[Path]:
    """Image files (by suffix, sorted) in each folder, not recursive; hidden files (such as
    the temporary files of a killed run, ``.<random>.<name>``) are left out.

    Raises :class:`UserError` for no folder, a missing folder, or one without image files.
    """
    if not folders:
        raise UserError("no data folder given")
    paths: list[Path] = []
    for folder in map(Path, folders):
        if not folder.is_dir():
            raise UserError(f"{folder}: no such data folder")
        found = sorted(p for p in folder.iterdir()
                       if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith("."))
        if not found:
            raise UserError(f"{folder}: no images (expected {', '.join(IMAGE_SUFFIXES)} files)")
        paths.extend(found)
    return paths


def model_input(lr: np.ndarray, colors: int) -> np.ndarray:
    """The network input for a uint8 LR image (HxW or HxWx3): HxWxcolors uint8.

    colors=1: Y of RGB (MATLAB ``rgb2ycbcr``) rounded to uint8, or the gray values.
    colors=3: RGB, or the gray values repeated.
    """
    if lr.ndim == 3 and lr.shape[2] == 1:
        lr = lr[:, :, 0]
    if colors == 1:
        y = lr if lr.ndim == 2 else round_pixels(to_y(lr))
        return y[:, :, None]
    return np.repeat(lr[:, :, None], 3, axis=2) if lr.ndim == 2 else lr


def target(hr: np.ndarray, colors: int) -> np.ndarray:
    """The training target for a uint8 HR image (HxW or HxWx3): HxWxcolors.

    colors=1: float32 Y, unrounded (the Y that :func:`keras_sr.metrics.psnr_y` uses).
    colors=3: uint8 RGB (gray repeated).
    """
    if colors == 1:
        return to_y(hr).astype(np.float32)[:, :, None]
    return model_input(hr, 3)


@dataclasses.dataclass
class Pair:
    """One training or validation image: network input ``lr`` (h x w x colors, uint8) and
    target ``hr`` (hs x ws x colors; float32 for Y, uint8 for RGB); ``gray`` if the file was."""

    name: str
    lr: np.ndarray
    hr: np.ndarray
    gray: bool = False


def make_pair(name: str, image: np.ndarray, scale: int, colors: int) -> Pair:
    """Degrade one uint8 HR image with the benchmark bicubic and convert it to ``colors``."""
    hr, lr = bicubic_downscale(image, scale)
    return Pair(name, model_input(lr, colors), target(hr, colors), gray=image.ndim == 2)


@dataclasses.dataclass
class PairSet:
    """Decoded pairs and what was left out: ``skipped`` holds ``(path, reason)``."""

    pairs: list[Pair]
    skipped: list[tuple[Path, str]]

    @property
    def nbytes(self) -> int:
        return sum(p.lr.nbytes + p.hr.nbytes for p in self.pairs)


def load_pairs(folders: Sequence[Path], scale: int, colors: int,
               min_lr_size: int = 1) -> PairSet:
    """Read every image of ``folders`` and make its LR/HR pair (decoded and degraded once).

    Unreadable files and images whose LR side is smaller than ``min_lr_size`` (the patch) are
    skipped and listed in ``skipped``. Raises :class:`UserError` when the folders are missing or
    empty, or when no usable image is left.
    """
    paths = list_images(folders)
    pairs: list[Pair] = []
    skipped: list[tuple[Path, str]] = []
    for path in paths:
        try:
            image = read_image(path)
        except UserError as exc:
            skipped.append((path, str(exc).split(": ", 1)[-1]))
            continue
        h, w = image.shape[0] // scale, image.shape[1] // scale
        if min(h, w) < min_lr_size:
            skipped.append((path, f"{image.shape[1]}x{image.shape[0]} pixels is smaller than a "
                                  f"{min_lr_size * scale}x{min_lr_size * scale} HR patch"))
            continue
        pairs.append(make_pair(path.name, image, scale, colors))
    if not pairs:
        where = ", ".join(str(f) for f in folders)
        reasons = "; ".join(sorted({r for _, r in skipped}))[:300]
        raise UserError(f"no usable image in {where} ({len(skipped)} skipped: {reasons})")
    return PairSet(pairs, skipped)


class PatchSampler:
    """Random training batches from in-memory pairs, as tensorflow ops.

    The pairs are packed into two flat buffers (LR uint8, HR float32 or uint8) with per-image
    offsets and shapes; a batch gathers ``batch`` random patches (image chosen uniformly, then a
    uniform position), applies a random element of the 8 flips/rotations per patch, and returns
    ``(lr, hr)`` float32 NHWC in 0..255: (batch, patch, patch, colors) and
    (batch, patch * scale, patch * scale, colors).

    Randomness is stateless, keyed by ``(seed, step)``: :meth:`batch` for a given step always
    returns the same patches.
    """

    def __init__(self, pairs: Sequence[Pair], scale: int, patch: int, batch: int, seed: int = 0):
        import tensorflow as tf

        if not pairs:
            raise UserError("no training pairs")
        self.scale, self.patch, self.batch, self.seed = scale, patch, batch, seed
        self.colors = int(pairs[0].lr.shape[2])
        lr_shapes = np.array([p.lr.shape[:2] for p in pairs], np.int64)
        if np.any(lr_shapes < patch):
            raise UserError(f"an image is smaller than the LR patch ({patch} pixels)")
        sizes = lr_shapes[:, 0] * lr_shapes[:, 1] * self.colors
        lr_off = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        self._lr = tf.constant(np.concatenate([p.lr.ravel() for p in pairs]))
        self._hr = tf.constant(np.concatenate([p.hr.ravel() for p in pairs]))
        self._lr_off = tf.constant(lr_off)
        self._hr_off = tf.constant(lr_off * scale * scale)
        self._shapes = tf.constant(lr_shapes)
        self.num_images = len(pairs)

    def batch_for_step(self, step):
        """(lr, hr) for training step ``step`` (an int64 scalar tensor)."""
        import tensorflow as tf

        b, p, s, c = self.batch, self.patch, self.scale, self.colors
        key = tf.stack([tf.constant(self.seed, tf.int64), tf.cast(step, tf.int64)])
        seeds = tf.random.experimental.stateless_split(key, 4)
        index = tf.random.stateless_uniform([b], seeds[0], 0, self.num_images, tf.int64)
        shape = tf.gather(self._shapes, index)
        corner = tf.random.stateless_uniform([b, 2], seeds[1], 0, 2**31 - 1, tf.int64)
        corner = corner % (shape - p + 1)
        lr = self._gather(self._lr, tf.gather(self._lr_off, index), shape[:, 1], corner, p, c)
        hr = self._gather(self._hr, tf.gather(self._hr_off, index), shape[:, 1] * s,
                          corner * s, p * s, c)
        flips = tf.random.stateless_uniform([b, 3], seeds[2], 0, 2, tf.int32) > 0
        return self._augment(lr, flips), self._augment(hr, flips)

    @staticmethod
    def _gather(flat, offset, width, corner, size, colors):
        import tensorflow as tf

        rows = corner[:, 0:1] + tf.range(size, dtype=tf.int64)[None]  # (b, size)
        cols = corner[:, 1:2] + tf.range(size, dtype=tf.int64)[None]
        pix = rows[:, :, None] * width[:, None, None] + cols[:, None, :]  # (b, size, size)
        idx = (offset[:, None, None, None] + pix[..., None] * colors
               + tf.range(colors, dtype=tf.int64)[None, None, None])
        return tf.cast(tf.gather(flat, idx), tf.float32)

    @staticmethod
    def _augment(x, flips):
        import tensorflow as tf

        def pick(mask, a, b):
            return tf.where(mask[:, None, None, None], a, b)

        x = pick(flips[:, 0], tf.reverse(x, [1]), x)
        x = pick(flips[:, 1], tf.reverse(x, [2]), x)
        return pick(flips[:, 2], tf.transpose(x, [0, 2, 1, 3]), x)

    def dataset(self, first_step: int, last_step: int):
        """A prefetching ``tf.data.Dataset`` of ``(lr, hr)`` batches for steps
        ``first_step .. last_step - 1``."""
        import tensorflow as tf

        ds = tf.data.Dataset.range(first_step, last_step)
        ds = ds.map(self.batch_for_step,
                    num_parallel_calls=tf.data.AUTOTUNE, deterministic=True)
        return ds.prefetch(tf.data.AUTOTUNE)


def dihedral(x: np.ndarray, k: int) -> np.ndarray:
    """The ``k``-th (0..7) flip/rotation of an HxWxC array: rot90 ``k % 4`` times, then a
    left-right flip when ``k >= 4``."""
    x = np.rot90(x, k % 4, axes=(0, 1))
    return x[:, ::-1] if k >= 4 else x


def inverse_dihedral(x: np.ndarray, k: int) -> np.ndarray:
    """Undo :func:`dihedral`."""
    if k >= 4:
        x = x[:, ::-1]
    return np.rot90(x, -(k % 4), axes=(0, 1))


def describe_skipped(skipped: Iterable[tuple[Path, str]], limit: int = 5) -> list[str]:
    """Lines that report skipped files, at most ``limit`` named."""
    skipped = list(skipped)
    lines = [f"skipped {p}: {reason}" for p, reason in skipped[:limit]]
    if len(skipped) > limit:
        lines.append(f"... and {len(skipped) - limit} more skipped")
    return lines
