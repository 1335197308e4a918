#!/usr/bin/env bash
# Give the engine's containers this machine's NVIDIA GPUs: where a driver answers
# (`nvidia-smi`) and the engine has neither NVIDIA's runtime nor a CDI spec it reads,
# install NVIDIA's container toolkit, register its runtime with the engine, restart the
# engine and check that a container sees the GPU. Called by scripts/setup.sh.
#
# Neither Debian nor Ubuntu carries the toolkit, so this is the one place the set-up
# reaches a vendor's repository: NVIDIA's apt repository (REPO below). Its signing key is
# pinned by fingerprint (KEY_FINGERPRINT); a downloaded key with any other primary key is
# refused before apt sees it.
#
#   install-nvidia-toolkit.sh           decide, act, check (idempotent)
#   install-nvidia-toolkit.sh --decide  print the decision and its reason, change nothing
#
# Decisions (the first that holds): no-gpu, no-engine, ready-runtime, ready-cdi,
# by-hand (Docker Desktop, a rootless engine: configured by their own means),
# configure (the toolkit is here: register it), install (get it, then configure).
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '[nvidia-toolkit] %s\n' "$*" >&2; }
die() { printf 'install-nvidia-toolkit: %s\n' "$*" >&2; exit 1; }

REPO=https://nvidia.github.io/libnvidia-container
# "NVIDIA CORPORATION (Open Source Projects) <cudatools@nvidia.com>", the key that signs
# $REPO/stable/deb. If NVIDIA rotates it, this line changes, in a reviewed commit.
KEY_FINGERPRINT=C95B321B61E88C1809C4F759DDCAE044F796ECB0
KEYRING=${LAB_NVIDIA_KEYRING:-/usr/share/keyrings/nvidia-container-toolkit-keyring.gpg}
SOURCES=${LAB_NVIDIA_SOURCES:-/etc/apt/sources.list.d/nvidia-container-toolkit.list}
DOCKERD_LOG=${DOCKERD_LOG:-/var/log/dockerd-lab.log}

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

# `docker info` as JSON, judged by lab/engine/docker.py (stdlib only): runtime, cdi, rootless,
# desktop or none. The lab's venv's Python where there is one (the system's python3 may be
# older than the lab's 3.10).
engine_gpu_form() {
  local python=python3 venv=${LAB_VENV:-.venv}
  [ -x "$venv/bin/python" ] && python=$venv/bin/python
  PYTHONPATH=. "$python" -c 'import json, sys
from lab.engine.docker import engine_gpu_form
print(engine_gpu_form(json.load(sys.stdin)))'
}

# The decision, as "WORD: why" on stdout.
decide() {
  if ! command -v nvidia-smi >/dev/null || ! nvidia-smi -L >/dev/null 2>&1; then
    echo "no-gpu: no NVIDIA driver answers nvidia-smi here; containers run on the CPU"; return
  fi
  local info form
  if ! info=$(docker info --format '{{json .}}' 2>/dev/null) || [ -z "$info" ]; then
    echo "no-engine: no Docker engine answers; run scripts/install-docker.sh first"; return
  fi
  form=$(engine_gpu_form <<<"$info")
  case $form in
    runtime) echo "ready-runtime: the engine has NVIDIA's runtime" ;;
    cdi) echo "ready-cdi: the engine reads a CDI spec naming nvidia.com/gpu" ;;
    desktop) echo "by-hand: Docker Desktop gives containers a GPU through its own settings (WSL2 on Windows)" ;;
    rootless) echo "by-hand: a rootless engine: see NVIDIA's toolkit guide for rootless mode (nvidia-ctk runtime configure --config=\$HOME/.config/docker/daemon.json)" ;;
    *) if command -v nvidia-ctk >/dev/null; then
         echo "configure: NVIDIA's toolkit is installed but the engine has no nvidia runtime"
       else
         echo "install: the engine has no nvidia runtime and no CDI spec for the GPU"
       fi ;;
  esac
}

# The primary keys' fingerprints in key file $1, one a line (subkeys left out).
primary_fingerprints() {
  gpg --batch --show-keys --with-colons "$1" 2>/dev/null |
    awk -F: '$1 == "pub" { want = 1; next } $1 == "fpr" && want { print $10 } { want = 0 }'
}

# NVIDIA's key, checked against the pin, then the repository: nothing of theirs reaches
# apt unless the key is exactly the pinned one.
add_repository() {
  command -v apt-get >/dev/null || die "no apt-get here: install NVIDIA's container toolkit by hand ($REPO)"
  local missing=()
  command -v curl >/dev/null || missing+=(curl)
  command -v gpg >/dev/null || missing+=(gnupg)
  [ -e /etc/ssl/certs/ca-certificates.crt ] || missing+=(ca-certificates)
  if [ ${#missing[@]} -gt 0 ]; then
    as_root apt-get update -qq
    as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
  fi
  scratch=$(mktemp -d)
  trap 'rm -rf "$scratch"' EXIT
  log "fetching NVIDIA's signing key from $REPO/gpgkey"
  curl -fsSL "$REPO/gpgkey" -o "$scratch/key" || die "could not download $REPO/gpgkey"
  local found
  found=$(primary_fingerprints "$scratch/key" | tr '\n' ' ' | sed 's/ $//')
  [ "$found" = "$KEY_FINGERPRINT" ] ||
    die "NVIDIA's key is not the pinned one: got '${found:-no key}', want $KEY_FINGERPRINT; nothing installed"
  gpg --batch --yes --dearmor -o "$scratch/keyring.gpg" "$scratch/key"
  as_root install -D -m 0644 "$scratch/keyring.gpg" "$KEYRING"
  echo "deb [signed-by=$KEYRING] $REPO/stable/deb/\$(ARCH) /" >"$scratch/list"
  as_root install -D -m 0644 "$scratch/list" "$SOURCES"
  log "added NVIDIA's apt repository ($SOURCES), key $KEY_FINGERPRINT"
}

install_toolkit() {
  add_repository
  log "installing nvidia-container-toolkit from NVIDIA's repository"
  as_root apt-get update -qq
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nvidia-container-toolkit >/dev/null
}

restart_engine() {
  log "restarting the engine"
  if command -v systemctl >/dev/null && systemctl is-system-running >/dev/null 2>&1; then
    as_root systemctl restart docker
  else  # no service manager (as on the lab's CI machines): stop dockerd by its pid, start it
    local pid
    pid=$(pgrep -x dockerd | head -1 || true)
    if [ -n "$pid" ]; then
      as_root kill "$pid"
      for _ in $(seq 30); do kill -0 "$pid" 2>/dev/null || break; sleep 1; done
    fi
    as_root bash -c "nohup setsid dockerd >'$DOCKERD_LOG' 2>&1 </dev/null &"
  fi
  for _ in $(seq 30); do docker info >/dev/null 2>&1 && return; sleep 1; done
  die "the engine did not come back after its restart: see $DOCKERD_LOG"
}

configure() {
  log "registering NVIDIA's runtime with the engine (nvidia-ctk runtime configure)"
  as_root nvidia-ctk runtime configure --runtime=docker
  restart_engine
}

# A container from the lab's own base image runs nvidia-smi (the toolkit mounts it in).
check_container() {
  local form=$1 image request
  image=$(sed -n 's/^ARG BASE_IMAGE=//p' images/cpython/Dockerfile | head -1)
  if [ "$form" = ready-cdi ]; then request=(--device nvidia.com/gpu=all); else request=(--gpus all); fi
  local seen
  seen=$(docker run --rm "${request[@]}" "$image" nvidia-smi -L 2>&1) ||
    die "a container does not see the GPU (docker run ${request[*]} $image nvidia-smi -L): $(tail -1 <<<"$seen")"
  log "a container sees: $(head -1 <<<"$seen")"
}

main() {
  local decision
  decision=$(decide)
  if [ "${1:-}" = --decide ]; then echo "$decision"; return; fi
  log "$decision"
  case ${decision%%:*} in
    no-gpu | no-engine | by-hand) return ;;
    ready-runtime | ready-cdi) check_container "${decision%%:*}" ;;
    configure) configure; check_container ready-runtime ;;
    install) install_toolkit; configure; check_container ready-runtime ;;
  esac
}

main "$@"
