#!/usr/bin/env bash
# The README's one set-up command. On a machine that has Docker (Engine 20.10+, Compose v2,
# buildx) it installs only the host side; on a fresh Debian/Ubuntu machine it first gets
# the engine and plugins (scripts/install-docker.sh). Then it gets the images: where the
# class's lab.lock is present it pulls exactly those (compiling nothing), else it builds
# what is missing.
#   scripts/setup.sh            host side + engine if needed + images (pulled or built)
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

if [ "${1:-}" = --no-build ]; then
  :
elif [ -f lab.lock ]; then
  echo "[setup] lab.lock is here: pulling the class's images (README, For a classroom)" >&2
  .venv/bin/invoke pull
else
  .venv/bin/invoke images
fi
echo "[setup] ready: . .venv/bin/activate && invoke doctor" >&2
