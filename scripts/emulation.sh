# shellcheck shell=bash
# Sourced, not run: QEMU's user-mode emulators for the other architecture (aarch64 on x86-64,
# x86_64 on arm64), registered with binfmt_misc with the F flag (the emulator is opened at
# registration, so it runs inside containers and debootstrap's chroot). The one place that
# knows how; install-docker.sh (--emulation) and install-test-tools.sh source it, and each
# says what it does in its own words, with its own as_root and apt_install.
# LAB_BINFMT moves binfmt_misc's folder (the unit tests' scratch one).
BINFMT=${LAB_BINFMT:-/proc/sys/fs/binfmt_misc}
if [ "$(uname -m)" = aarch64 ]; then EMULATED=x86_64; else EMULATED=aarch64; fi
EMULATION_ENTRY=$BINFMT/qemu-$EMULATED

emulation_registered() { grep -qs '^flags:.*F' "$EMULATION_ENTRY"; }

# binfmt_misc mounted, then (where that did not show it registered) Debian's packages, whose
# binfmt-support registers qemu-$EMULATED with the F flag. Needs root; fails where a step does.
register_emulation() {
  if [ ! -e "$BINFMT/status" ]; then
    as_root mount binfmt_misc -t binfmt_misc "$BINFMT" || return
  fi
  emulation_registered && return 0
  apt_install qemu-user-static binfmt-support || return
  as_root update-binfmts --enable "qemu-$EMULATED"
}
