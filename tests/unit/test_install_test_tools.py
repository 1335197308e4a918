"""scripts/install-test-tools.sh, which `invoke test` runs first, against stand-ins for apt-get,
npm, node, sudo and id on a PATH of their own: it installs only what is missing, one line
each, the dev containers CLI at its pinned version, and names what it cannot install."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

from lab.config import ROOT

SCRIPT = ROOT / "scripts" / "install-test-tools.sh"
BASH = shutil.which("bash") or "/bin/bash"

# apt-get "installs" a package by making its command; npm makes `devcontainer`.
STUBS = {
    "id": 'echo "$STUB_UID"',
    "sudo": 'echo "sudo $*" >>"$STUB_LOG"; "$@"',
    "apt-get": """echo "apt-get $*" >>"$STUB_LOG"
for p in "$@"; do case $p in
  docker-registry) c=docker-registry ;; iproute2) c=ip ;; nodejs) c=node ;; npm) c=npm ;; *) c= ;;
esac; [ -z "$c" ] || cp "$STUB_DIR/.$c" "$STUB_DIR/$c"; done""",
    "npm": 'echo "npm $*" >>"$STUB_LOG"; cp "$STUB_DIR/.devcontainer" "$STUB_DIR/devcontainer"',
    "node": 'echo "$STUB_NODE_MAJOR"',
}
PRESENT = ["docker-registry", "ip", "node", "npm", "devcontainer"]
# Where /usr/sbin or /sbin has `ip`, the script finds it there (a user's PATH may lack them).
HOST_IP = any(Path(d, "ip").exists() for d in ("/usr/sbin", "/sbin"))


def run(tmp_path: Path, *, have: list[str], uid: int = 0, sudo: bool = True, node: int = 18):
    stubs = tmp_path / "bin"
    stubs.mkdir(exist_ok=True)
    for name in PRESENT:  # what apt-get and npm copy into place when they "install"
        (stubs / f".{name}").write_text(f"#!{BASH}\n" + STUBS.get(name, "true") + "\n")
    for name, body in STUBS.items():
        if name not in PRESENT and (name != "sudo" or sudo):
            (stubs / name).write_text(f"#!{BASH}\n{body}\n")
    for name in have:
        shutil.copy(stubs / f".{name}", stubs / name)
    for tool in ("env", "cp"):  # what the script and the stand-ins run besides them
        if not (stubs / tool).exists():
            (stubs / tool).symlink_to(shutil.which(tool))
    for path in stubs.iterdir():
        if not path.is_symlink():
            path.chmod(0o755)
    log = tmp_path / "log"
    log.touch()
    env = {"PATH": str(stubs), "STUB_DIR": str(stubs), "STUB_LOG": str(log),
           "STUB_UID": str(uid), "STUB_NODE_MAJOR": str(node), "HOME": str(tmp_path)}  # fmt: skip
    done = subprocess.run([BASH, str(SCRIPT)], env=env, capture_output=True, text=True, check=False)
    return done, log.read_text().splitlines()


def pinned() -> str:
    return re.search(r"^DEVCONTAINERS_CLI=(\S+)$", SCRIPT.read_text(), re.M).group(1)


def test_the_cli_is_pinned_to_an_exact_version() -> None:
    assert re.fullmatch(r"@devcontainers/cli@\d+\.\d+\.\d+", pinned())


def test_nothing_is_done_or_said_when_all_is_there(tmp_path: Path) -> None:
    done, calls = run(tmp_path, have=PRESENT)
    assert (done.returncode, done.stdout, done.stderr, calls) == (0, "", "", [])


def test_a_fresh_machine_gets_everything_one_line_each(tmp_path: Path) -> None:
    done, calls = run(tmp_path, have=[])
    assert done.returncode == 0, done.stderr
    packages = ["docker-registry"] + ([] if HOST_IP else ["iproute2"])
    assert done.stderr.splitlines() == [
        f"[install-test-tools] installing {' '.join(packages)} (the distribution's packages,"
        f" for {' '.join(['docker-registry'] + ([] if HOST_IP else ['ip']))})",
        "[install-test-tools] installing nodejs npm (the distribution's packages, for node npm)",
        f"[install-test-tools] installing {pinned()} (npm, global)",
    ]
    installs = [c for c in calls if " install " in f" {c} "]
    assert installs[0].endswith(" ".join(packages))
    assert installs[1].endswith("nodejs npm")
    assert installs[2].startswith("npm install --global") and installs[2].endswith(pinned())
    assert sum(c.startswith("apt-get update") for c in calls) == 1
    assert run(tmp_path, have=[])[1] == calls, "a second run installs nothing more"


def test_a_user_goes_through_sudo(tmp_path: Path) -> None:
    done, calls = run(tmp_path, have=["docker-registry", "ip", "node", "npm"], uid=1000)
    assert done.returncode == 0, done.stderr
    assert calls[0] == f"sudo npm install --global --no-fund --no-audit --no-update-notifier " \
        f"--loglevel=error {pinned()}"  # fmt: skip


def test_without_root_or_sudo_it_names_what_it_cannot_install(tmp_path: Path) -> None:
    done, calls = run(tmp_path, have=["ip"], uid=1000, sudo=False)
    assert done.returncode == 1
    assert calls == []
    assert done.stderr.splitlines() == [
        "install-test-tools: cannot install docker-registry: not root and no sudo",
        "install-test-tools: cannot install nodejs npm: not root and no sudo",
    ]


def test_a_node_too_old_for_the_cli_is_named(tmp_path: Path) -> None:
    done, calls = run(tmp_path, have=["docker-registry", "ip", "node", "npm"], node=12)
    assert done.returncode == 1
    assert calls == []
    assert "cannot install @devcontainers/cli@" in done.stderr and "older than" in done.stderr
