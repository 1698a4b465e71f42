#!/usr/bin/env bash
# Shows where the network looked, for every film of a folder: one picture a
# film (the film with its heatmap) and, for a labelled folder, an HTML
# report (summary, ROC curve, reliability diagram, confusion matrix, the
# worst mistakes with their heatmaps) to open in a browser.
#
#   bash pipelines/explain-folder.sh FOLDER [OUT_DIR]
#
# OUT_DIR (default: explained/) receives frame-NNNNNN.png (the frame numbers
# of results.jsonl beside them), results.jsonl and report.html.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
[ $# -ge 1 ] || { echo "usage: $0 FOLDER [OUT_DIR]" >&2; exit 2; }
bash "$here/setup.sh" >&2
folder="$1"
out="${2:-explained}"
mkdir -p "$out"
export GST_PLUGIN_PATH="$here/../build/plugin${GST_PLUGIN_PATH:+:$GST_PLUGIN_PATH}"
export CXR_MODEL_PATH="${CXR_MODEL_PATH:-$here/../models/default.safetensors}"
gst-launch-1.0 -q cxrdatasetsrc location="$folder" \
  ! cxrclassify heatmap=true \
  ! cxrmetasink location="$out/results.jsonl" heatmap-location="$out" \
      report-location="$out/report.html"
echo "explain-folder: pictures, results.jsonl and report.html in $out" >&2
