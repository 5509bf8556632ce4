"""Where a model's int8 loss comes from: PSNR-Y on HR folders of the float plain network, of the
simulated int8 roundings (weights only, activations only, both; :mod:`keras_sr.qat`), and of the
post-training int8 file itself, converted in memory as the simulation assumes (kernels rounded
to nearest, calibrated ranges) and as ``sr-tool tflite --int8`` exports it (kernels rounded for
their inputs, searched ranges), with the benchmark protocol of ``sr-tool eval``.

Usage (from the repository root):
    python -m tools.int8_breakdown MODEL --data DIR [--data DIR] [--calib DIR] [--calib-samples N]
MODEL: a run dir or folded .keras; --calib: HR images for calibration (default: bundled samples).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

import numpy as np


def _rounded(forward):
    """A uint8 -> uint8 model from a float NHWC forward function."""
    import tensorflow as tf

    from keras_sr.imresize import round_pixels

    return lambda lr: round_pixels(forward(tf.constant(lr[None].astype(np.float32))).numpy()[0])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("model", type=Path)
    parser.add_argument("--data", type=Path, action="append", required=True)
    parser.add_argument("--calib", type=Path, default=None)
    parser.add_argument("--calib-samples", type=int, default=100)
    args = parser.parse_args(argv)
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

    from keras_sr.data import list_images, model_input, read_image
    from keras_sr.evaluate import model_scores
    from keras_sr.export import convert
    from keras_sr.int8 import calibration_images, calibration_patches
    from keras_sr.metadata import add_metadata, sr_metadata
    from keras_sr.folding import deploy
    from keras_sr.imresize import bicubic_downscale
    from keras_sr.qat import activation_ranges, fake_int8_forward
    from keras_sr.runtime import TFLiteSRModel, load_keras_sr_model, read_metadata

    float_model = load_keras_sr_model(args.model)
    config = float_model.config
    patches = calibration_patches(calibration_images(args.calib)[0], config, args.calib_samples)
    network = deploy(float_model.model, config)
    ranges = activation_ranges(network, config, patches)
    content = add_metadata(convert(network, config, "int8", patches=patches, rounding="nearest",
                                   ranges="calibrated"),
                           sr_metadata(config, "int8"))
    rounded = add_metadata(convert(network, config, "int8", patches=patches), sr_metadata(config, "int8"))
    simulated = lambda **which: _rounded(fake_int8_forward(network, config, ranges, **which))  # noqa: E731
    forms = {
        "float plain": float_model,
        "int8 weights only (simulated)": simulated(activations=False),
        "int8 activations only (simulated)": simulated(weights=False),
        "int8 both (simulated)": simulated(),
        "int8 file, as simulated": TFLiteSRModel(content, read_metadata(content)),
        "int8 file, as exported": TFLiteSRModel(rounded, read_metadata(rounded)),
    }
    for folder in args.data:
        pairs = [bicubic_downscale(read_image(path), config.scale) for path in list_images([folder])]
        print(f"{folder} ({len(pairs)} images), PSNR-Y dB, shave = {config.scale}:")
        reference = None
        for name, model in forms.items():
            psnr = float(np.mean([model_scores(model(model_input(lr, config.colors)), hr,
                                               config.scale)[0] for hr, lr in pairs]))
            reference = psnr if reference is None else reference
            print(f"  {name:36s} {psnr:.3f}  ({psnr - reference:+.3f})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
