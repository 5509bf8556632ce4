#!/usr/bin/env bash
# Package trained runs as the bundled models in keras_sr/pretrained/: for each run, its
# config.json + training-time weights, the folded .keras and the int8 .tflite, named after the
# architecture, e.g. ecbsr_x2_m4c16_relu_y_int8.tflite. The int8 file is calibrated on the
# training split (split/train, `python -m tools.split_data DATASETS_DIR split`), fine-tuned
# 2000 quantization-aware steps on it with the hidden tensors' int8 steps learned (LSQ), and
# kept only where that scores higher on the validation split (split/val); its Set5/Set14/B100
# PSNR is then recorded in its metadata (sr-tool models shows it).
#
# Usage: tools/package_pretrained.sh DATASETS_DIR RUN_DIR [RUN_DIR ...]
set -euo pipefail
usage="usage: $0 DATASETS_DIR RUN_DIR [RUN_DIR ...]"
data=${1:?$usage}; shift
[ $# -gt 0 ] || { echo "$usage" >&2; exit 2; }
root="$(cd "$(dirname "$0")/.." && pwd)"
dest="$root/keras_sr/pretrained"
split="$root/split"
[ -d "$split/train" ] && [ -d "$split/val" ] || {
  echo "$split/train and $split/val are missing: python -m tools.split_data $data $split" >&2; exit 2; }
mkdir -p "$dest"

for run in "$@"; do
  name=ecbsr_$(python -c "import sys; from keras_sr.config import ModelConfig; print(ModelConfig.load(sys.argv[1]).name)" "$run/config.json")
  echo "==> $run -> $name"
  mkdir -p "$dest/$name"
  cp "$run/config.json" "$run/model.weights.h5" "$dest/$name/"
  sr-tool fold "$dest/$name" -o "$dest/$name.keras"
  sr-tool tflite "$dest/$name" -o "$dest/${name}_int8.tflite" --int8 --calib "$split/train" --qat-steps 2000 --qat-val "$split/val"
  python -m tools.stamp_quality "$dest/${name}_int8.tflite" --data "$data" --sets Set5,Set14,B100
done
