#!/bin/sh
# onCreateCommand, in the dev container (as root): the host's CA bundle that host-ca.sh
# left in .lab/ joins the container's trust store, so pip (postCreateCommand), Python and
# the bundle `invoke images` hands its builds all trust a TLS-intercepting proxy. Added,
# not substituted: a bundle of only the proxy's CA must not drop Debian's. Nothing to add:
# nothing done.
set -eu
ca="$(dirname "$0")/../.lab/host-ca.crt"
[ -s "$ca" ] || exit 0
cp "$ca" /usr/local/share/ca-certificates/lab-host-ca.crt
# a whole bundle in one file: rehash warns that it skips it; the bundle still gets it all
update-ca-certificates
