"""scripts/install-test-tools.sh, which `invoke test` runs first, against stand-ins for apt-get,
dpkg, npm, node, sudo and id on a PATH of their own: it installs only what is missing, one
line each, the dev containers CLI at its pinned version, Debian 13's dockerd in a folder of
its own (LAB_TEST_ENGINE_DIR, here a scratch one), Podman's settings in files of their own
(LAB_PODMAN_ETC, here a scratch one), QEMU registered with binfmt_misc's F flag (LAB_BINFMT,
here a scratch folder, with stand-ins for uname, mount and update-binfmts), and names what it
cannot install."""

from __future__ import annotations

import re
import resource
import shutil
import subprocess
from pathlib import Path

import pytest

from lab.config import ROOT

SCRIPT = ROOT / "scripts" / "install-test-tools.sh"
BASH = shutil.which("bash") or "/bin/bash"

# apt-get "installs" a package by making its command; npm makes `devcontainer`.
STUBS = {
    "id": 'echo "$STUB_UID"',
    "sudo": 'echo "sudo $*" >>"$STUB_LOG"; "$@"',
    "apt-get": """echo "apt-get $*" >>"$STUB_LOG"
for p in "$@"; do case $p in
  docker-registry) c=docker-registry ;; iproute2) c=ip ;; nodejs) c=node ;; npm) c=npm ;;
  chromium) c=chromium ;; chromium-driver) c=chromedriver ;;
  podman) c=podman ;; catatonit) c=catatonit ;; *) c= ;;
esac; [ -z "$c" ] || cp "$STUB_DIR/.$c" "$STUB_DIR/$c"
case $p in -oDir::Etc::SourceParts=*) cat "${p#*=}"/*.sources >"$STUB_DIR/../seen.sources" ;; esac
done
case " $* " in *" download docker.io "*) touch docker.io_26.1.5+dfsg1-9_amd64.deb ;; esac""",
    "npm": 'echo "npm $*" >>"$STUB_LOG"; cp "$STUB_DIR/.devcontainer" "$STUB_DIR/devcontainer"',
    # `download docker.io` leaves a .deb; `dpkg -x` of it gives dockerd and docker-proxy. The
    # trixie source it was given is kept for the test to read.
    "dpkg": """echo "dpkg $*" >>"$STUB_LOG"; mkdir -p "$3/usr/sbin"
for f in dockerd docker-proxy; do
  echo '#!/bin/sh' >"$3/usr/sbin/$f"; chmod +x "$3/usr/sbin/$f"
done""",
    "node": 'echo "$STUB_NODE_MAJOR"',
    # `podman system service --time=1 unix://PATH`: its socket, and a moment to be read.
    "podman": 'echo "podman $*" >>"$STUB_LOG"; touch "${4#unix://}"; sleep 0.5',
    "uname": 'echo "$STUB_MACHINE"',
    # `mount binfmt_misc -t binfmt_misc FOLDER`, and `update-binfmts --enable qemu-ARCH` as
    # Debian's binfmt-support registers it: enabled, with the F flag.
    "mount": 'echo "mount $*" >>"$STUB_LOG"; echo enabled >"$4/status"',
    "update-binfmts": """echo "update-binfmts $*" >>"$STUB_LOG"
printf 'enabled\ninterpreter /usr/libexec/qemu-binfmt/%s-binfmt-P\nflags: POCF\noffset 0\n' \\
  "${2#qemu-}" >"$LAB_BINFMT/$2\"""",
}
PRESENT = [
    "docker-registry",
    "ip",
    "chromium",
    "chromedriver",
    "node",
    "npm",
    "devcontainer",
    "dockerd",
    "podman",
    "catatonit",
    "qemu",  # not a command: QEMU registered for the other architecture, in the binfmt folder
]
# The architecture QEMU is registered for, on each machine's.
FOREIGN = {"x86_64": "aarch64", "aarch64": "x86_64"}
QEMU_ENTRY = "enabled\ninterpreter /usr/libexec/qemu-binfmt/{}-binfmt-P\nflags: POCF\noffset 0\n"
# CapEff of root without CAP_SYS_RESOURCE (bit 24), as on the project's machines, and with it.
CAPS = {False: "00000000a80425fb", True: "00000000a90425fb"}
REGISTRY_CONF = """# scripts/install-test-tools.sh: the classroom tests' registry on loopback speaks
# plain HTTP, and Podman trusts no registry without TLS, not even on 127.0.0.1.
[[registry]]
location = "127.0.0.1:5055"
insecure = true
"""
SOURCES = """Types: deb
URIs: http://mirror.invalid/debian
Suites: bookworm bookworm-updates
Components: main

Types: deb
URIs: http://mirror.invalid/debian-security
Suites: bookworm-security
Components: main
"""
# Where /usr/sbin or /sbin has `ip`, the script finds it there (a user's PATH may lack them).
HOST_IP = any(Path(d, "ip").exists() for d in ("/usr/sbin", "/sbin"))


def run(
    tmp_path: Path,
    *,
    have: list[str],
    uid: int = 0,
    sudo: bool = True,
    node: int = 18,
    sources: bool = True,
    os_release: str = "ID=debian\n",
    sys_resource: bool = False,
    machine: str = "x86_64",
    mounted: bool = True,
):
    stubs = tmp_path / "bin"
    stubs.mkdir(exist_ok=True)
    for name in PRESENT:  # what apt-get and npm copy into place when they "install"
        (stubs / f".{name}").write_text(f"#!{BASH}\n" + STUBS.get(name, "true") + "\n")
    for name, body in STUBS.items():
        if name not in PRESENT and (name != "sudo" or sudo):
            (stubs / name).write_text(f"#!{BASH}\n{body}\n")
    for name in have:
        shutil.copy(stubs / f".{name}", stubs / name)
    engine = tmp_path / "engine"
    if "dockerd" in have:  # the folder of its own, not PATH
        engine.mkdir(exist_ok=True)
        (engine / "dockerd").write_text("#!/bin/sh\n")
        (engine / "dockerd").chmod(0o755)
    if sources:
        (tmp_path / "debian.sources").write_text(SOURCES)
    (tmp_path / "os-release").write_text(os_release)
    (tmp_path / "status").write_text(f"Name:\tawk\nCapEff:\t{CAPS[sys_resource]}\n")
    if "podman" in have:  # and its settings, written by an earlier run
        for conf in (tmp_path / "containers" / name for name in SETTINGS):
            conf.parent.mkdir(parents=True, exist_ok=True)
            conf.write_text(conf.read_text() if conf.exists() else "# kept\n")
    binfmt = tmp_path / "binfmt_misc"  # where binfmt_misc is mounted, a `status` in it
    binfmt.mkdir(exist_ok=True)
    if mounted:
        (binfmt / "status").write_text("enabled\n")
    if "qemu" in have:
        (binfmt / f"qemu-{FOREIGN[machine]}").write_text(QEMU_ENTRY.format(FOREIGN[machine]))
    # What the script and the stand-ins run besides them:
    for tool in (
        "env",
        "cp",
        "awk",
        "sed",
        "mktemp",
        "mkdir",
        "rm",
        "cat",
        "touch",
        "chmod",
        "grep",
        "seq",
        "sleep",
        "dirname",
        "tee",
        "bash",
    ):
        if not (stubs / tool).exists():
            (stubs / tool).symlink_to(shutil.which(tool))
    for path in stubs.iterdir():
        if not path.is_symlink():
            path.chmod(0o755)
    log = tmp_path / "log"
    log.touch()
    env = {"PATH": str(stubs), "STUB_DIR": str(stubs), "STUB_LOG": str(log),
           "STUB_UID": str(uid), "STUB_NODE_MAJOR": str(node), "HOME": str(tmp_path),
           "LAB_TEST_ENGINE_DIR": str(engine), "LAB_APT_SOURCES": str(tmp_path / "debian.sources"),
           "TMPDIR": str(tmp_path), "LAB_OS_RELEASE": str(tmp_path / "os-release"),
           "LAB_PODMAN_ETC": str(tmp_path / "containers"),
           "LAB_PROC_STATUS": str(tmp_path / "status"), "LAB_BINFMT": str(binfmt),
           "STUB_MACHINE": machine}  # fmt: skip
    done = subprocess.run([BASH, str(SCRIPT)], env=env, capture_output=True, text=True, check=False)
    return done, log.read_text().splitlines()


SETTINGS = ("containers.conf.d/lab-test-ulimits.conf", "registries.conf.d/lab-test-registry.conf")


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
    packages = [
        "docker-registry",
        *([] if HOST_IP else ["iproute2"]),
        "chromium",
        "chromium-driver",
        "podman",
        "catatonit",
    ]
    commands = ["docker-registry", *([] if HOST_IP else ["ip"]), "chromium", "chromedriver",
                "podman", "catatonit"]  # fmt: skip
    etc = tmp_path / "containers"
    assert done.stderr.splitlines() == [
        f"[install-test-tools] installing {' '.join(packages)} (the distribution's packages,"
        f" for {' '.join(commands)})",
        "[install-test-tools] installing nodejs npm (the distribution's packages, for node npm)",
        f"[install-test-tools] installing {pinned()} (npm, global)",
        f"[install-test-tools] installing Debian 13's docker.io dockerd into {tmp_path / 'engine'}"
        " (the containerd image store's tests)",
        f"[install-test-tools] writing {etc / SETTINGS[0]} (Podman's default_ulimits: root lacks"
        " CAP_SYS_RESOURCE)",
        f"[install-test-tools] writing {etc / SETTINGS[1]} (127.0.0.1:5055 as an insecure"
        " registry for Podman)",
        EMULATION_LINE.format("aarch64"),
    ]
    installs = [c for c in calls if " install " in f" {c} "]
    assert installs[0].endswith(" ".join(packages))
    assert installs[1].endswith("nodejs npm")
    assert installs[2].startswith("npm install --global") and installs[2].endswith(pinned())
    assert sum(c.startswith("apt-get update") for c in calls) == 1
    assert run(tmp_path, have=[])[1] == calls, "a second run installs nothing more"


def test_a_user_goes_through_sudo(tmp_path: Path) -> None:
    have = [name for name in PRESENT if name != "devcontainer"]
    done, calls = run(tmp_path, have=have, uid=1000)
    assert done.returncode == 0, done.stderr
    assert calls[0] == f"sudo npm install --global --no-fund --no-audit --no-update-notifier " \
        f"--loglevel=error {pinned()}"  # fmt: skip


def test_without_root_or_sudo_it_names_what_it_cannot_install(tmp_path: Path) -> None:
    done, calls = run(tmp_path, have=["ip"], uid=1000, sudo=False)
    assert done.returncode == 1
    assert calls == []
    assert done.stderr.splitlines() == [
        "install-test-tools: cannot install docker-registry chromium chromium-driver podman"
        " catatonit: not root and no sudo",
        "install-test-tools: cannot install nodejs npm: not root and no sudo",
        f"install-test-tools: cannot install Debian 13's dockerd into {tmp_path / 'engine'}:"
        " not root and no sudo",
        "install-test-tools: cannot install qemu-user-static binfmt-support (qemu-aarch64 with"
        " binfmt_misc's F flag): not root and no sudo",
    ]


EMULATION_LINE = (
    "[install-test-tools] installing qemu-user-static binfmt-support (the distribution's"
    " packages), registering qemu-{} with binfmt_misc's F flag (the classroom tests' arm64 image)"
)


@pytest.mark.parametrize("machine", ["x86_64", "aarch64"])
def test_a_machine_without_qemu_gets_it_registered(tmp_path: Path, machine: str) -> None:
    """Debian's qemu-user-static and binfmt-support, registered for the other architecture
    with the F flag, binfmt_misc mounted first where it is not; one line, then nothing."""
    have = [name for name in PRESENT if name != "qemu"]
    done, calls = run(tmp_path, have=have, machine=machine, mounted=False)
    assert done.returncode == 0, done.stderr
    assert done.stderr.splitlines() == [EMULATION_LINE.format(FOREIGN[machine])]
    binfmt = tmp_path / "binfmt_misc"
    assert calls == [
        f"mount binfmt_misc -t binfmt_misc {binfmt}",
        "apt-get update -qq",
        "apt-get install -y -qq --no-install-recommends qemu-user-static binfmt-support",
        f"update-binfmts --enable qemu-{FOREIGN[machine]}",
    ]
    assert "flags: POCF" in (binfmt / f"qemu-{FOREIGN[machine]}").read_text()
    again, more = run(tmp_path, have=have, machine=machine)
    assert (again.returncode, again.stderr, more) == (0, "", calls), "a second run does nothing"


def test_a_node_too_old_for_the_cli_is_named(tmp_path: Path) -> None:
    have = [name for name in PRESENT if name != "devcontainer"]
    done, calls = run(tmp_path, have=have, node=12)
    assert done.returncode == 1
    assert calls == []
    assert "cannot install @devcontainers/cli@" in done.stderr and "older than" in done.stderr


def test_the_test_engine_comes_from_trixie_into_a_folder_of_its_own(tmp_path: Path) -> None:
    """Debian 13's docker.io, from the trixie suite of the machine's own mirror, unpacked:
    its dockerd and docker-proxy in the folder, the system's engine untouched."""
    done, calls = run(tmp_path, have=[name for name in PRESENT if name != "dockerd"])
    assert done.returncode == 0, done.stderr
    assert len(done.stderr.splitlines()) == 1 and "dockerd into" in done.stderr
    assert sorted(p.name for p in (tmp_path / "engine").iterdir()) == ["docker-proxy", "dockerd"]
    assert not any(" install " in f" {c} " for c in calls), "no package is installed"
    assert any(c.startswith("apt-get ") and c.endswith(" download docker.io") for c in calls)
    seen = (tmp_path / "seen.sources").read_text()
    assert "Suites: trixie" in seen and "mirror.invalid/debian" in seen
    assert "bookworm" not in seen and "security" not in seen
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith("tmp")] == [], "no scratch"
    again, _ = run(tmp_path, have=[name for name in PRESENT if name != "dockerd"])
    assert (again.returncode, again.stderr) == (0, ""), "a second run does nothing"


def test_without_a_mirror_to_derive_trixie_from_it_names_the_engine(tmp_path: Path) -> None:
    done, calls = run(tmp_path, have=[name for name in PRESENT if name != "dockerd"], sources=False)
    assert done.returncode == 1
    assert "cannot install Debian 13's dockerd" in done.stderr and "debian.sources" in done.stderr
    assert calls == []


def test_ubuntu_gets_its_own_names_for_the_browser(tmp_path: Path) -> None:
    have = [name for name in PRESENT if name not in ("chromium", "chromedriver")]
    done, calls = run(tmp_path, have=have, os_release="NAME=Ubuntu\nID=ubuntu\n")
    assert done.returncode == 0, done.stderr
    installs = [c for c in calls if " install " in f" {c} "]
    assert installs and installs[0].endswith("chromium-browser chromium-chromedriver"), calls


def hard_limit(which: int) -> str | None:
    hard = resource.getrlimit(which)[1]
    return None if hard == resource.RLIM_INFINITY else str(hard)


def test_podmans_settings_are_files_of_their_own(tmp_path: Path) -> None:
    """Root without CAP_SYS_RESOURCE: default_ulimits at the limits a Podman service keeps
    (the stand-in's: this test's own), and the test registry as insecure; the main files are
    left alone, and a second run (or one edited by hand) is kept as it is."""
    done, before = run(tmp_path, have=[name for name in PRESENT if name != "podman"])
    assert done.returncode == 0, done.stderr
    etc = tmp_path / "containers"
    assert sorted(str(p.relative_to(etc)) for p in etc.rglob("*.conf")) == sorted(SETTINGS)
    assert (etc / SETTINGS[1]).read_text() == REGISTRY_CONF
    nofile, nproc = hard_limit(resource.RLIMIT_NOFILE), hard_limit(resource.RLIMIT_NPROC)
    wanted = [f'"nofile={nofile}:{nofile}"'] * bool(nofile)
    wanted += [f'"nproc={nproc}:{nproc}"'] * bool(nproc)
    assert f"default_ulimits = [{','.join(wanted)}]" in (etc / SETTINGS[0]).read_text()
    assert any(c.startswith("podman system service --time=1 unix://") for c in before)
    (etc / SETTINGS[1]).write_text("# edited by hand\n")
    again, calls = run(tmp_path, have=PRESENT)
    assert (again.returncode, again.stderr, calls) == (0, "", before)
    assert (etc / SETTINGS[1]).read_text() == "# edited by hand\n"


def test_root_that_may_raise_limits_needs_no_ulimits(tmp_path: Path) -> None:
    done, calls = run(tmp_path, have=[n for n in PRESENT if n != "podman"], sys_resource=True)
    assert done.returncode == 0, done.stderr
    assert not (tmp_path / "containers" / SETTINGS[0]).exists()
    assert (tmp_path / "containers" / SETTINGS[1]).read_text() == REGISTRY_CONF
    assert not any(c.startswith("podman") for c in calls), "no service is started to look"
