#!/usr/bin/env bash
# Reproduce the bundled models: x2 on the Y channel, x3 and x4 started from the x2 weights
# (EDSR's strategy), and x2 RGB; preset m4c16, ReLU, trained on T91 + BSD200 (291 images),
# validated on Set5. Each step is one `sr-tool train` command; rerun one with --resume
# appended to continue it after an interruption.
#
# Usage: tools/train_pretrained.sh DATASETS_DIR RUNS_DIR {x2|x3|x4|rgb|all}
#   DATASETS_DIR holds T91/, BSD200/ and Set5/.
set -euo pipefail
usage="usage: $0 DATASETS_DIR RUNS_DIR [x2|x3|x4|rgb|all]"
data=${1:?$usage}
runs=${2:?$usage}
which=${3:-all}
shift $(( $# < 3 ? $# : 3 ))

common=(--data "$data/T91" --data "$data/BSD200" --val "$data/Set5" --val-every 5000
        --preset m4c16 --act relu --batch 16 --patch 64 --lr 5e-4 --schedule cosine --seed 0)

case "$which" in
  x2)  sr-tool train "${common[@]}" --scale 2 --colors 1 --steps 50000 -o "$runs/x2_y" "$@" ;;
  x3)  sr-tool train "${common[@]}" --scale 3 --colors 1 --steps 30000 --init "$runs/x2_y" -o "$runs/x3_y" "$@" ;;
  x4)  sr-tool train "${common[@]}" --scale 4 --colors 1 --steps 30000 --patch 48 --init "$runs/x2_y" -o "$runs/x4_y" "$@" ;;
  rgb) sr-tool train "${common[@]}" --scale 2 --colors 3 --steps 30000 -o "$runs/x2_rgb" "$@" ;;
  all) for step in x2 x3 x4 rgb; do "$0" "$data" "$runs" "$step" "$@"; done ;;
  *)   echo "unknown step: $which (x2, x3, x4, rgb or all)" >&2; exit 2 ;;
esac
