"""Which int8 form of eSR-MAX's maximum over C: one REDUCE_MAX, or C - 1 MAXIMUM ops over slices?

Exports both forms of the same random-weight eSR-MAX network (identical function), checks that
they give the same pixels, runs TF's GPU-delegate analyzer on each, and times them interleaved
beside the bundled x2 ECBSR-M4C16 int8 file at 540x960 -> 1080x1920:

    python -m tools.bench_esr_max [--kernel 7] [--channels 4] [--runs 10]
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

from keras_sr.archs import esr
from keras_sr.bundled import resolve_model
from keras_sr.config import ESRConfig
from keras_sr.export import convert, gpu_compatibility, model_ops
from keras_sr.int8 import calibration_images, calibration_patches
from keras_sr.metadata import add_metadata, sr_metadata
from keras_sr.profile import side_by_side
from keras_sr.runtime import TFLiteSRModel, read_metadata


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--kernel", type=int, default=7)
    parser.add_argument("--channels", type=int, default=4)
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    config = ESRConfig(scale=2, mode="max", kernel_size=args.kernel, channels=args.channels)
    model = esr.build(config)
    patches = calibration_patches(calibration_images(None)[0], config, 32)
    lr = np.random.default_rng(0).integers(0, 256, (64, 64, 1), dtype=np.uint8)
    with tempfile.TemporaryDirectory() as tmp:
        paths, outputs = [], []
        for form in ("reduce", "chain"):
            content = convert(esr.fold(model, config, max_as=form), config, "int8", None, patches)
            content = add_metadata(content, sr_metadata(config, "int8"))
            path = Path(tmp) / f"esr_max_{form}.tflite"
            path.write_bytes(content)
            paths.append(path)
            outputs.append(TFLiteSRModel(content, read_metadata(content))(lr))
            ops = model_ops(content)
            print(f"{form}: {len(ops)} ops ({', '.join(sorted(set(ops)))}); "
                  f"GPU analyzer: {gpu_compatibility(content).splitlines()[0]}")
        diff = np.abs(outputs[0].astype(int) - outputs[1]).max()
        print(f"max abs difference between the two forms' uint8 outputs: {diff}")
        rows = side_by_side([*paths, resolve_model("x2")], (1080, 1920), (1, 2), args.runs)
    for row in rows:
        print(f"{row.name:40} threads {row.threads}  {row.ms:7.2f} ms")


if __name__ == "__main__":
    main()
