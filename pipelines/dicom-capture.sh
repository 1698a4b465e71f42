#!/usr/bin/env bash
# A DICOM cine (multi-frame DICOM) played live at its own frame rate, as a
# viewer's capture would deliver it: decoded by cxrdicomdec, classified every
# 10th frame by cxrclassify, shown on a clock-synchronised display sink (here
# fakesink; put autovideosink or an encoder in its place), and written as
# JSON lines. The display drops any frame that comes more than one 30 fps
# frame late and posts a QoS message for it (-m prints messages), so a run
# without QoS messages from "display" showed every frame in time. Frames
# between classified ones, and late ones, carry the last result, stale.
#
#   bash pipelines/dicom-capture.sh CINE.dcm [RESULTS.jsonl]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
[ $# -ge 1 ] || { echo "usage: $0 CINE.dcm [RESULTS.jsonl]" >&2; exit 2; }
cine="$1"
results="${2:-/dev/stdout}"
bash "$here/setup.sh" >&2
export GST_PLUGIN_PATH="$here/../build/plugin${GST_PLUGIN_PATH:+:$GST_PLUGIN_PATH}"
export CXR_MODEL_PATH="${CXR_MODEL_PATH:-$here/../models/default.safetensors}"
exec gst-launch-1.0 -m \
  filesrc location="$cine" ! cxrdicomdec ! videoconvert ! video/x-raw,format=GRAY8 \
  ! cxrclassify interval=10 ! tee name=t \
  t. ! queue max-size-buffers=3 leaky=downstream \
     ! fakesink name=display sync=true qos=true max-lateness=33333333 \
  t. ! queue ! cxrmetasink location="$results" print-summary=false
