#!/usr/bin/env bash
# Build the base image from a Debian mirror with debootstrap, tagged with the same name
# that the Dockerfiles pull, for machines that cannot reach a container registry.
# Usage: bootstrap.sh IMAGE:TAG SUITE [ARCH]   (needs root and debootstrap)
# ARCH (arm64) builds another architecture's base, run under QEMU's binfmt_misc emulation.
set -euo pipefail
image=${1:?usage: bootstrap.sh IMAGE:TAG SUITE [ARCH]}
suite=${2:?usage: bootstrap.sh IMAGE:TAG SUITE [ARCH]}
arch=${3:-$(dpkg --print-architecture)}
platform=()  # a foreign base says its platform, or the engine takes it for its own
[ -z "${3:-}" ] || platform=(--platform "linux/$arch")

rootfs=$(mktemp -d)
trap 'rm -rf "$rootfs"' EXIT

echo "[base] debootstrap --arch=$arch --variant=minbase $suite (half a minute; emulated, minutes)" >&2
# No mirror argument: debootstrap's own default, which apt inside the image keeps.
debootstrap --arch="$arch" --variant=minbase "$suite" "$rootfs" >"$rootfs.log" 2>&1 ||
  { tail -20 "$rootfs.log" >&2; echo "bootstrap: debootstrap of $suite failed" >&2; exit 1; }
rm -f "$rootfs.log"

# What the official slim images drop: docs, man pages, apt lists, caches.
rm -rf "$rootfs"/usr/share/{doc,man,info}/* "$rootfs"/var/lib/apt/lists/* \
  "$rootfs"/var/cache/apt/*.bin "$rootfs"/var/cache/apt/archives/*.deb "$rootfs"/var/log/*.log
# For reproducible layers above this one: files a build step would otherwise delete (each
# deletion is a whiteout stamped with the time of the build), and the files the engine
# mounts into every step (made there, then removed, they stamp /etc with that time).
rm -f "$rootfs"/var/cache/ldconfig/aux-cache "$rootfs"/var/cache/debconf/*-old \
  "$rootfs"/var/lib/dpkg/*-old
touch "$rootfs"/etc/hosts "$rootfs"/etc/resolv.conf "$rootfs"/etc/hostname

echo "[base] importing as $image" >&2
tar -C "$rootfs" --numeric-owner -c . |
  docker import "${platform[@]}" --change 'CMD ["bash"]' \
    --change "LABEL org.lab.base=debootstrap org.lab.suite=$suite" - "$image" >/dev/null
echo "[base] built $image" >&2
