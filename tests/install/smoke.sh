#!/bin/sh
# What a user of an installed gst-cxr tries first, on the machine it is
# installed on, with no environment variable of gst-cxr's or GStreamer's
# set: every element listed, the README's first pipeline and cxr-run over
# the installed sample films with the installed default model, cxr-run's
# helper programs found, the metadata library found by the loader and by
# pkg-config, and the results read from Python and from C (an application
# compiled against the installed development files). Prints one line a
# check and ends with "smoke: N passed, N failed".
#
#   sh smoke.sh ELEMENTS PIPELINE EXAMPLE C_EXAMPLE
#
# ELEMENTS: the element names, space-separated; PIPELINE: the README's
# first gst-launch-1.0 line (it reads xrays/); EXAMPLE and C_EXAMPLE:
# copies of pipelines/read-results.py and read-results.c.
elements=$1 pipeline=$2 example=$3 c_example=$4
films=/usr/share/gst-cxr/sample-films
passed=0 failed=0
check () {      # check WHAT COMMAND...: passes when COMMAND succeeds
  what=$1; shift
  if "$@" > /tmp/smoke-out.txt 2>&1; then
    echo "ok   $what"; passed=$((passed + 1))
  else
    echo "FAIL $what:"; sed 's/^/     /' /tmp/smoke-out.txt | tail -20
    failed=$((failed + 1))
  fi
}
work=$(mktemp -d) && cd "$work" || exit 1

gst-inspect-1.0 cxr > inspect.txt 2>&1
for e in $elements; do
  check "gst-inspect-1.0 cxr lists $e" grep -q "^  $e: " inspect.txt
done

# the README's first pipeline, over a copy of the sample films
cp -r "$films" xrays
check "the README's first pipeline runs: $pipeline" sh -c "$pipeline > launch.txt"
check "... and writes a line for each of the 8 films" \
  test "$(grep -c '^{"file"' launch.txt)" -eq 8

check "cxr-run classify the sample films" \
  cxr-run classify "$films" --output results.jsonl
# the installed default model calls every sample film right
check "... with the installed model: 8 films, each called its true class" \
  sh -c 'test "$(grep -c "\"label\":\"\([A-Z]*\)\".*\"truth\":\"\1\"" results.jsonl)" -eq 8'
check "cxr-run pacs finds its program" cxr-run pacs --help
check "cxr-run listen finds its program" cxr-run listen --help

plugin=$(ls /usr/lib/*/gstreamer-1.0/libgstcxr.so)
check "the loader finds every library of the plugin" \
  sh -c "ldd $plugin | grep -q libgstcxr-1.0.so.0 && ! ldd $plugin | grep 'not found'"
check "pkg-config gstreamer-cxr-1.0" \
  sh -c 'pkg-config --cflags --libs gstreamer-cxr-1.0 | grep -q -- -lgstcxr-1.0'
check "Python reads the results (pipelines/read-results.py)" \
  sh -c "/usr/bin/python3 $example $films > python.txt"
check "... one line a film" test "$(grep -c ': .*truly ' python.txt)" -eq 8
check "an application in C builds with pkg-config gstreamer-cxr-1.0" \
  sh -c "cc -o read-results $c_example \$(pkg-config --cflags --libs gstreamer-cxr-1.0)"
check "... and prints what the one in Python prints" \
  sh -c "./read-results $films > c.txt && cmp c.txt python.txt"

cd / && rm -rf "$work" /tmp/smoke-out.txt
echo "smoke: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
