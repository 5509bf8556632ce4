"""Prove that dropping the int8 clip ops changes no output: for each run dir, its int8 export with
the clip ops (MINIMUM + RELU after a pixel-unit output) and without them, same weights and same
calibration, compared bit for bit; for each .tflite file that still has them (e.g. an earlier
release's), the file against :func:`keras_sr.flatbuf.drop_saturated_clip` of it.

Images: every image in the --data folders (Y or RGB as the model takes), plus adversarial ones:
all 0, all 255, a 0/255 checkerboard, salt and pepper, uniform noise, and a gradient, each at
two odd sizes. Prints one line per model and exits 1 if any output differs.

Usage (from the repository root):
    python -m tools.check_clip_drop MODEL [MODEL ...] [--data DIR ...] [--calib DIR]
MODEL: a run dir or a .tflite file; --calib: calibration images for run dirs (default: the
bundled samples).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np

SIZES = ((37, 53), (64, 41))


def adversarial_images(colors: int, seed: int = 0) -> list[np.ndarray]:
    """Saturating and noisy HxWxC uint8 images."""
    rng = np.random.default_rng(seed)
    images = []
    for h, w in SIZES:
        shape = (h, w, colors)
        yy, xx = np.mgrid[:h, :w]
        images += [
            np.zeros(shape, np.uint8), np.full(shape, 255, np.uint8),
            np.repeat(((yy + xx) % 2 * 255).astype(np.uint8)[..., None], colors, -1),
            (rng.integers(0, 2, shape) * 255).astype(np.uint8),
            rng.integers(0, 256, shape, dtype=np.uint8),
            np.repeat((xx * 255 // max(w - 1, 1)).astype(np.uint8)[..., None], colors, -1),
        ]
    return images


def exports_with_and_without_clip(run_dir: Path, calib: Path | None) -> tuple[bytes, bytes]:
    """(with the clip ops, without): the int8 export of ``run_dir`` done twice, once with
    :func:`keras_sr.flatbuf.drop_saturated_clip` disabled."""
    from keras_sr import flatbuf
    from keras_sr.export import convert
    from keras_sr.int8 import calibration_images, calibration_patches
    from keras_sr.metadata import add_metadata, sr_metadata
    from keras_sr.folding import deploy
    from keras_sr.runtime import load_keras_sr_model

    model = load_keras_sr_model(run_dir)
    network = deploy(model.model, model.config)
    patches = calibration_patches(calibration_images(calib)[0], model.config)
    dropped = convert(network, model.config, "int8", patches=patches)
    real = flatbuf.drop_saturated_clip
    flatbuf.drop_saturated_clip = lambda content: (content, [])
    try:
        kept = convert(network, model.config, "int8", patches=patches)
    finally:
        flatbuf.drop_saturated_clip = real
    metadata = sr_metadata(model.config, "int8")
    return add_metadata(kept, metadata), add_metadata(dropped, metadata)


def compare(kept: bytes, dropped: bytes, folders: list[Path]) -> tuple[int, int, list[str]]:
    """(images compared, images that differ, ops removed) for two int8 files."""
    from keras_sr import flatbuf
    from keras_sr.data import list_images, model_input, read_image
    from keras_sr.runtime import TFLiteSRModel, read_metadata

    removed = [op for op in flatbuf.content_op_names(kept) if op not in flatbuf.content_op_names(dropped)]
    a, b = (TFLiteSRModel(c, read_metadata(c)) for c in (kept, dropped))
    images = adversarial_images(a.colors)
    images += [model_input(read_image(p), a.colors) for p in list_images(folders)] if folders else []
    differ = sum(not np.array_equal(a(image), b(image)) for image in images)
    return len(images), differ, removed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("models", type=Path, nargs="+")
    parser.add_argument("--data", type=Path, action="append", default=[])
    parser.add_argument("--calib", type=Path, default=None)
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    from keras_sr import flatbuf

    failed = False
    for path in args.models:
        if path.suffix == ".tflite":
            kept = path.read_bytes()
            dropped, _ = flatbuf.drop_saturated_clip(kept)
        else:
            kept, dropped = exports_with_and_without_clip(path, args.calib)
        count, differ, removed = compare(kept, dropped, args.data)
        failed |= differ > 0 or not removed
        print(f"{path}: removed {' + '.join(removed) or 'nothing'}; {count} images, "
              f"{differ} with a different output")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
