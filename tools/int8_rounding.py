"""Which int8 kernel rounding of a trained run loses least: to nearest (the converter's own) or
for the inputs each convolution sees (``keras_sr.export.ROUNDING``)?

Exports the run to int8 once per rounding (calibrated on ``--calib``), and scores the float network
and each int8 file on ``--data`` (PSNR-Y, shave = scale, MATLAB bicubic LR); also prints each
file's op list and the GPU-delegate analyzer's verdict. Use held-out training images for
``--data``, never the test sets:

    python -m tools.int8_rounding checkpoints/x2_esr_tm_k7c4 --data split/val --calib split/train
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

from keras_sr import export
from keras_sr.evaluate import evaluate


ROUNDINGS = ("nearest", "inputs")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("run", type=Path, help="run directory or folded .keras")
    parser.add_argument("--data", type=Path, required=True, help="held-out HR images to score on")
    parser.add_argument("--calib", type=Path, required=True, help="training HR images to calibrate on")
    args = parser.parse_args()
    report = evaluate(str(args.run), [args.data]).datasets[0]
    float_psnr = report.mean("model")[0]
    print(f"{args.data}: bicubic {report.mean('bicubic')[0]:.3f} dB, float {float_psnr:.3f} dB")
    with tempfile.TemporaryDirectory() as tmp:
        for rounding in ROUNDINGS:
            export.ROUNDING = rounding
            path = Path(tmp) / f"{rounding}.tflite"
            exported = export.export_tflite(args.run, path, "int8", args.calib, report=False)
            psnr = evaluate(str(path), [args.data]).datasets[0].mean("model")[0]
            print(f"{rounding}: int8 {psnr:.3f} dB ({psnr - float_psnr:+.3f} vs float); "
                  f"{len(exported.ops)} ops {sorted(set(exported.ops))}; "
                  f"GPU analyzer: {exported.gpu_report.splitlines()[0]}")


if __name__ == "__main__":
    main()
