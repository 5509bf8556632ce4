"""Make the training / validation split of the shipped training sets, as folders of symlinks.

Every Nth image of each training set (sorted by name; default every 20th, starting with the
10th) goes to OUT/val, the rest to OUT/train, named ``<set>__<file>``. Validation images choose
checkpoints and hyper-parameters; the benchmark sets (Set5, Set14, B100) are never used for
that. The rule is fixed, so every machine gets the same split from the same sets.

Usage (from the repository root):
    python -m tools.split_data DATASETS OUT [--sets T91,BSD200,General100,BSDS500_test200] [--every 20]
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

TRAINING_SETS = ("T91", "BSD200", "General100", "BSDS500_test200")
BENCHMARK_SETS = ("Set5", "Set14", "B100")


def split(datasets: Path, out: Path, sets: list[str], every: int) -> tuple[int, int]:
    """Write the symlink folders; return (training, validation) image counts."""
    from keras_sr.data import list_images

    if bad := sorted(set(sets) & set(BENCHMARK_SETS)):
        raise SystemExit(f"error: {', '.join(bad)}: benchmark sets are never trained or validated on")
    counts = [0, 0]
    for name in sets:
        for i, path in enumerate(list_images([datasets / name])):
            held_out = i % every == every // 2
            folder = out / ("val" if held_out else "train")
            folder.mkdir(parents=True, exist_ok=True)
            link = folder / f"{name}__{path.name}"
            if not link.is_symlink():
                link.symlink_to(path.resolve())
            counts[held_out] += 1
    return counts[0], counts[1]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("datasets", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--sets", default=",".join(TRAINING_SETS))
    parser.add_argument("--every", type=int, default=20)
    args = parser.parse_args(argv)
    train, val = split(args.datasets, args.out, [s for s in args.sets.split(",") if s], args.every)
    print(f"{args.out}: {train} training and {val} validation images")
    return 0


if __name__ == "__main__":
    sys.exit(main())
