#!/usr/bin/env bash
# Reproduce the bundled models: x2 on the Y channel, x3 and x4 started from the x2 weights
# (EDSR's strategy), and x2 RGB; preset m4c16, ReLU, trained on T91 + BSD200 (291 images),
# validated on Set5. The Y models train in two phases, each one `sr-tool train` command: a
# first run (lr 5e-4, cosine), then a warm restart from its weights (lr 2e-4, cosine, new
# patches: --seed 1) into the final run dir; x3 and x4 start their first phase from the x2
# first phase. Rerun a step with --resume appended to continue it after an interruption
# (a finished phase resumes at its end: nothing left to train).
# Steps (CPU, 2 cores): x2 50k + 80k, x3 30k + 30k, x4 30k + 60k (48-px patches), rgb 30k.
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

# phase NAME SCALE STEPS INIT [ARGS...]: one training run into $runs/NAME, from $runs/INIT.
phase() {
  local name=$1 scale=$2 steps=$3 init=$4; shift 4
  sr-tool train "${common[@]}" --scale "$scale" --colors 1 --steps "$steps" \
    ${init:+--init "$runs/$init"} -o "$runs/$name" "$@"
}
restart=(--lr 2e-4 --seed 1)

case "$which" in
  x2)  phase x2_y_base 2 50000 "" "$@"
       phase x2_y 2 80000 x2_y_base "${restart[@]}" "$@" ;;
  x3)  phase x3_y_base 3 30000 x2_y_base "$@"
       phase x3_y 3 30000 x3_y_base "${restart[@]}" "$@" ;;
  x4)  phase x4_y_base 4 30000 x2_y_base --patch 48 "$@"
       phase x4_y 4 60000 x4_y_base --patch 48 "${restart[@]}" "$@" ;;
  rgb) sr-tool train "${common[@]}" --scale 2 --colors 3 --steps 30000 -o "$runs/x2_rgb" "$@" ;;
  all) for step in x2 x3 x4 rgb; do "$0" "$data" "$runs" "$step" "$@"; done ;;
  *)   echo "unknown step: $which (x2, x3, x4, rgb or all)" >&2; exit 2 ;;
esac
