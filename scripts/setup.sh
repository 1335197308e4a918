#!/usr/bin/env bash
# The README's one set-up command. On a machine that has Docker (Engine 20.10+, Compose v2,
# buildx) it installs only the host side; on a fresh Debian/Ubuntu machine it first gets
# the engine and plugins (scripts/install-docker.sh). Then it builds what is missing.
#   scripts/setup.sh            host side + engine if needed + base + images
#   scripts/setup.sh --no-build host side (and engine) only
set -euo pipefail
cd "$(dirname "$0")/.."

if ! docker info >/dev/null 2>&1 || ! docker compose version >/dev/null 2>&1 ||
   ! docker buildx version >/dev/null 2>&1; then
  bash scripts/install-docker.sh
fi

if [ ! -x .venv/bin/invoke ] || [ pyproject.toml -nt .venv/.lab-installed ]; then
  echo "[setup] host side: .venv with invoke and the lab package" >&2
  python3 -m venv .venv
  .venv/bin/python -m pip install -q --disable-pip-version-check -e '.[test]'
  touch .venv/.lab-installed
fi

if [ "${1:-}" != --no-build ]; then
  .venv/bin/invoke images
fi
echo "[setup] ready: . .venv/bin/activate && invoke doctor" >&2
