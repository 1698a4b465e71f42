#!/usr/bin/env bash
# Builds the libFuzzer targets with clang (AddressSanitizer and
# UndefinedBehaviorSanitizer on, coverage on every source) in build-fuzz/,
# runs every saved input under crashes/ as a regression test, then fuzzes
# each target for SECONDS seconds (default 30) from its seed corpus in
# corpus/TARGET/. New inputs found go to a scratch copy of the corpus, not
# into the tree; a crash is saved as fuzz-TARGET-crash-* in the current
# folder, and the run fails. For a long run:
#
#   bash tests/fuzz/run.sh 3600            # an hour per target
#   bash tests/fuzz/run.sh 600 dicom       # ten minutes, one target
#
# It ends with one line per target: executions, seconds, and findings.
set -uo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$here/../.."
seconds="${1:-30}"
shift || true
if [ $# -gt 0 ]; then
  targets=("$@")
else
  targets=(modelfile layerspec dicom image manifest preprocess)
fi
build="$root/build-fuzz"

if [ ! -f "$build/build.ninja" ]; then
  CC=clang CXX=clang++ meson setup "$build" "$root" -Dfuzzing=true \
    -Db_sanitize=address,undefined -Db_lundef=false \
    -Dc_args=-fsanitize=fuzzer-no-link -Dcpp_args=-fsanitize=fuzzer-no-link \
    >/dev/null || exit 1
fi
ninja -C "$build" "${targets[@]/#/tests/fuzz/fuzz_}" >/dev/null || exit 1

# A finding is any sanitizer report or crash, leaks included. An
# allocation of more than 2 GiB fails (returns NULL) instead of ending the
# run: DCMTK reserves an element's declared length with a nothrow new before
# reading it (a 150-byte file can claim 4 GiB) and copes with NULL, while
# g_malloc aborts on it, which is then a finding.
export ASAN_OPTIONS=detect_leaks=1:abort_on_error=1:allocator_may_return_null=1:max_allocation_size_mb=2048
export UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
export OMP_NUM_THREADS=1
failed=0
summary=()
scratch="$(mktemp -d)"
trap 'rm -rf "$scratch"' EXIT
for t in "${targets[@]}"; do
  exe="$build/tests/fuzz/fuzz_$t"
  findings=0
  # every saved crash input, once: each was a bug, fixed. Here an
  # allocation over 2 GiB and an input that takes over 10 s are findings
  # too (see crashes/README.md).
  if [ -d "$here/crashes/$t" ] && [ -n "$(ls -A "$here/crashes/$t")" ]; then
    if ! ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 "$exe" -rss_limit_mb=2048 -timeout=10 \
        "$here/crashes/$t"/* > "$scratch/$t.regress.log" 2>&1; then
      echo "fuzz $t: a saved crash input fails again:"
      tail -30 "$scratch/$t.regress.log"
      findings=$((findings + 1))
    fi
  fi
  mkdir -p "$scratch/$t"
  cp "$here/corpus/$t"/* "$scratch/$t/" 2>/dev/null
  "$exe" -max_total_time="$seconds" -max_len=65536 -rss_limit_mb=3072 \
    -malloc_limit_mb=3072 -artifact_prefix="$PWD/fuzz-$t-" \
    -print_final_stats=1 "$scratch/$t" > "$scratch/$t.log" 2>&1
  rc=$?
  runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$scratch/$t.log" | grep -o '[0-9]*$')
  if [ $rc -ne 0 ]; then
    findings=$((findings + 1))
    echo "fuzz $t: a finding (exit $rc):"
    grep -A40 "ERROR\|runtime error\|==ERROR" "$scratch/$t.log" | head -60
  fi
  [ $findings -gt 0 ] && failed=1
  summary+=("fuzz $t: ${runs:-0} executions in ${seconds} s, $findings finding(s)")
done
printf '%s\n' "${summary[@]}"
exit $failed
