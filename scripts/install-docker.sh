#!/usr/bin/env bash
# Give this machine a running Docker engine with the Compose v2 and buildx plugins,
# plus debootstrap (to build the base image where no registry can be reached).
#
# Idempotent: whatever is already installed or running is reused, and on a machine
# that already has a working engine with both plugins nothing is touched.
# Used by the README's set-up and by .ci/run. Needs root only when it installs.
#   install-docker.sh              engine, Compose v2, buildx, debootstrap
#   install-docker.sh --classroom  ... and Debian's registry and iproute2 (README, For a classroom)
#   install-docker.sh --emulation  ... and the registry, and QEMU registered for the other
#                                  architecture (`invoke images --platform`; README, arm64)
set -euo pipefail

log() { printf '[install-docker] %s\n' "$*" >&2; }
die() { printf 'install-docker: %s\n' "$*" >&2; exit 1; }

DOCKERD_LOG=${DOCKERD_LOG:-/var/log/dockerd-lab.log}
PLUGIN_DIR=/usr/libexec/docker/cli-plugins

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}

apt_updated=""
apt_install() {
  command -v apt-get >/dev/null || die "no apt-get here: install Docker Engine with Compose v2 and buildx by hand (https://docs.docker.com/engine/install/)"
  [ -n "$apt_updated" ] || { as_root apt-get update -qq; apt_updated=1; }
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

engine_answers() { docker info >/dev/null 2>&1; }

start_dockerd() {
  # A distribution service manager starts it where there is one; these machines have none.
  if command -v systemctl >/dev/null && systemctl is-system-running >/dev/null 2>&1; then
    as_root systemctl start docker
  else
    log "engine: starting dockerd (log: $DOCKERD_LOG)"
    as_root bash -c "nohup setsid dockerd >'$DOCKERD_LOG' 2>&1 </dev/null &"
  fi
}

# A dockerd that runs but does not answer is starting, or shutting down: wait and see which.
wait_for_running_dockerd() {
  log "engine: a dockerd runs but does not answer yet: waiting for it"
  for _ in $(seq 30); do
    engine_answers && return 0
    pgrep -x dockerd >/dev/null || { log "engine: it was shutting down"; return 1; }
    sleep 1
  done
  die "dockerd (pid $(pgrep -x dockerd | head -1)) runs but does not answer after 30 s: see $DOCKERD_LOG"
}

ensure_engine() {
  if engine_answers; then log "engine: running"; return; fi
  if ! command -v dockerd >/dev/null; then
    log "engine: installing docker.io and containerd"
    apt_install docker.io
  fi
  if pgrep -x dockerd >/dev/null && wait_for_running_dockerd; then
    log "engine: running"; return
  fi
  start_dockerd
  for _ in $(seq 60); do engine_answers && { log "engine: running"; return; }; sleep 1; done
  die "dockerd did not answer within 60 s: see $DOCKERD_LOG"
}

# Debian 12 ships only the old Python docker-compose; Debian 13's Go plugins need
# only libc, so take their .deb files from the trixie suite of the machine's own mirror.
install_plugins_from_trixie() {
  local scratch; scratch=$(mktemp -d)
  mkdir -p "$scratch/parts" "$scratch/lists/partial" "$scratch/cache/archives/partial" "$scratch/root"
  local src=/etc/apt/sources.list.d/debian.sources
  [ -f "$src" ] || die "no $src to derive a trixie source from: install docker-compose and docker-buildx by hand"
  # Keep the mirror, change the suites, drop the security stanza.
  awk 'BEGIN{RS=""; ORS="\n\n"} !/security/' "$src" |
    sed -E 's/^Suites:.*/Suites: trixie/' >"$scratch/parts/trixie.sources"
  local opts=(-oDir::Etc::SourceList=/dev/null "-oDir::Etc::SourceParts=$scratch/parts"
    "-oDir::State::Lists=$scratch/lists" "-oDir::Cache=$scratch/cache" -oAPT::Sandbox::User=root -qq)
  apt-get "${opts[@]}" update
  (cd "$scratch" && apt-get "${opts[@]}" download docker-compose docker-buildx)
  for deb in "$scratch"/*.deb; do dpkg -x "$deb" "$scratch/root"; done
  as_root mkdir -p "$PLUGIN_DIR"
  as_root cp "$scratch"/root/usr/libexec/docker/cli-plugins/* "$PLUGIN_DIR/"
  rm -rf "$scratch"
}

ensure_plugins() {
  if docker compose version >/dev/null 2>&1 && docker buildx version >/dev/null 2>&1; then
    log "plugins: compose and buildx present"; return
  fi
  command -v apt-get >/dev/null || die "docker compose/buildx missing: install the Compose v2 and buildx plugins"
  [ -n "$apt_updated" ] || { as_root apt-get update -qq; apt_updated=1; }
  if apt-cache show docker-compose-v2 >/dev/null 2>&1; then  # Ubuntu names them so
    log "plugins: installing docker-compose-v2 and docker-buildx"
    apt_install docker-compose-v2 docker-buildx
  else
    log "plugins: installing Compose v2 and buildx from Debian 13's packages"
    install_plugins_from_trixie
  fi
  docker compose version >/dev/null && docker buildx version >/dev/null ||
    die "plugins installed but 'docker compose version' or 'docker buildx version' fails"
  log "plugins: $(docker compose version --short), buildx $(docker buildx version | awk '{print $2}')"
}

ensure_debootstrap() {
  command -v debootstrap >/dev/null && return
  log "debootstrap: installing (builds the base image where no registry answers)"
  apt_install debootstrap
}

# --classroom: what the classroom's tests and an instructor's registry need: distribution's
# registry (Debian's docker-registry) and iproute2 (a second engine's bridge).
ensure_classroom_tools() {
  command -v docker-registry >/dev/null && command -v ip >/dev/null && return
  log "classroom: installing docker-registry and iproute2"
  apt_install docker-registry iproute2
}

# --emulation: QEMU's user-mode emulators, registered with binfmt_misc with the F flag;
# emulation.sh does it (install-test-tools.sh sources it too).
# shellcheck source=scripts/emulation.sh
source "$(dirname "${BASH_SOURCE[0]}")/emulation.sh"
ensure_emulation() {
  if ! emulation_registered; then
    log "emulation: installing qemu-user-static and binfmt-support, registering qemu-$EMULATED"
    register_emulation
  fi
  emulation_registered ||
    die "qemu-$EMULATED is not registered with binfmt_misc's F flag: see update-binfmts --display"
  log "emulation: qemu-$EMULATED registered ($(head -1 "$EMULATION_ENTRY"))"
}

ensure_engine
ensure_plugins
ensure_debootstrap
case "${1:-}" in
  --classroom) ensure_classroom_tools ;;
  --emulation) ensure_classroom_tools; ensure_emulation ;;
esac
