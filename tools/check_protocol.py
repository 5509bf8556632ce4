"""Check the benchmark protocol against MATLAB's files and the published tables.

Prints
(a) for the SelfExSR pairs (``DIR/SelfExSR_pairs/{Set5,Set14}/x{2,3,4}/*_HR.png``
    and ``*_LR.png``, LR made by MATLAB's ``imresize(HR, 1/s, 'bicubic')``):
    the max and mean absolute difference in gray levels between
    ``keras_sr.imresize.imresize(HR, 1/s)`` and MATLAB's LR, per set and scale;
(b) the bicubic baseline PSNR/SSIM (Y channel, shave = scale) on the full
    ``DIR/Set5`` and ``DIR/Set14`` against the published figures, for
    - ``rgb``: our protocol, uint8 RGB LR and bicubic SR, Y in float;
    - ``rgb, Y rounded``: the same with ``round_y=True``;
    - ``Y-only``: the SRCNN-era MATLAB pipeline that made the published row
      (Y of uint8 ``rgb2ycbcr`` rounded, bicubic down and up in double,
      SR Y rounded).

Usage (from the repository root): python -m tools.check_protocol [--datasets DIR]
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

import numpy as np

from keras_sr.data import read_image
from keras_sr.evaluate import bicubic_scores
from keras_sr.imresize import bicubic_downscale, bicubic_upscale, imresize
from keras_sr.metrics import psnr_y, ssim_y
from keras_sr.report import QUOTED

SETS = ("Set5", "Set14")
SCALES = (2, 3, 4)
# Bicubic baseline as published (VDSR, Kim et al. 2016, Table 3): (PSNR dB, SSIM).
PUBLISHED = {(name, q.scale): q.scores[name]
             for q in QUOTED if q.method == "Bicubic" for name in SETS}


def pair_rgb(hr: np.ndarray, scale: int, round_y: bool) -> tuple[float, float]:
    """Bicubic PSNR/SSIM with uint8 RGB degradation and upscaling."""
    hr_cropped, lr = bicubic_downscale(hr, scale)
    sr = bicubic_upscale(lr, scale)
    return (
        psnr_y(sr, hr_cropped, scale, round_y=round_y),
        ssim_y(sr, hr_cropped, scale, round_y=round_y),
    )


def check_lr(root: Path) -> None:
    """Print (a): our imresize(HR, 1/s) against MATLAB's LR files."""
    print("(a) imresize(HR, 1/s) vs MATLAB LR (SelfExSR pairs), gray levels")
    print(f"{'set':<6} {'scale':>5} {'images':>6} {'max':>6} {'mean':>8}")
    for name in SETS:
        for scale in SCALES:
            total, count, worst = 0.0, 0, 0.0
            hr_paths = sorted((root / "SelfExSR_pairs" / name / f"x{scale}").glob("*_HR.png"))
            for hr_path in hr_paths:
                hr = read_image(hr_path)
                lr_matlab = read_image(hr_path.with_name(hr_path.name.replace("_HR", "_LR")))
                lr = imresize(hr, 1.0 / scale)
                if lr.shape != lr_matlab.shape:
                    raise SystemExit(f"{hr_path.name}: shape {lr.shape} vs MATLAB {lr_matlab.shape}")
                diff = np.abs(lr.astype(np.float64) - lr_matlab)
                total += float(diff.sum())
                count += diff.size
                worst = max(worst, float(diff.max()))
            mean = total / count if count else float("nan")
            print(f"{name:<6} {scale:>5} {len(hr_paths):>6} {worst:>6.0f} {mean:>8.4f}")


def check_bicubic(root: Path) -> None:
    """Print (b): bicubic PSNR/SSIM per set and scale vs the published row."""
    variants: dict[str, Callable[[np.ndarray, int], tuple[float, float]]] = {
        "rgb": lambda hr, s: pair_rgb(hr, s, round_y=False),
        "rgb, Y rounded": lambda hr, s: pair_rgb(hr, s, round_y=True),
        "Y-only": bicubic_scores,  # what `sr-tool eval` reports
    }
    print("(b) bicubic baseline, Y channel, shave = scale (mean over images)")
    print(f"{'set':<6} {'scale':>5} {'variant':<15} {'PSNR':>8} {'SSIM':>7}"
          f" {'published':>15} {'dPSNR':>7} {'dSSIM':>8}")
    for name in SETS:
        images = [read_image(p) for p in sorted((root / name).glob("*.png"))]
        for scale in SCALES:
            ref_psnr, ref_ssim = PUBLISHED[(name, scale)]
            for label, fn in variants.items():
                scores = np.array([fn(hr, scale) for hr in images])
                p, s = scores.mean(axis=0)
                print(f"{name:<6} {scale:>5} {label:<15} {p:>8.3f} {s:>7.4f}"
                      f" {ref_psnr:>8.2f}/{ref_ssim:.4f} {p - ref_psnr:>+7.3f} {s - ref_ssim:>+8.4f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--datasets",
        type=Path,
        default=Path("../shared/datasets"),
        help="folder holding Set5/, Set14/ and SelfExSR_pairs/ (default: ../shared/datasets)",
    )
    args = parser.parse_args(argv)
    root: Path = args.datasets
    for sub in ("Set5", "Set14", "SelfExSR_pairs"):
        if not (root / sub).is_dir():
            print(f"error: {root / sub} not found (use --datasets DIR)", file=sys.stderr)
            return 2
    check_lr(root)
    print()
    check_bicubic(root)
    return 0


if __name__ == "__main__":
    sys.exit(main())
