#!/usr/bin/env bash
# Fits a model to a site's own films before the site relies on it: a
# labelled sample of the site's chest X-rays (one subfolder per class, at
# least 20 films of each, from as many patients as can be had) goes through
#   cxrdatasetsrc location=SAMPLE target-size=124 ! \
#     cxrtrain mode=calibrate model=BASE output=OUT
# which keeps BASE's weights and fits how its score becomes P(PNEUMONIA) and
# the decision threshold, judged by patient-wise cross-validation, and
# prints the cross-validated figures before and after. fine-tune as the
# fourth argument also moves the weights a little (and keeps the calibrated
# model when cross-validation finds that no better).
#
#   bash pipelines/calibrate-site.sh SAMPLE [OUT] [BASE] [calibrate|fine-tune]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
[ $# -ge 1 ] || { echo "usage: $0 SAMPLE [OUT] [BASE] [calibrate|fine-tune]" >&2; exit 2; }
bash "$here/setup.sh" >&2
sample="$1"
output="${2:-site.safetensors}"
base="${3:-$here/../models/default.safetensors}"
mode="${4:-calibrate}"
export GST_PLUGIN_PATH="$here/../build/plugin${GST_PLUGIN_PATH:+:$GST_PLUGIN_PATH}"
exec "$here/../build/pipelines/tools/cxr-run" calibrate "$sample" --model "$base" \
  --output "$output" mode="$mode"
