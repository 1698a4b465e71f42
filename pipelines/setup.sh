#!/usr/bin/env bash
# Sets up a Debian 12 machine for gst-cxr and builds it into build/:
# installs the stock packages that are missing (as root, or through sudo),
# then configures and compiles. Safe to run again.
#
#   bash pipelines/setup.sh [PACKAGE ...]
#
# The packages listed here build gst-cxr and run its pipelines; further
# Debian packages named as arguments are installed with them (tests/run.sh
# names what the tests need).
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(
  gcc g++ meson ninja-build pkg-config
  libglib2.0-dev libjson-glib-dev
  libdnnl-dev
  libgstreamer1.0-dev libgstreamer-plugins-base1.0-dev
  gstreamer1.0-tools gstreamer1.0-plugins-base gstreamer1.0-plugins-good
  libjpeg62-turbo-dev libpng-dev
  libdcmtk-dev
  libsoup-3.0-dev glib-networking ca-certificates
  libpango1.0-dev fonts-dejavu-core
  gobject-introspection libgirepository1.0-dev gir1.2-gstreamer-1.0
  "$@"
)

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" \
    || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  $sudo apt-get update
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y --no-install-recommends "${missing[@]}"
fi

[ -f build/build.ninja ] || meson setup build
ninja -C build
