#!/usr/bin/env bash
# Sets everything up, then classifies every image in a folder with the shipped
# model, showing progress; one JSON line per image in results.jsonl.
#
#   bash pipelines/classify-folder.sh [FOLDER] [cxr-run options...]
#
# FOLDER defaults to the eight sample films in pipelines/sample-films.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
bash "$here/setup.sh" >&2
folder="${1:-$here/sample-films}"
shift || true
export GST_PLUGIN_PATH="$here/../build/plugin${GST_PLUGIN_PATH:+:$GST_PLUGIN_PATH}"
export CXR_MODEL_PATH="${CXR_MODEL_PATH:-$here/../models/default.safetensors}"
exec "$here/../build/pipelines/tools/cxr-run" classify "$folder" "$@"
