"""Time super-resolution .tflite files side by side: ours and other projects' published files, at
equal output sizes, in one process, interleaved (file 1, 2, ..., then again), per thread count
(:func:`keras_sr.profile.side_by_side`; ``sr-tool report --peers`` puts the same table in
BENCHMARKS.md).

Prints per file: input size, scale, MACs per output pixel (from its convolution weights),
median ms, output Mpx/s and GMAC/s.

No peer file is committed here: users fetch them. Files measured in the README and
BENCHMARKS.md (all x3, RGB, int8), with the repository, path and commit:
    NJU-Jet/SR_Mobile_Quantization   TFMODEL/base7_D4C28_bs16ps64_lr1e-3_qat.tflite   d7a6271 (ABPN)
    Algolzw/NCNet                    TFLite/model_none.tflite                          0484865
    ECNUSR/PureConvSR-AIM2022        TFLite/trial24/model_none.tflite                  8a6ac17

Usage (from the repository root):
    python -m tools.bench_peers FILE.tflite [FILE.tflite ...] [--output-size 1080x1920]
        [--threads 1,2] [--runs 10] [--warmup 2]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("files", type=Path, nargs="+")
    parser.add_argument("--output-size", default="1080x1920", help="HR output HxW")
    parser.add_argument("--threads", default="1,2", help="comma-separated thread counts")
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=2)
    args = parser.parse_args(argv)

    from keras_sr.cli import parse_size
    from keras_sr.errors import UserError
    from keras_sr.profile import side_by_side
    from keras_sr.runtime import runtime_name

    try:
        output_size = parse_size(args.output_size)
        threads = [int(t) for t in args.threads.split(",")]
        rows = side_by_side(args.files, output_size, threads, args.runs, args.warmup)
        print(f"output {output_size[0]}x{output_size[1]}, {runtime_name()}, XNNPACK, median of "
              f"{args.runs} interleaved runs after {args.warmup} warm-up")
        print(f"{'file':42s} {'thr':>3s} {'input':>12s} {'scale':>5s} {'MACs/px':>8s} "
              f"{'ms':>8s} {'Mpx/s':>7s} {'GMAC/s':>7s}")
        for r in rows:
            size = "x".join(map(str, r.input_shape[1:]))
            print(f"{r.name:42s} {r.threads:3d} {size:>12s} {'x%d' % r.scale:>5s} "
                  f"{r.macs_per_output_pixel:8,.0f} {r.ms:8.2f} {r.output_mpix_per_s:7.1f} "
                  f"{r.gmacs_per_s:7.1f} {r.note}")
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
