"""Image files in and out: safe decoding to uint8 arrays, and a streaming PNG writer.

Arrays are HxW (grayscale) or HxWxC uint8, pixels 0..255, C = 3 (RGB) or 4 (RGBA); an image
with alpha keeps it as the last channel ("LA" becomes HxWx2).
"""

from __future__ import annotations

import dataclasses
import struct
import warnings
import zlib
from pathlib import Path
from typing import BinaryIO

import numpy as np

from keras_sr.errors import UserError, first_line
from keras_sr.limits import MAX_IMAGE_BYTES, MAX_INPUT_PIXELS, MAX_SIDE, check_regular_file

IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".gif", ".ppm", ".pgm")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
PNG_COMPRESS_LEVEL = 6  # Pillow's default
_PNG_COLOR_TYPES = {1: 0, 2: 4, 3: 2, 4: 6}  # channels -> PNG color type (gray, gray+alpha, RGB, RGBA)
_PNG_FILTER_SUB = 1


@dataclasses.dataclass
class LoadedImage:
    """A decoded image: ``pixels`` HxW or HxWxC uint8, and notes for the user (e.g. 16-bit)."""

    pixels: np.ndarray
    warnings: list[str]

    @property
    def has_alpha(self) -> bool:
        return self.pixels.ndim == 3 and self.pixels.shape[2] in (2, 4)

    @property
    def is_gray(self) -> bool:
        return self.pixels.ndim == 2 or self.pixels.shape[2] in (1, 2)


def load_image(path: Path) -> LoadedImage:
    """Decode an image file to uint8, honoring its EXIF orientation.

    Palette and CMYK images become RGB(A); 16-bit grayscale is scaled to 8 bits with a warning.
    Raises UserError for a missing file, a non-image, a truncated or corrupt file, an empty
    image, or one larger than :data:`MAX_INPUT_PIXELS`.
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    path = Path(path)
    check_regular_file(path, MAX_IMAGE_BYTES, "an image")
    notes: list[str] = []
    try:
        with warnings.catch_warnings():
            # Our own limit below decides; Pillow's warning (~89 Mpx) would refuse 10000x9000.
            warnings.simplefilter("ignore", Image.DecompressionBombWarning)
            with Image.open(path) as img:
                width, height = img.size
                if max(width, height) > MAX_SIDE:
                    raise UserError(f"{path}: {width}x{height} is too large (over {MAX_SIDE:,} "
                                    f"pixels on a side)")
                if width * height > MAX_INPUT_PIXELS:
                    raise UserError(f"{path}: {width}x{height} is too large (over "
                                    f"{MAX_INPUT_PIXELS:,} pixels; decompression-bomb guard)")
                if width == 0 or height == 0:
                    raise UserError(f"{path}: empty image ({width}x{height})")
                img.load()
                # Pillow reads 16-bit RGB(A) PNGs as 8-bit (high bytes): say so.
                deep_rgb = img.mode in ("RGB", "RGBA") and mode_bits(path) == 16
                img = ImageOps.exif_transpose(img)
                pixels = _to_uint8(img, notes, path)
                if deep_rgb:
                    notes.append("16-bit image converted to 8 bits")
    except UserError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise UserError(f"{path}: image too large (decompression-bomb guard)") from None
    except UnidentifiedImageError:
        size = _png_header_size(path)
        if size is not None and 0 in size:
            raise UserError(f"{path}: empty image ({size[0]}x{size[1]})") from None
        raise UserError(f"{path}: not an image (or an unsupported format)") from None
    except PermissionError as exc:
        raise UserError(f"{path}: cannot read ({exc.strerror})") from None
    except (OSError, SyntaxError, ValueError, struct.error, EOFError, zlib.error) as exc:
        # Pillow reports truncated or damaged data as OSError, SyntaxError, ValueError, ...
        raise UserError(f"{path}: truncated or corrupt image ({first_line(exc)})") from None
    if pixels.size == 0:
        raise UserError(f"{path}: empty image ({pixels.shape[1]}x{pixels.shape[0]})")
    return LoadedImage(pixels, notes)


def mode_bits(path: Path) -> int | None:
    """Bits per sample of a PNG file (its IHDR), None for other files."""
    with open(path, "rb") as f:
        head = f.read(25)
    if len(head) < 25 or not head.startswith(PNG_SIGNATURE) or head[12:16] != b"IHDR":
        return None
    return head[24]


def _png_header_size(path: Path) -> tuple[int, int] | None:
    """(width, height) from a PNG's IHDR, which Pillow refuses to open when either is 0."""
    with open(path, "rb") as f:
        head = f.read(24)
    if len(head) < 24 or not head.startswith(PNG_SIGNATURE) or head[12:16] != b"IHDR":
        return None
    return struct.unpack(">II", head[16:24])


def _to_uint8(img, notes: list[str], path: Path) -> np.ndarray:
    mode = img.mode
    if mode in ("I;16", "I;16B", "I;16L", "I;16N", "I"):
        values = np.asarray(img)
        low, high = int(values.min(initial=0)), int(values.max(initial=0))
        if low < 0 or high > 65535:
            # A 32-bit integer image has no standard white level: refuse rather than guess.
            raise UserError(f"{path}: 32-bit integer image with values {low}..{high} is not "
                            f"supported; convert it to 8 or 16 bits")
        top = 65535 if mode.startswith("I;16") or high > 255 else 255
        if top == 65535:
            notes.append("16-bit image converted to 8 bits" if mode.startswith("I;16") else
                         "32-bit integer image with 16-bit values converted to 8 bits")
        return np.floor(values.astype(np.float64) * (255.0 / top) + 0.5).clip(0, 255).astype(np.uint8)
    if mode == "F":
        raise UserError(f"{path}: 32-bit float images are not supported; convert to 8 or 16 bits")
    if mode == "1":
        img = img.convert("L")
    elif mode == "P" or mode == "PA":
        img = img.convert("RGBA" if "transparency" in img.info or mode == "PA" else "RGB")
    elif mode not in ("L", "LA", "RGB", "RGBA"):
        img = img.convert("RGBA" if "A" in mode else "RGB")
    return np.array(img, dtype=np.uint8)


def list_inputs(inputs: list[Path], recursive: bool = False) -> list[Path]:
    """Expand directories into their image files (sorted; with ``recursive``, subfolders too),
    leaving out hidden files such as the temporary files of a killed run (``.<random>.<name>``)."""
    files: list[Path] = []
    for path in inputs:
        path = Path(path)
        if path.is_dir():
            found = sorted(p for p in (path.rglob("*") if recursive else path.iterdir())
                           if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES
                           and not p.name.startswith("."))
            if not found:
                raise UserError(f"{path}: no image files ({', '.join(IMAGE_SUFFIXES)})")
            files.extend(found)
        else:
            files.append(path)
    return files


def save_image(pixels: np.ndarray, path: Path, quality: int | None = None) -> None:
    """Save HxW or HxWxC uint8 pixels with Pillow; the format follows ``path``'s suffix.
    ``quality`` (1..100) applies to JPEG and WebP; JPEG gets no alpha, so RGBA is
    saved as RGB there."""
    from PIL import Image

    if pixels.ndim == 3 and pixels.shape[2] == 1:
        pixels = pixels[:, :, 0]
    image = Image.fromarray(pixels)
    kind = Path(path).suffix.lower()
    if kind in (".jpg", ".jpeg") and image.mode in ("RGBA", "LA"):
        image = image.convert(image.mode[:-1])
    options = {"quality": quality} if quality is not None and kind in (".jpg", ".jpeg", ".webp") else {}
    image.save(path, **options)


class PngWriter:
    """Write a PNG row band by row band, so a huge output never sits in memory in one piece.

    Rows use PNG's "Sub" filter (vectorized with numpy) and one zlib stream split into IDAT
    chunks. ``channels``: 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA; 8 bits per sample.
    """

    def __init__(self, stream: BinaryIO, width: int, height: int, channels: int,
                 level: int = PNG_COMPRESS_LEVEL):
        self._stream, self._width, self._height, self._channels = stream, width, height, channels
        self._rows = 0
        self._zlib = zlib.compressobj(level)
        stream.write(PNG_SIGNATURE)
        self._chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, _PNG_COLOR_TYPES[channels], 0, 0, 0))

    def write(self, rows: np.ndarray) -> None:
        """Append rows: (n, width[, channels]) uint8."""
        rows = rows.reshape(rows.shape[0], self._width * self._channels)
        if rows.dtype != np.uint8:
            raise ValueError(f"expected uint8 rows, got {rows.dtype}")
        filtered = np.empty((rows.shape[0], rows.shape[1] + 1), np.uint8)
        filtered[:, 0] = _PNG_FILTER_SUB
        c = self._channels
        filtered[:, 1:c + 1] = rows[:, :c]
        np.subtract(rows[:, c:], rows[:, :-c], out=filtered[:, c + 1:])  # wraps mod 256, as PNG
        data = self._zlib.compress(filtered.tobytes())
        if data:
            self._chunk(b"IDAT", data)
        self._rows += rows.shape[0]

    def close(self) -> None:
        if self._rows != self._height:
            raise ValueError(f"wrote {self._rows} rows of {self._height}")
        self._chunk(b"IDAT", self._zlib.flush())
        self._chunk(b"IEND", b"")

    def _chunk(self, kind: bytes, data: bytes) -> None:
        self._stream.write(struct.pack(">I", len(data)) + kind + data)
        self._stream.write(struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

