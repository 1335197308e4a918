#!/bin/sh
# initializeCommand, on the host: copies the host's CA bundle (a TLS-intercepting proxy's CA
# included) to .lab/host-ca.crt in the workspace, the one place the dev container sees
# before it exists; trust-host-ca.sh adds it to the container's trust store. The same
# choice as lab/images/builder.py extra_ca. Where the host has none, no file: the container keeps
# its own store. (On Windows, cmd runs `sh ... || exit 0`: no sh, no copy, no failure.)
set -eu
cd "$(dirname "$0")/.."
mkdir -p .lab
for ca in "${LAB_EXTRA_CA:-}" "${SSL_CERT_FILE:-}" "${PIP_CERT:-}" "${REQUESTS_CA_BUNDLE:-}" \
  /etc/ssl/certs/ca-certificates.crt; do
  if [ -n "$ca" ] && [ -f "$ca" ] && [ -s "$ca" ]; then
    cp "$ca" .lab/host-ca.crt.new && mv -f .lab/host-ca.crt.new .lab/host-ca.crt
    exit 0
  fi
done
rm -f .lab/host-ca.crt  # a stale one from another network would be trusted
