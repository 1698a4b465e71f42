#!/usr/bin/env bash
# What a build answers and trains, written to a folder, so that two builds
# (before and after a change meant to change no behaviour) can be compared
# file by file, with `diff -r` or, where a JSON writer may spell a number
# differently, by value with tests/bench/snapshot_diff.py:
#
#   bash tests/bench/snapshot.sh BUILD OUT [DATA]
#   python3 tests/bench/snapshot_diff.py BEFORE AFTER
#
# - test_dev classified by the shipped model, at the CPU's default
#   precision and in fp32, with heatmaps: the JSON Lines and the summary;
# - test frames that are not films;
# - site calibration of the shipped model on test_dev;
# - a fixed-seed training run (2 epochs over the 200 full-resolution
#   films; the default architecture, augmentation, label smoothing and two
#   members) and a fixed-seed online run: every tensor's bytes and the
#   provenance, less how long it took.
#
# Everything runs on 2 OpenMP threads, so that the arithmetic's order is
# the same from run to run.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$here/../.."
build="$(cd "$1" && pwd)"
mkdir -p "$2"
out="$(cd "$2" && pwd)"
data="${3:-$root/../shared/data}"
model="$root/models/default.safetensors"
test_dev="$data/chest_xray/test_dev"
films="$data/chest_xray_fullres_sample"

export GST_PLUGIN_PATH="$build/plugin"
export GST_REGISTRY="$out/registry.dat"
export OMP_NUM_THREADS=2
launch () { gst-launch-1.0 -q "$@" >/dev/null; }

# tensors and provenance of a model file, less how long training took
describe () {
  /usr/bin/python3 - "$1" <<'EOF'
import hashlib, json, struct, sys
raw = open(sys.argv[1], 'rb').read()
n = struct.unpack('<Q', raw[:8])[0]
header = json.loads(raw[8:8 + n])
meta = header.pop('__metadata__', {})
for k in sorted(meta):
    if k.endswith('_seconds'):
        continue
    print('meta', k, meta[k])
body = raw[8 + n:]
for k in sorted(header):
    a, b = header[k]['data_offsets']
    print('tensor', k, header[k]['dtype'], header[k]['shape'],
          hashlib.sha256(body[a:b]).hexdigest())
EOF
}

for precision in auto fp32; do
  launch cxrdatasetsrc location="$test_dev" target-size=124 ! \
    cxrclassify model="$model" precision=$precision heatmap=true ! \
    cxrmetasink location="$out/test_dev-$precision.jsonl" \
      summary-location="$out/test_dev-$precision-summary.json"
done

# frames that are not chest films: a blank frame, noise, colour bars
for pattern in black snow smpte; do
  launch videotestsrc pattern=$pattern num-buffers=2 ! \
    video/x-raw,format=GRAY8,width=320,height=240 ! \
    cxrclassify model="$model" ! cxrmetasink location="$out/$pattern.jsonl"
done

launch cxrdatasetsrc location="$test_dev" target-size=124 ! \
  cxrtrain mode=calibrate model="$model" output="$out/calibrated.safetensors" \
    seed=1
describe "$out/calibrated.safetensors" > "$out/calibrated.txt"

launch cxrdatasetsrc location="$films" target-size=124 ! \
  cxrtrain output="$out/trained.safetensors" seed=1 epochs=2 members=2 \
    label-smoothing=0.1 rotation=15 shift=0.15 zoom=0.25 gamma=0.3 \
    contrast=0.2 brightness=0.1 sharpness=1 film-normalization=equalize
describe "$out/trained.safetensors" > "$out/trained.txt"

launch cxrdatasetsrc location="$films" target-size=124 shuffle=true seed=3 ! \
  cxrtrain online=true output="$out/online.safetensors" seed=1 \
    batch-size=16 checkpoint-interval=4
describe "$out/online.safetensors" > "$out/online.txt"

rm -f "$out"/*.safetensors "$out/registry.dat"
echo "snapshot in $out"
