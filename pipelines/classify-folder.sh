#!/usr/bin/env bash
# Sets everything up, then classifies every image in a folder with the shipped
# model, showing progress; one JSON line per image in results.jsonl.
#
#   bash pipelines/classify-folder.sh [FOLDER] [cxr-run options...]
#
# FOLDER defaults to the sample of full-resolution chest X-rays beside the
# project (../shared/data/chest_xray_fullres_sample).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
bash "$here/setup.sh" >&2
folder="${1:-$here/../../shared/data/chest_xray_fullres_sample}"
shift || true
export GST_PLUGIN_PATH="$here/../build/plugin${GST_PLUGIN_PATH:+:$GST_PLUGIN_PATH}"
exec "$here/../build/pipelines/cxr-run" classify "$folder" "$@"
