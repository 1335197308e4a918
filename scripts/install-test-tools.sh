#!/usr/bin/env bash
# What the container tests need beyond the README's set-up, installed where it is missing.
# `invoke test` runs it first (not `invoke test --unit`), so a learner's set-up stays light.
#   docker-registry, iproute2  the classroom tests' registry and second engine's bridge
#                              (the distribution's packages)
#   chromium, chromedriver     a headless browser and its WebDriver, for the pages' tests
#                              (Debian's chromium, chromium-driver; Ubuntu's chromium-browser,
#                              chromium-chromedriver)
#   node, npm                  the distribution's nodejs and npm, where either is missing
#   devcontainer               the dev containers CLI: npm's @devcontainers/cli, pinned below
#   $TEST_ENGINE_DIR/dockerd   Debian 13's docker.io (26.1), for the classroom tests' engine
#                              on the containerd image store (Debian 12's 20.10 has none);
#                              a folder of its own: the system's dockerd is left alone
#   podman, catatonit          Debian's, for the classroom tests' Podman student, with the
#                              settings a student's Podman needs here, each in a file of its
#                              own (the main files are left alone): default_ulimits where
#                              root lacks CAP_SYS_RESOURCE, and the test registry's address
#                              ($LAB_TEST_PODMAN_REGISTRY) as an insecure [[registry]]
#   qemu-user-static,          QEMU for the other architecture (aarch64 on x86-64, x86_64 on
#   binfmt-support             arm64), registered with binfmt_misc's F flag (update-binfmts;
#                              binfmt_misc mounted where it is not, $LAB_BINFMT), for the
#                              classroom tests' arm64 image: emulation.sh, as install-docker.sh
#                              --emulation does it
# Idempotent: one line per thing it installs, nothing when all is there. Installs as root,
# or through sudo. What it cannot install it names, one line each, and exits 1: the tests
# that need it then skip saying why (in CI, CI=true, they fail).
set -euo pipefail

# The newest release that runs on Node 18 (Debian 12's and Ubuntu 24.04's nodejs);
# 0.85.0 and later need Node 20.
DEVCONTAINERS_CLI=@devcontainers/cli@0.83.0
NODE_MAJOR_MIN=16  # that release's engines: ^16.13.0 || >=18.0.0
# tests/services.py looks for it there too (LAB_TEST_ENGINE_DIR moves both).
TEST_ENGINE_DIR=${LAB_TEST_ENGINE_DIR:-/opt/lab-test-engine}
APT_SOURCES=${LAB_APT_SOURCES:-/etc/apt/sources.list.d/debian.sources}
PROC_STATUS=${LAB_PROC_STATUS:-/proc/self/status}  # root's, as awk running as root reads it
# tests/services.py reads both too.
PODMAN_ETC=${LAB_PODMAN_ETC:-/etc/containers}
PODMAN_REGISTRY=${LAB_TEST_PODMAN_REGISTRY:-127.0.0.1:5055}
# QEMU's registration is install-docker.sh's too: emulation.sh, sourced by both, does it
# (emulation_registered, register_emulation; LAB_BINFMT moves binfmt_misc's folder), and each
# script says what it does in its own words. It uses as_root and apt_install, defined below.
# shellcheck source=scripts/emulation.sh
source "$(dirname "${BASH_SOURCE[0]}")/emulation.sh"

log() { printf '[install-test-tools] %s\n' "$*" >&2; }
missing=()
cannot() { printf 'install-test-tools: cannot install %s\n' "$*" >&2; missing+=("$1"); }

# `ip` lives in /sbin, which a user's PATH may lack.
has() { PATH="$PATH:/usr/sbin:/sbin" command -v "$1" >/dev/null; }

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"; else sudo "$@"; fi
}
privileged() { [ "$(id -u)" -eq 0 ] || command -v sudo >/dev/null; }

# A command's output only where it fails (apt's and npm's chatter is no news otherwise).
quiet() {
  local out
  out=$("$@" 2>&1) || { printf '%s\n' "$out" >&2; return 1; }
}

apt_updated=""
apt_install() {
  [ -n "$apt_updated" ] || { quiet as_root apt-get update -qq; apt_updated=1; }
  quiet as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@"
}

# Each package when its command is missing: "command:package ...".
ensure_packages() {
  local pair want=() what=()
  for pair in "$@"; do
    has "${pair%%:*}" || { want+=("${pair#*:}"); what+=("${pair%%:*}"); }
  done
  [ ${#want[@]} -gt 0 ] || return 0
  if ! privileged; then cannot "${want[*]}: not root and no sudo"; return 0; fi
  if ! command -v apt-get >/dev/null; then cannot "${want[*]}: no apt-get here"; return 0; fi
  log "installing ${want[*]} (the distribution's packages, for ${what[*]})"
  apt_install "${want[@]}"
}

node_major() { node -e 'process.stdout.write(process.versions.node.split(".")[0])'; }

ensure_devcontainer_cli() {
  has devcontainer && return 0
  ensure_packages node:nodejs npm:npm
  has node && has npm || return 0  # already named as missing
  if [ "$(node_major)" -lt "$NODE_MAJOR_MIN" ]; then
    cannot "$DEVCONTAINERS_CLI: node $(node --version) is older than it needs (16.13+)"
    return 0
  fi
  if ! privileged; then cannot "$DEVCONTAINERS_CLI: not root and no sudo"; return 0; fi
  log "installing $DEVCONTAINERS_CLI (npm, global)"
  quiet as_root npm install --global --no-fund --no-audit --no-update-notifier --loglevel=error \
    "$DEVCONTAINERS_CLI"
  has devcontainer || cannot "$DEVCONTAINERS_CLI: npm installed it, but devcontainer is not on PATH"
}

# Debian 13's docker.io needs only Debian 12's containerd, runc and libc: its .deb comes
# from the trixie suite of the machine's own mirror (as install-docker.sh takes the
# plugins), unpacked with dpkg -x, its dockerd and docker-proxy copied into a folder of
# their own. Nothing is installed as a package.
ensure_test_engine() {
  [ -x "$TEST_ENGINE_DIR/dockerd" ] && return 0
  if ! privileged; then cannot "Debian 13's dockerd into $TEST_ENGINE_DIR: not root and no sudo"; return 0; fi
  if ! command -v apt-get >/dev/null || [ ! -f "$APT_SOURCES" ]; then
    cannot "Debian 13's dockerd into $TEST_ENGINE_DIR: no apt-get or no $APT_SOURCES here"; return 0
  fi
  log "installing Debian 13's docker.io dockerd into $TEST_ENGINE_DIR (the containerd image store's tests)"
  local scratch; scratch=$(mktemp -d)
  mkdir -p "$scratch/parts" "$scratch/lists/partial" "$scratch/cache/archives/partial" "$scratch/root"
  # Keep the mirror, change the suites, drop the security stanza.
  awk 'BEGIN{RS=""; ORS="\n\n"} !/security/' "$APT_SOURCES" |
    sed -E 's/^Suites:.*/Suites: trixie/' >"$scratch/parts/trixie.sources"
  local opts=(-oDir::Etc::SourceList=/dev/null "-oDir::Etc::SourceParts=$scratch/parts"
    "-oDir::State::Lists=$scratch/lists" "-oDir::Cache=$scratch/cache" -oAPT::Sandbox::User=root -qq)
  quiet as_root apt-get "${opts[@]}" update
  (cd "$scratch" && quiet as_root apt-get "${opts[@]}" download docker.io)
  quiet as_root dpkg -x "$scratch"/docker.io_*.deb "$scratch/root"
  as_root mkdir -p "$TEST_ENGINE_DIR"
  as_root cp "$scratch/root/usr/sbin/dockerd" "$scratch/root/usr/sbin/docker-proxy" "$TEST_ENGINE_DIR/"
  rm -rf "$scratch"
  [ -x "$TEST_ENGINE_DIR/dockerd" ] || cannot "Debian 13's dockerd: its .deb held no usr/sbin/dockerd"
}

# Podman as root: runc may not raise a container's limits past the service's own without
# CAP_SYS_RESOURCE (bit 24 of CapEff), and Podman's defaults ask for more ("error setting
# rlimit type 7").
lacks_sys_resource() {
  local caps; caps=$(as_root awk '/^CapEff:/ {print $2}' "$PROC_STATUS")
  [ -n "$caps" ] && (( (16#$caps >> 24 & 1) == 0 ))
}

# "NOFILE NPROC": the hard limits a running Podman service keeps (it sets its own nproc,
# to 32768 on Debian 12's 4.3.1), read from /proc once its socket is there.
podman_probe() {
  local dir pid i
  dir=$(mktemp -d)
  podman system service --time=1 "unix://$dir/probe.sock" >/dev/null 2>&1 &
  pid=$!
  for i in $(seq 50); do [ -e "$dir/probe.sock" ] && break; sleep 0.1; done
  awk '/^Max processes/ {p = $(NF-1)} /^Max open files/ {n = $(NF-1)} END {print n, p}' "/proc/$pid/limits"
  wait "$pid" || true
  rm -rf "$dir"
}

ulimits_conf() {
  local nofile nproc items=()
  read -r nofile nproc < <(as_root bash -c "$(declare -f podman_probe); podman_probe")
  [ -z "$nofile" ] || [ "$nofile" = unlimited ] || items+=("\"nofile=$nofile:$nofile\"")
  [ -z "$nproc" ] || [ "$nproc" = unlimited ] || items+=("\"nproc=$nproc:$nproc\"")
  [ ${#items[@]} -gt 0 ] || return 0
  local IFS=,
  printf '# scripts/install-test-tools.sh: the limits a container may have here, the Podman\n'
  printf '# service'"'"'s own (root lacks CAP_SYS_RESOURCE: runc cannot raise them past those).\n'
  printf '[containers]\ndefault_ulimits = [%s]\n' "${items[*]}"
}

registry_conf() {
  printf '# scripts/install-test-tools.sh: the classroom tests'"'"' registry on loopback speaks\n'
  printf '# plain HTTP, and Podman trusts no registry without TLS, not even on 127.0.0.1.\n'
  printf '[[registry]]\nlocation = "%s"\ninsecure = true\n' "$PODMAN_REGISTRY"
}

# FILE, where it is missing (one edited by hand is kept), from what MAKE prints (if anything).
write_setting() {
  local file=$1 why=$2 make=$3 text
  [ ! -e "$file" ] || return 0
  text=$("$make")
  [ -n "$text" ] || return 0
  log "writing $file ($why)"
  as_root mkdir -p "$(dirname "$file")"
  printf '%s\n' "$text" | as_root tee "$file" >/dev/null
}

ensure_podman_settings() {
  has podman && privileged || return 0  # already named as missing
  if lacks_sys_resource; then
    write_setting "$PODMAN_ETC/containers.conf.d/lab-test-ulimits.conf" \
      "Podman's default_ulimits: root lacks CAP_SYS_RESOURCE" ulimits_conf
  fi
  write_setting "$PODMAN_ETC/registries.conf.d/lab-test-registry.conf" \
    "$PODMAN_REGISTRY as an insecure registry for Podman" registry_conf
}

# The classroom tests' arm64 stand-in runs `cat` in an arm64 image, and its base image is
# debootstrapped for arm64 (a chroot under QEMU).
ensure_emulation() {
  emulation_registered && return 0
  local what="qemu-user-static binfmt-support (qemu-$EMULATED with binfmt_misc's F flag)"
  if ! privileged; then cannot "$what: not root and no sudo"; return 0; fi
  if ! command -v apt-get >/dev/null; then cannot "$what: no apt-get here"; return 0; fi
  log "installing qemu-user-static binfmt-support (the distribution's packages), registering" \
    "qemu-$EMULATED with binfmt_misc's F flag (the classroom tests' arm64 image)"
  register_emulation || true  # named just below
  emulation_registered || cannot "$what: still not registered (see update-binfmts --display)"
}

# Ubuntu ships Chromium under other names (as a snap behind a transitional package).
browser_packages() {
  if grep -qs '^ID=ubuntu' "${LAB_OS_RELEASE:-/etc/os-release}"; then
    has chromium && echo chromium:chromium || echo chromium-browser:chromium-browser
    echo chromedriver:chromium-chromedriver
  else
    echo chromium:chromium chromedriver:chromium-driver
  fi
}

# shellcheck disable=SC2046  # one word per command:package pair
ensure_packages docker-registry:docker-registry ip:iproute2 $(browser_packages) \
  podman:podman catatonit:catatonit
ensure_devcontainer_cli
ensure_test_engine
ensure_podman_settings
ensure_emulation
[ ${#missing[@]} -eq 0 ] || exit 1
