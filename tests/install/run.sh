#!/usr/bin/env bash
# gst-cxr installed on a fresh Debian 12 both ways the README gives, and
# tried there as a user would (smoke.sh, with no environment variable set).
# As root; CI runs it after the tests, with build/ built by tests/run.sh.
#
#   1. The Debian packages: dpkg-buildpackage on a copy of the tree, lintian
#      on what it made (an error fails), apt install of the packages into a
#      fresh Debian 12 made by debootstrap, and the smoke test there.
#   2. meson install: the packages removed from that root (what they pulled
#      in stays), build/ installed into it instead, the smoke test again.
#
# Each step prints its outcome; ends with "install: N passed, N failed".
set -uo pipefail
cd "$(dirname "$0")/../.."
source=$PWD
# the Debian archive this machine's apt uses (CXR_DEBIAN_MIRROR: another)
sites=$(apt-get indextargets --format '$(SITE)' 'Identifier: Packages' | sort -u)
mirror=${CXR_DEBIAN_MIRROR:-$(grep -m1 '/debian$' <<< "$sites")}
mirror=${mirror:-http://deb.debian.org/debian}
security=$(grep -m1 '/debian-security$' <<< "$sites")
security=${security:-${mirror%/debian}/debian-security}
packages=(gstreamer1.0-cxr cxr-run libgstcxr-1.0-0 libgstcxr-1.0-dev
  gir1.2-gstcxr-1.0)
work=$(mktemp -d /var/tmp/cxr-install-XXXXXX)
root=$work/root
trap 'umount "$root/proc" 2>/dev/null; rm -rf "$work"' EXIT

passed=0 failed=0
step () {       # step WHAT COMMAND...: one counted step, the end of its log
  local what=$1 log=$work/step.log   # shown on failure (all of it: show=1)
  shift
  echo "== $what"
  if "$@" > "$log" 2>&1; then
    [ -n "${show:-}" ] && cat "$log"
    echo "ok   $what"; passed=$((passed + 1))
  else
    if [ -n "${show:-}" ]; then cat "$log"; else tail -40 "$log"; fi
    echo "FAIL $what"; failed=$((failed + 1))
  fi
}
in_root () {    # a command in the root, with no environment but PATH
  chroot "$root" env -i PATH=/usr/sbin:/usr/bin:/sbin:/bin HOME=/root \
    DEBIAN_FRONTEND=noninteractive "$@"
}
smoke () {
  cp tests/install/smoke.sh pipelines/read-results.py pipelines/read-results.c \
    "$root/tmp/"
  local elements pipeline
  elements=$(sed -n 's/^| `\(cxr[a-z]*\)` |.*/\1/p' README.md | tr '\n' ' ')
  pipeline=$(grep -m1 '^gst-launch-1.0 ' README.md)
  in_root sh /tmp/smoke.sh "$elements" "$pipeline" /tmp/read-results.py \
    /tmp/read-results.c
}

build_packages () {
  apt-get install -y --no-install-recommends debootstrap lintian dpkg-dev \
    debhelper fakeroot \
    && apt-get build-dep -y "$source" \
    && mkdir "$work/gst-cxr" \
    && git ls-files -z | tar -cf - --null -T - | tar -xf - -C "$work/gst-cxr" \
    && (cd "$work/gst-cxr" && dpkg-buildpackage -us -uc -b)
}
lintian_clean () {      # lintian's findings shown; its errors fail
  lintian -I --pedantic "$work"/*.changes | tee "$work/lintian.txt"
  ! grep -q '^E: ' "$work/lintian.txt"
}
make_root () {
  debootstrap --variant=minbase bookworm "$root" "$mirror" || return 1
  cat > "$root/etc/apt/sources.list" <<EOF
deb $mirror bookworm main
deb $mirror bookworm-updates main
deb $security bookworm-security main
EOF
  mount -t proc proc "$root/proc"
}
install_packages () {
  mkdir -p "$root/tmp/debs"
  for p in "${packages[@]}"; do cp "$work/${p}_"*.deb "$root/tmp/debs/" || return 1; done
  in_root apt-get update \
    && in_root sh -c 'apt-get install -y /tmp/debs/*.deb python3-gi gcc libc6-dev'
}
remove_packages () {    # and the plugin is gone with them
  in_root apt-get remove -y "${packages[@]}" && ! in_root gst-inspect-1.0 cxr
}

step "the Debian packages build (dpkg-buildpackage -us -uc -b)" build_packages
ls "$work"/*.deb 2>/dev/null | sed "s|$work/|     |"
show=1 step "lintian finds no error" lintian_clean
step "a fresh Debian 12 (debootstrap bookworm)" make_root
step "apt install ./*.deb there" install_packages
show=1 step "the smoke test on the packages" smoke
step "the packages removed again" remove_packages
step "meson install -C build into that root" \
  env DESTDIR="$root" meson install -C build --no-rebuild
show=1 step "the smoke test on meson install" smoke

echo "install: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
