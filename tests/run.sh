#!/usr/bin/env bash
# Sets everything up (pipelines/setup.sh), builds, runs every test with
# meson and ends with one line: "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
bash pipelines/setup.sh || exit 1
meson test -C build --print-errorlogs "$@" | tee build/test-output.txt
status=${PIPESTATUS[0]}
passed=$(awk '/^Ok:/ {print $2}' build/test-output.txt)
failed=$(awk '/^(Fail|Timeout|Unexpected Pass):/ {n += $NF} END {print n + 0}' build/test-output.txt)
echo "${passed:-0} passed, ${failed:-0} failed"
exit "$status"
