#!/usr/bin/env bash
# Fetch the CPython release tarball, verify it, unpack it.
#   fetch-cpython.sh VERSION SHA256 GPG_FINGERPRINT KEYFILE DEST
# From python.org where it answers, else from Debian's source archive (which carries the
# upstream tarball unchanged): the same bytes, so the same pinned hash either way.
# Any failure prints one `lab-build-error:` line, which `invoke images` repeats.
set -euo pipefail
version=$1 sha256=$2 fingerprint=$3 keyfile=$4 dest=$5
fail() { echo "lab-build-error: $*" >&2; exit 1; }

work=$(mktemp -d) && cd "$work"
tarball=Python-$version.tar.xz
if curl -fsSL --connect-timeout 10 -o "$tarball" "https://www.python.org/ftp/python/$version/$tarball" &&
   curl -fsSL --connect-timeout 10 -o "$tarball.asc" "https://www.python.org/ftp/python/$version/$tarball.asc"; then
  echo "[source] $tarball from python.org"
else
  echo "[source] python.org unreachable: taking the upstream tarball from Debian's source archive"
  # Enable source indexes in whichever format the base image uses (one-line or deb822).
  if [ -f /etc/apt/sources.list.d/debian.sources ]; then
    sed -i 's/^Types: deb$/Types: deb deb-src/' /etc/apt/sources.list.d/debian.sources
  fi
  if [ -f /etc/apt/sources.list ]; then
    sed -n 's/^deb /deb-src /p' /etc/apt/sources.list >/etc/apt/sources.list.d/lab-src.list
  fi
  apt-get update -qq
  apt-get source -qq --download-only "python${version%.*}" >/dev/null ||
    fail "neither python.org nor Debian's source archive gave python${version%.*}"
  orig=$(ls "python${version%.*}_$version.orig.tar.xz" 2>/dev/null) ||
    fail "Debian's source archive has no python${version%.*} $version (it has: $(ls ./*.orig.tar.xz))"
  mv "$orig" "$tarball" && mv "$orig.asc" "$tarball.asc"
fi

actual=$(sha256sum "$tarball" | cut -d' ' -f1)
[ "$actual" = "$sha256" ] ||
  fail "$tarball has sha256 $actual, not the pinned $sha256: refusing to build from it"

# The hash pins the bytes; the signature says the release manager made them.
keyring=$work/release-key.gpg
gpg --dearmor <"$keyfile" >"$keyring"
status=$(gpgv --status-fd 1 --keyring "$keyring" "$tarball.asc" "$tarball" 2>/dev/null || true)
grep -q "^\[GNUPG:\] VALIDSIG .* $fingerprint\$" <<<"$status" ||
  fail "$tarball.asc is not a valid signature by $fingerprint"
echo "[source] sha256 and signature by $fingerprint verified"

mkdir -p "$dest"
tar -xf "$tarball" -C "$dest" --strip-components=1
rm -rf "$work"
