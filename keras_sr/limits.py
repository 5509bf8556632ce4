"""The bounds on what users may give, in one place, each with the reason for it.

Inputs are checked against these where they enter the library (files before any read, numbers
before any allocation), so that what follows can trust them.
"""

from __future__ import annotations

import os
from pathlib import Path

from keras_sr.errors import UserError

# The largest image upscale promises (10000x10000): its tiles keep memory bounded, and a
# decompression bomb is refused before decoding (Pillow's own limit warns at ~89 Mpx).
MAX_INPUT_PIXELS = 100_000_000
# And at most this many pixels on a side (JPEG's own limit): per-axis resampling tables and
# tile rows grow with the side, so a 1 x 40,000,000 image (a 68-byte forged PNG) would exhaust
# memory under the pixel bound alone. Found by tests/test_fuzz.py.
MAX_SIDE = 65_535
# bench runs the whole image at once (no tiles): 16 megapixels in keep its int8 tensors under
# about 0.5 GB and float32 under 2 GB.
MAX_BENCH_PIXELS = 16_000_000
# Image files: a 100-megapixel 16-bit RGBA image stored raw is 800 MB.
MAX_IMAGE_BYTES = 1 << 30
# Model files: the largest preset (m16c64) is about 1 MB as .tflite and a few MB as .keras or
# weights; 256 MiB leaves room for any SR network a phone can run.
MAX_MODEL_BYTES = 256 << 20
# Threads: more than a few per core only adds contention; XNNPACK fails outright at absurd counts.
THREADS_PER_CORE = 4


def max_threads() -> int:
    """The largest thread count accepted on this machine (:data:`THREADS_PER_CORE` per core)."""
    return THREADS_PER_CORE * (os.cpu_count() or 1)


def check_threads(threads: int | None) -> None:
    """Refuse a thread count outside 1..:func:`max_threads` (None: the runtime's default)."""
    if threads is not None and not 1 <= threads <= max_threads():
        raise UserError(f"threads must be in 1..{max_threads()} ({THREADS_PER_CORE} per core "
                        f"here), got {threads}", params=("threads",))


def check_regular_file(path: Path, max_bytes: int, what: str = "file") -> int:
    """The size of ``path`` after checking, without reading it, that it is a regular file (not a
    folder, device, FIFO or socket; symlinks are followed) of at most ``max_bytes``."""
    path = Path(path)
    try:
        stat = path.stat()
    except FileNotFoundError:
        raise UserError(f"{path}: no such file") from None
    except OSError as exc:
        raise UserError(f"{path}: cannot read ({exc.strerror or exc})") from None
    if path.is_dir():
        raise UserError(f"{path}: is a directory, not {what}")
    if not path.is_file():
        raise UserError(f"{path}: not a regular file (a device, FIFO or socket), not {what}")
    if stat.st_size > max_bytes:
        raise UserError(f"{path}: {stat.st_size:,} bytes is too large for {what} "
                        f"(at most {max_bytes:,})")
    return stat.st_size
