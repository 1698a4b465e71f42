#!/usr/bin/env bash
# The whole test suite again, built with AddressSanitizer and
# UndefinedBehaviorSanitizer (gcc) in build-sanitize/, with GStreamer's
# leaks tracer on for the element tests: any report fails. Ends with the
# line "N passed, N failed".
#
# The sanitizer runtime is preloaded so that programs built without it
# (gst-launch-1.0, gst-inspect-1.0, python3) can load the instrumented
# plugin; the plugin registry is scanned in-process for the same reason.
# LeakSanitizer is off: GLib and GStreamer keep type and registry data
# until exit, which it would report; the leaks tracer counts GStreamer
# objects instead.
set -uo pipefail
cd "$(dirname "$0")/.."
build=build-sanitize
# set for the build too: the introspection scanner runs a program built
# with the sanitizers
export ASAN_OPTIONS=detect_leaks=0:abort_on_error=1
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
if [ ! -f "$build/build.ninja" ]; then
  meson setup "$build" -Db_sanitize=address,undefined -Db_lundef=false \
    >/dev/null || exit 1
fi
ninja -C "$build" >/dev/null || { ninja -C "$build"; exit 1; }

export GST_REGISTRY_FORK=no GST_TRACERS=leaks
LD_PRELOAD="$(gcc -print-file-name=libasan.so):$(gcc -print-file-name=libubsan.so)"
export LD_PRELOAD
meson test -C "$build" --no-rebuild --print-errorlogs "$@" \
  | tee "$build/test-output.txt"
status=${PIPESTATUS[0]}
unset LD_PRELOAD
passed=$(awk '/^Ok:/ {print $2}' "$build/test-output.txt")
failed=$(awk '/^(Fail|Timeout|Unexpected Pass):/ {n += $NF} END {print n + 0}' "$build/test-output.txt")
echo "${passed:-0} passed, ${failed:-0} failed"
exit "$status"
