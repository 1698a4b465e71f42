#!/usr/bin/env bash
# gst-inspect-1.0 lists every element of plugin "cxr", and inspecting the
# plugin and each element prints no warning or critical.
set -euo pipefail
elements=(cxrclassify cxrdatasetsrc cxrmetasink "$@")
out=$(gst-inspect-1.0 cxr 2>"${TMPDIR:-/tmp}/inspect-err.$$")
err=$(cat "${TMPDIR:-/tmp}/inspect-err.$$")
rm -f "${TMPDIR:-/tmp}/inspect-err.$$"
status=0
for e in "${elements[@]}"; do
  if ! grep -q "^  $e: " <<<"$out"; then
    echo "FAIL: gst-inspect-1.0 cxr does not list $e"; status=1
  fi
  if ! e_err=$(gst-inspect-1.0 "$e" 2>&1 >/dev/null) || [ -n "$e_err" ]; then
    echo "FAIL: gst-inspect-1.0 $e: $e_err"; status=1
  fi
done
if [ -n "$err" ]; then
  echo "FAIL: gst-inspect-1.0 cxr printed: $err"; status=1
fi
[ $status -eq 0 ] && echo "ok: ${elements[*]}"
exit $status
