#!/usr/bin/env bash
# Package trained runs as the bundled models in keras_sr/pretrained/: for each run, its
# config.json + training-time weights, the folded .keras and the int8 .tflite (calibrated on
# training images, T91; 2000 steps of quantization-aware fine-tuning on them, the int8 steps
# of the hidden tensors learned with the weights (LSQ), kept where it
# scores higher there), named after the architecture, e.g. ecbsr_x2_m4c16_relu_y_int8.tflite;
# its Set5/Set14/B100 PSNR is then recorded in its metadata (sr-tool models shows it).
#
# Usage: tools/package_pretrained.sh DATASETS_DIR RUN_DIR [RUN_DIR ...]
set -euo pipefail
usage="usage: $0 DATASETS_DIR RUN_DIR [RUN_DIR ...]"
data=${1:?$usage}; shift
[ $# -gt 0 ] || { echo "$usage" >&2; exit 2; }
dest="$(cd "$(dirname "$0")/.." && pwd)/keras_sr/pretrained"
mkdir -p "$dest"

for run in "$@"; do
  name=ecbsr_$(python -c "import sys; from keras_sr.config import ModelConfig; print(ModelConfig.load(sys.argv[1]).name)" "$run/config.json")
  echo "==> $run -> $name"
  mkdir -p "$dest/$name"
  cp "$run/config.json" "$run/model.weights.h5" "$dest/$name/"
  sr-tool fold "$dest/$name" -o "$dest/$name.keras"
  sr-tool tflite "$dest/$name" -o "$dest/${name}_int8.tflite" --int8 --calib "$data/T91" --qat-steps 2000
  python -m tools.stamp_quality "$dest/${name}_int8.tflite" --data "$data" --sets Set5,Set14,B100
done
