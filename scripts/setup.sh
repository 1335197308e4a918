#!/usr/bin/env bash
# The README's one set-up command. On a machine that has Docker (Engine 20.10+, Compose v2,
# buildx) it installs only the host side; on a fresh Debian/Ubuntu machine it first gets
# the engine and plugins (scripts/install-docker.sh). Then it gets the images: where the
# class's lab.lock is present it pulls exactly those (compiling nothing), else it builds
# what is missing: the three CPython images and this machine's PyTorch image (the CUDA
# build where an NVIDIA GPU is reachable, Debian's CPU build elsewhere).
# Where the machine has an NVIDIA GPU whose driver answers, it also gives the engine's
# containers that GPU (scripts/install-nvidia-toolkit.sh: NVIDIA's apt repository).
#   scripts/setup.sh             host side + engine if needed + GPU access + images
#   scripts/setup.sh --no-build  host side (and engine, GPU access) only
#   scripts/setup.sh --no-engine host side only: no engine, no GPU step (a bare container,
#                                a machine whose engine is managed elsewhere); implies --no-build
# LAB_VENV puts the virtual environment elsewhere than .venv (the dev container keeps its
# own, outside the workspace it shares with the host).
set -euo pipefail
cd "$(dirname "$0")/.."

build=1 engine=1
for arg in "$@"; do
  case $arg in
    --no-build) build="" ;;
    --no-engine) engine="" build="" ;;
    *) echo "lab: setup.sh: unknown option $arg (--no-build, --no-engine)" >&2; exit 2 ;;
  esac
done

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# A fresh Debian or Ubuntu has python3 without venv's ensurepip (Debian moves it to
# python3-venv): install it as install-docker.sh installs the engine, from the distribution.
host_python() {
  if command -v python3 >/dev/null && python3 -c 'import ensurepip, venv' 2>/dev/null; then
    return
  fi
  command -v apt-get >/dev/null ||
    { echo "lab: setup.sh: python3 with venv is missing: install Python 3.10+ with venv" >&2; exit 1; }
  echo "[setup] host side: installing python3 and python3-venv (Debian's packages)" >&2
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    python3 python3-venv >/dev/null
}

if [ -n "$engine" ]; then
  if ! docker info >/dev/null 2>&1 || ! docker compose version >/dev/null 2>&1 ||
     ! docker buildx version >/dev/null 2>&1; then
    bash scripts/install-docker.sh
  fi
fi

venv=${LAB_VENV:-.venv}
host_python
if [ ! -x "$venv/bin/invoke" ] || [ pyproject.toml -nt "$venv/.lab-installed" ]; then
  echo "[setup] host side: $venv with invoke and the lab package" >&2
  python3 -m venv "$venv"
  "$venv/bin/python" -m pip install -q --disable-pip-version-check -e '.[test]'
  touch "$venv/.lab-installed"
fi

if [ -n "$engine" ]; then
  bash scripts/install-nvidia-toolkit.sh  # does nothing where no NVIDIA driver answers
fi

if [ -z "$build" ]; then
  :
elif [ -f lab.lock ]; then
  echo "[setup] lab.lock is here: pulling the class's images (README, For a classroom)" >&2
  "$venv/bin/invoke" pull
else
  "$venv/bin/invoke" images
  # Stations 5 and 6: the CUDA build where an NVIDIA GPU is reachable, else the CPU build.
  "$venv/bin/invoke" images --variant torch
fi
echo "[setup] ready: . $venv/bin/activate && invoke doctor" >&2
