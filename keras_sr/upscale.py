"""Upscale image files with an SR model, in tiles, streaming the output band by band.

Color (as in the SR literature): a Y-channel model upscales Y (MATLAB BT.601 studio swing,
:func:`keras_sr.metrics.rgb2ycbcr`, rounded to uint8 as the model input) and Cb/Cr are upscaled
with MATLAB bicubic (:mod:`keras_sr.imresize`) in float, then converted back to RGB, rounded and
clipped. An RGB model runs on RGB. Grayscale input stays grayscale (fed as Y; an RGB model gets
it on three channels and its output goes back to gray), alpha is upscaled bicubically.

Memory stays bounded: only the decoded input, one band of tile rows and its float work are held;
PNG output is written band by band (other formats are assembled in memory, then saved).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from keras_sr.data import model_input
from keras_sr.errors import UserError, first_line
from keras_sr.files import atomic_path
from keras_sr.images import IMAGE_SUFFIXES, LoadedImage, PngWriter, list_inputs, load_image, save_image
from keras_sr.imresize import contributions, output_length
from keras_sr.metrics import rgb2ycbcr, ycbcr2rgb
from keras_sr.runtime import SRModel, round_pixels
from keras_sr.tiling import model_tile, tiled_bands

COLOR_CHUNK_ROWS = 64  # output rows per float color-conversion step (bounds the float work)
GRAY_WEIGHTS = np.array([0.299, 0.587, 0.114])  # ITU-R BT.601 luma, as Pillow's "L" conversion

# Progress callback: (file, LR rows done, LR rows in total).
Progress = Callable[[Path, int, int], None]


@dataclasses.dataclass
class UpscaleResult:
    source: Path
    output: Path
    input_size: tuple[int, int]   # (H, W)
    output_size: tuple[int, int]
    warnings: list[str]


@dataclasses.dataclass(frozen=True)
class BatchOptions:
    """How ``upscale_files`` treats a batch.

    Attributes:
        format: output file type for folder output ("png", "jpg", "webp", ...; default png).
        quality: JPEG/WebP quality 1..100 (Pillow's default if None).
        recursive: also take images in subfolders of input folders (output mirrors them).
        skip_existing: leave an output that already exists and skip its input.
        overwrite: replace an output that already exists (otherwise that input fails).
        fail_fast: stop at the first input that fails (otherwise report it and go on).
    """

    format: str | None = None
    quality: int | None = None
    recursive: bool = False
    skip_existing: bool = False
    overwrite: bool = False
    fail_fast: bool = False


@dataclasses.dataclass
class BatchResult:
    """What a batch did: the files written, the inputs skipped (output already there) and the
    inputs that failed, each with its one-line reason."""

    done: list[UpscaleResult]
    skipped: list[tuple[Path, Path]]
    failed: list[tuple[Path, str]]


def upscale_files(model: SRModel, inputs: list[Path], output: Path, tile: int | None = None,
                  progress: Progress | None = None, options: BatchOptions = BatchOptions(),
                  on_failure: Callable[[Path, str], None] | None = None) -> BatchResult:
    """Upscale each input file (directories expand to their images) into ``output``: a file
    for one input file, else a directory (created if needed) of ``<stem>.<format>`` files.

    Problems with the command as a whole (output type, a missing folder, an output that would
    overwrite an input) raise UserError before anything is written; a problem with one input
    (unreadable, too large, its output exists) is reported to ``on_failure(source, message)``
    and the batch goes on, unless ``options.fail_fast``.
    """
    if options.skip_existing and options.overwrite:
        raise UserError("choose one of skip_existing and overwrite", params=("skip_existing", "overwrite"))
    if options.quality is not None and not 1 <= options.quality <= 100:
        raise UserError(f"quality must be in 1..100, got {options.quality}", params=("quality",))
    files = list_inputs(inputs, options.recursive)
    output = Path(output)
    to_dir = len(files) > 1 or any(Path(p).is_dir() for p in inputs) or output.is_dir()
    if to_dir:
        if output.exists() and not output.is_dir():
            raise UserError(f"{output}: several inputs need an output directory, and this is a file")
        suffix = "." + (options.format or "png").lower().lstrip(".")
        if suffix not in IMAGE_SUFFIXES:
            raise UserError(f"format {options.format}: unknown image type; use one of "
                            f"{', '.join(s[1:] for s in IMAGE_SUFFIXES)}", params=("format",))
        targets = _dir_targets(files, inputs, output, suffix)
    else:
        if options.format is not None:
            raise UserError("format is for folder output; with one output file its suffix says the type",
                            params=("format",))
        if output.suffix.lower() not in IMAGE_SUFFIXES:
            raise UserError(f"{output}: unknown image type; use one of {', '.join(IMAGE_SUFFIXES)}")
        targets = [output]
    for target in targets:
        if not target.parent.is_dir() and not (to_dir and output in target.parents):
            raise UserError(f"{target.parent}: output folder does not exist")
    sources = {f.resolve() for f in files}
    for target in targets:
        if target.resolve() in sources:
            raise UserError(f"{target}: the output would overwrite an input; choose another output",
                            params=("output",))
    if to_dir:
        try:
            output.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise UserError(f"{output}: cannot create output directory ({exc.strerror or exc})") from None
    result = BatchResult([], [], [])
    for source, target in zip(files, targets):
        if target.exists() and options.skip_existing:
            result.skipped.append((source, target))
            continue
        try:
            if target.exists() and not options.overwrite:
                raise UserError(f"{target}: already exists (overwrite replaces it, "
                                f"skip_existing keeps it)", params=("overwrite", "skip_existing"))
            if to_dir:
                target.parent.mkdir(parents=True, exist_ok=True)
            result.done.append(upscale_file(model, source, target, tile, progress, options.quality))
        except UserError as exc:
            if options.fail_fast or not to_dir:
                raise
            message = str(exc) if str(source) in str(exc) or str(target) in str(exc) else f"{source}: {exc}"
            result.failed.append((source, message))
            if on_failure:
                on_failure(source, message)
    return result


def upscale_file(model: SRModel, source: Path, target: Path, tile: int | None = None,
                 progress: Progress | None = None, quality: int | None = None) -> UpscaleResult:
    """Upscale one image file into ``target`` (written atomically: no partial file on error);
    ``quality`` for JPEG and WebP output."""
    image = load_image(source)
    height, width, channels, bands = upscale_bands(model, image, tile)
    total = image.pixels.shape[0]
    try:
        with atomic_path(target) as tmp:
            if target.suffix.lower() == ".png":
                with open(tmp, "wb") as stream:
                    writer = PngWriter(stream, width, height, channels)
                    for y1, band in bands:
                        writer.write(band)
                        if progress:
                            progress(source, y1, total)
                    writer.close()
            else:
                out = np.empty((height, width, channels), np.uint8)
                row = 0
                for y1, band in bands:
                    out[row:row + band.shape[0]] = band
                    row += band.shape[0]
                    if progress:
                        progress(source, y1, total)
                save_image(out, tmp, quality)
    except UserError:
        raise
    except (OSError, ValueError, KeyError) as exc:  # Pillow: unknown format, mode not writable
        raise UserError(f"{target}: cannot write ({getattr(exc, 'strerror', None) or first_line(exc)})") from None
    return UpscaleResult(source, target, image.pixels.shape[:2], (height, width), image.warnings)


def upscale_image(model: SRModel, pixels: np.ndarray, tile: int | None = None) -> np.ndarray:
    """Upscale one decoded image in memory (HxW or HxWxC uint8, as :func:`load_image` gives)
    exactly as :func:`upscale_file` would write it: (sH)x(sW)xC uint8."""
    height, width, channels, bands = upscale_bands(model, LoadedImage(pixels, []), tile)
    out = np.concatenate([band for _, band in bands], axis=0)
    assert out.shape == (height, width, channels), (out.shape, height, width, channels)
    return out


def upscale_bands(model: SRModel, image: LoadedImage, tile: int | None = None
                  ) -> tuple[int, int, int, Iterator[tuple[int, np.ndarray]]]:
    """(out height, out width, channels, bands): bands yield (LR rows done, uint8 output rows)."""
    pixels = image.pixels
    if pixels.ndim == 2:
        pixels = pixels[:, :, None]
    h, w, channels = pixels.shape
    s = model.scale
    color = pixels[:, :, :3] if channels >= 3 else pixels[:, :, :1]
    alpha = pixels[:, :, channels - 1:] if channels in (2, 4) else None
    rgb_in = color.shape[2] == 3

    def model_rows(r0: int, r1: int) -> np.ndarray:
        return model_input(color[r0:r1], model.colors)

    chroma = (_BandResize(h, w, s, lambda r0, r1: rgb2ycbcr(color[r0:r1])[:, :, 1:])
              if model.colors == 1 and rgb_in else None)
    alpha_up = _BandResize(h, w, s, lambda r0, r1: alpha[r0:r1].astype(np.float64)) if alpha is not None else None

    def bands() -> Iterator[tuple[int, np.ndarray]]:
        for y0, y1, sr in tiled_bands(model, model_rows, h, w, s, model.receptive_radius,
                                      model_tile(model, tile)):
            for c0 in range(0, sr.shape[0], COLOR_CHUNK_ROWS):
                o0 = y0 * s + c0
                o1 = min(o0 + COLOR_CHUNK_ROWS, y1 * s)
                part = sr[c0:c0 + o1 - o0]
                if chroma is not None:
                    ycc = np.concatenate([part.astype(np.float64), chroma.rows(o0, o1)], axis=2)
                    part = round_pixels(ycbcr2rgb(ycc))
                elif model.colors == 3 and not rgb_in:
                    part = round_pixels(part.astype(np.float64) @ GRAY_WEIGHTS)[:, :, None]
                if alpha_up is not None:
                    part = np.concatenate([part, round_pixels(alpha_up.rows(o0, o1))], axis=2)
                yield y1 if o1 == y1 * s else o1 // s, part

    return h * s, w * s, channels, bands()


class _BandResize:
    """MATLAB bicubic upscaling of an HxWxC float image, computed for output rows [o0, o1)
    only; bit-identical to :func:`keras_sr.imresize.imresize` on the whole image (same taps,
    same weights, same order of sums), reading only the input rows those outputs need."""

    def __init__(self, height: int, width: int, scale: int, rows: Callable[[int, int], np.ndarray]):
        self._rw, self._ri = contributions(height, output_length(height, scale), float(scale))
        self._cw, self._ci = contributions(width, output_length(width, scale), float(scale))
        self._rows = rows

    def rows(self, o0: int, o1: int) -> np.ndarray:
        index = self._ri[o0:o1]
        lo = int(index.min())
        src = self._rows(lo, int(index.max()) + 1)
        tall = np.zeros((o1 - o0,) + src.shape[1:])
        for k in range(self._rw.shape[1]):
            tall += self._rw[o0:o1, k][:, None, None] * src[index[:, k] - lo]
        out = np.zeros((self._cw.shape[0], o1 - o0, src.shape[2]))
        moved = np.moveaxis(tall, 1, 0)
        for k in range(self._cw.shape[1]):
            out += self._cw[:, k][:, None, None] * moved[self._ci[:, k]]
        return np.moveaxis(out, 0, 1)


def _dir_targets(files: list[Path], inputs: list[Path], output: Path, suffix: str) -> list[Path]:
    """One output path per input file: ``<stem><suffix>`` in ``output``, under the file's
    subfolder of the input folder it came from (for --recursive), unique per folder."""
    folders = [Path(p) for p in inputs if Path(p).is_dir()]
    targets, seen = [], set()
    for source in files:
        root = next((f for f in folders if f in source.parents), None)
        sub = source.parent.relative_to(root) if root is not None else Path()
        name, n = f"{source.stem}{suffix}", 1
        while (sub / name) in seen:  # a.jpg and a.png, or x.png from two folders
            n += 1
            name = f"{source.stem}_{n}{suffix}"
        seen.add(sub / name)
        targets.append(output / sub / name)
    return targets
