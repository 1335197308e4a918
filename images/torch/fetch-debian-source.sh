#!/usr/bin/env bash
# Fetch an upstream tarball from Debian's source archive, verify it, unpack it.
#   fetch-debian-source.sh SOURCE_PACKAGE ORIG_TARBALL SHA256 DEST
# apt checks every file it fetches against the suite's signed index; the pinned SHA-256
# then fixes the exact bytes, whatever Debian revision (-N) of the package is current.
# Any failure prints one `lab-build-error:` line, which `invoke images` repeats.
set -euo pipefail
package=$1 orig=$2 sha256=$3 dest=$4
fail() { echo "lab-build-error: $*" >&2; exit 1; }

work=$(mktemp -d) && chmod 755 "$work" && cd "$work"  # readable by apt's _apt user
# Enable source indexes in whichever format the base image uses (one-line or deb822).
if [ -f /etc/apt/sources.list.d/debian.sources ]; then
  sed -i 's/^Types: deb$/Types: deb deb-src/' /etc/apt/sources.list.d/debian.sources
fi
if [ -f /etc/apt/sources.list ]; then
  sed -n 's/^deb /deb-src /p' /etc/apt/sources.list >/etc/apt/sources.list.d/lab-src.list
fi
apt-get update -qq
apt-get source -qq --download-only "$package" >/dev/null ||
  fail "Debian's source archive gave no $package"
[ -f "$orig" ] || fail "Debian's $package is not $orig any more (it has: $(ls ./*.orig.tar.*))"

actual=$(sha256sum "$orig" | cut -d' ' -f1)
[ "$actual" = "$sha256" ] ||
  fail "$orig has sha256 $actual, not the pinned $sha256: refusing to use it"
echo "[source] $orig from Debian's source archive, sha256 verified"

mkdir -p "$dest"
tar -xf "$orig" -C "$dest" --strip-components=1
rm -rf "$work"
