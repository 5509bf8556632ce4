"""Record a model file's measured quality in its metadata, for ``sr-tool models`` to show.

Evaluates each .tflite with ``sr-tool eval``'s code (PSNR-Y, shave = scale, MATLAB bicubic LR)
on each set of DATASETS and writes the means into the file's ``keras_sr`` metadata entry as
``quality = {"protocol": ..., "psnr": {set: dB}}``; the graph and every other field stay as
they are (the file is rewritten atomically). ``tools/package_pretrained.sh`` runs it.

Usage (from the repository root):
    python -m tools.stamp_quality MODEL.tflite [MODEL.tflite ...] --data DATASETS [--sets Set5,Set14,B100]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

PROTOCOL = "int8 PSNR-Y (dB), shave = scale, LR by MATLAB bicubic, as sr-tool eval"


def stamp(path: Path, data: Path, sets: list[str]) -> dict[str, float]:
    """Evaluate ``path`` on ``data/<set>`` and write the means into its metadata."""
    from keras_sr.evaluate import evaluate
    from keras_sr.metadata import add_metadata
    from keras_sr.files import atomic_path
    from keras_sr.runtime import read_metadata

    report = evaluate(str(path), [data / name for name in sets])
    psnr = {d.name: round(d.mean("model")[0], 3) for d in report.datasets}
    content = path.read_bytes()
    metadata = read_metadata(content, str(path))
    metadata["quality"] = {"protocol": PROTOCOL, "psnr": psnr}
    with atomic_path(path) as tmp:
        tmp.write_bytes(add_metadata(content, metadata))
    return psnr


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("models", type=Path, nargs="+")
    parser.add_argument("--data", type=Path, required=True)
    parser.add_argument("--sets", default="Set5,Set14,B100")
    args = parser.parse_args(argv)
    sets = [s for s in args.sets.split(",") if s]
    for path in args.models:
        psnr = stamp(path, args.data, sets)
        print(f"{path}: " + ", ".join(f"{name} {value:.3f}" for name, value in psnr.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main())
