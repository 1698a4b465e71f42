#!/usr/bin/env bash
# Sets everything up (pipelines/setup.sh) with what the tests need besides,
# builds, runs every test with meson and ends with one line:
# "N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/.."
# DCMTK's tools make the DICOM test files; locales holds the German
# locale's sources (a test reads a model under decimal commas); NumPy and
# Pillow make and read files in the Python tests; PyTorch is what the
# cross-checks and benchmarks compare with; Chromium renders the HTML
# report; pydicom reads the structured reports back; Orthanc with its
# DICOMweb plugin is the archive cxr-run pacs is tested against, openssl
# makes the certificates of its https front; PyGObject with GStreamer's
# introspection data lists the elements' properties for the README check;
# Open MPI runs the tests over several processes, iproute2 gives them
# network namespaces to run between; Pixelmed's SR validator (with a Java
# runtime) and dicom3tools' dciodvfy check the DICOM objects written.
test_packages=(dcmtk locales python3-torch python3-numpy python3-pil chromium
  python3-pydicom orthanc orthanc-dicomweb openssl python3-gi
  gir1.2-gstreamer-1.0 openmpi-bin libopenmpi-dev iproute2 libpixelmed-java
  default-jre-headless dicom3tools)
bash pipelines/setup.sh "${test_packages[@]}" || exit 1
meson test -C build --print-errorlogs "$@" | tee build/test-output.txt
status=${PIPESTATUS[0]}
passed=$(awk '/^Ok:/ {print $2}' build/test-output.txt)
failed=$(awk '/^(Fail|Timeout|Unexpected Pass):/ {n += $NF} END {print n + 0}' build/test-output.txt)
echo "${passed:-0} passed, ${failed:-0} failed"
exit "$status"
