#!/usr/bin/env python3
"""Write the golden files the Android app's JVM tests compare its pure-Java core against.

The app re-implements in Java what the Python package does for inference: MATLAB rgb2ycbcr and
its inverse (keras_sr.metrics), MATLAB bicubic (keras_sr.imresize), the tiling scheme
(keras_sr.tiling) and the metadata contract (keras_sr.export.sr_metadata, keras_sr.runtime
.read_metadata). This script runs the Python side on a small fixed input and writes what it gets
as JSON to android_demo/app/src/test/resources/golden/, where GoldenTest
(android_demo/app/src/test/java/org/keras_sr/demo/core/GoldenTest.java) reads them.

Run it with the project's venv after changing any of those Python functions, and commit the
output:   . .venv/bin/activate && python tools/make_android_golden.py
The output is deterministic (fixed seed, sorted keys); --check only compares with the committed
files and fails if they are stale.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from keras_sr.config import preset_config
from keras_sr.export import add_metadata, sr_metadata
from keras_sr.imresize import imresize, round_pixels
from keras_sr.metrics import rgb2ycbcr, ycbcr2rgb
from keras_sr.runtime import read_metadata
from keras_sr.tiling import axis_windows

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "android_demo/app/src/test/resources/golden"
# Any exported model will do as the flatbuffer carrying the metadata variants (its own entry is
# replaced); only read here, never written.
CARRIER = REPO / "keras_sr/pretrained/ecbsr_x2_m4c16_relu_y_int8.tflite"
HEIGHT, WIDTH = 11, 13
ROUND_CASES = [-3.0, -0.5, 0.0, 0.49999999, 0.5, 1.5, 2.5, 126.5, 127.5, 254.5, 255.0, 255.5, 300.0]
SCALES = (2, 3)
# (length, tile, radius): single window, exact fit, one pixel over, a last window pulled back to
# L - T, the app's default window with a large and the x2 model's halo, a halo close to T / 2,
# and a 12 MP photo's long side.
AXIS_CASES = [(1, 8, 2), (8, 8, 2), (9, 8, 2), (100, 32, 6), (257, 256, 16), (600, 256, 6),
              (300, 64, 25), (4032, 256, 6)]


def test_image() -> np.ndarray:
    """HxWx3 uint8: gradients, pure gray (chroma exactly 0), saturated primaries, noise."""
    rng = np.random.default_rng(20240607)
    img = rng.integers(0, 256, size=(HEIGHT, WIDTH, 3), dtype=np.int64)
    img[0, :, :] = np.linspace(0, 255, WIDTH).round().astype(np.int64)[:, None]   # gray ramp
    img[1, :, 0] = np.arange(WIDTH) * 20                                            # red ramp
    img[1, :, 1:] = 0
    img[2, :6] = [[255, 0, 0], [0, 255, 0], [0, 0, 255], [255, 255, 255], [0, 0, 0], [255, 255, 0]]
    img[:, 0] = 128                                                                  # gray column
    return img.clip(0, 255).astype(np.uint8)


def flat(a: np.ndarray) -> list:
    return [float(v) if isinstance(v, (float, np.floating)) else int(v) for v in a.reshape(-1).tolist()]


def color_files(img: np.ndarray) -> dict[str, dict]:
    ycc = rgb2ycbcr(img)
    y_rounded = round_pixels(ycc[:, :, 0])
    # The Y-model recombination: the model's Y (here the rounded input Y stands in for it) with
    # float chroma, back through the exact inverse, rounded and clipped.
    recombined = ycbcr2rgb(np.stack([y_rounded.astype(np.float64), ycc[:, :, 1], ycc[:, :, 2]], 2))
    files = {
        "image.json": {"height": HEIGHT, "width": WIDTH, "rgb": flat(img)},
        "ycbcr.json": {
            "source": "keras_sr.metrics.rgb2ycbcr / ycbcr2rgb, keras_sr.imresize.round_pixels",
            "y": flat(ycc[:, :, 0]), "cb": flat(ycc[:, :, 1]), "cr": flat(ycc[:, :, 2]),
            "y_uint8": flat(y_rounded),
            "roundtrip_rgb": flat(round_pixels(ycbcr2rgb(ycc))),
            "recombined_float": flat(recombined),
            "recombined_rgb": flat(round_pixels(recombined)),
            # Exact ties and out-of-range values: round half up (not half even), clip.
            "round_in": ROUND_CASES, "round_out": flat(round_pixels(np.array(ROUND_CASES))),
        },
    }
    for s in SCALES:
        files[f"bicubic_x{s}.json"] = {
            "source": f"keras_sr.imresize.imresize(image, {s}.0): uint8, rounded after each pass",
            "scale": s, "height": HEIGHT * s, "width": WIDTH * s, "rgb": flat(imresize(img, float(s))),
        }
    # The chroma path of Y models: the float Cb plane, no intermediate rounding (x2 only, to keep
    # the file small; the taps are the same code as the uint8 path).
    files["bicubic_x2.json"]["cb"] = flat(imresize(ycc[:, :, 1], 2.0))
    return files


def tiling_file() -> dict:
    cases = []
    for length, tile, radius in AXIS_CASES:
        windows = axis_windows(length, tile, radius)
        cases.append({"length": length, "tile": tile, "radius": radius,
                      "windows": [[w.start, w.size, w.keep_start, w.keep_end] for w in windows]})
    return {"source": "keras_sr.tiling.axis_windows: [start, size, keep_start, keep_end]", "cases": cases}


def metadata_file() -> dict:
    """sr_metadata as the exporter writes it, and what read_metadata decides about variants."""
    written = sr_metadata(preset_config("m4c16", 3, colors=3), "int8", qat_steps=0)
    carrier = CARRIER.read_bytes()
    variants = {
        "as_written": {},
        "scale_1": {"scale": 1}, "scale_5": {"scale": 5}, "scale_float": {"scale": 2.5},
        "scale_string": {"scale": "2"}, "colors_2": {"colors": 2},
        "radius_0": {"receptive_radius": 0}, "radius_129": {"receptive_radius": 129},
        "radius_128": {"receptive_radius": 128}, "format_other": {"format": "other"},
        "no_scale": {"scale": None}, "fp16": {"quantization": "fp16", "input_dtype": "float32"},
        "quantization_unknown": {"quantization": "int4"},
    }
    cases = []
    for name, change in variants.items():
        meta = dict(written)
        for key, value in change.items():
            if value is None:
                del meta[key]
            else:
                meta[key] = value
        try:
            parsed = read_metadata(add_metadata(carrier, meta), name)
            verdict = {"python_accepts": True, "scale": parsed["scale"], "colors": parsed["colors"],
                       "receptive_radius": parsed["receptive_radius"]}
        except Exception as exc:  # UserError: the verdict is the point
            verdict = {"python_accepts": False, "python_error": str(exc)}
        # As add_metadata stores it in the flatbuffer: sorted keys, json.dumps defaults.
        cases.append({"name": name, "json": json.dumps(meta, sort_keys=True), **verdict})
    return {"source": "keras_sr.export.sr_metadata + add_metadata, keras_sr.runtime.read_metadata",
            "cases": cases}


def render(obj: dict) -> str:
    # repr-exact floats (17 significant digits), one file per artifact, stable across runs.
    return json.dumps(obj, sort_keys=True, allow_nan=False) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="fail if the committed files differ")
    args = parser.parse_args()
    img = test_image()
    files = color_files(img)
    files["tiling.json"] = tiling_file()
    files["metadata.json"] = metadata_file()
    stale = []
    OUT.mkdir(parents=True, exist_ok=True)
    for name, obj in sorted(files.items()):
        path, text = OUT / name, render(obj)
        if args.check:
            if not path.is_file() or path.read_text() != text:
                stale.append(name)
            continue
        tmp = path.with_suffix(".json.part")   # never a half-written golden file
        tmp.write_text(text)
        tmp.replace(path)
        print(f"wrote {path.relative_to(REPO)} ({len(text)} bytes)")
    if stale:
        print("stale golden files (rerun tools/make_android_golden.py): " + ", ".join(stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
