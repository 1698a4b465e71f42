#!/usr/bin/env bash
# A simulated live capture: one X-ray frozen into a 30 fps live stream (as a
# viewer's screen capture would deliver it), classified every 10th frame
# with its heatmap, results as JSON lines on stdout, video with the heatmap
# and the label drawn on it (cxroverlay) to a clock-synchronised sink.
# The classifier never holds the stream back: frames in between, and late
# ones, carry the last result marked "stale": true.
#
#   bash pipelines/live-capture.sh [IMAGE.jpeg] [SECONDS]
#
# The video goes to fakesink; CXR_VIDEO_SINK=autovideosink shows it.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
samples=("$here"/sample-films/PNEUMONIA/*.jpeg)
image="${1:-${samples[0]}}"
seconds="${2:-5}"
bash "$here/setup.sh" >&2
export GST_PLUGIN_PATH="$here/../build/plugin${GST_PLUGIN_PATH:+:$GST_PLUGIN_PATH}"
export CXR_MODEL_PATH="${CXR_MODEL_PATH:-$here/../models/default.safetensors}"
exec gst-launch-1.0 -q \
  filesrc location="$image" ! jpegdec ! videoconvert ! video/x-raw,format=BGRx \
  ! imagefreeze is-live=true num-buffers=$((seconds * 30)) \
  ! video/x-raw,framerate=30/1 \
  ! cxrclassify interval=10 heatmap=true \
  ! queue max-size-buffers=3 leaky=downstream \
  ! tee name=t \
  t. ! queue ! cxroverlay ! videoconvert ! "${CXR_VIDEO_SINK:-fakesink}" sync=true \
  t. ! queue ! cxrmetasink
