#!/usr/bin/env bash
# Classifies a labelled folder (one subfolder per class, or a CSV manifest)
# and scores the results: confusion matrix, accuracy, precision, recall,
# specificity, F1 and ROC AUC, printed and written to summary.json.
#
#   bash pipelines/evaluate-folder.sh FOLDER [cxr-run options...]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
[ $# -ge 1 ] || { echo "usage: $0 FOLDER [--model FILE] [--output F] [--summary F]" >&2; exit 2; }
bash "$here/setup.sh" >&2
folder="$1"
shift
export GST_PLUGIN_PATH="$here/../build/plugin${GST_PLUGIN_PATH:+:$GST_PLUGIN_PATH}"
export CXR_MODEL_PATH="${CXR_MODEL_PATH:-$here/../models/default.safetensors}"
exec "$here/../build/pipelines/tools/cxr-run" evaluate "$folder" "$@"
