"""The real services a classroom test needs, started and stopped by the test itself:
distribution's registry (Debian's `docker-registry`) on a loopback port, and a second
Docker engine (a student's machine) with its own data, exec root, socket and bridge.

Both are context managers: whatever happens inside, the process is stopped by its pid and
its data removed. bench/classroom.py uses them too.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from lab import loopback_registry
from lab.loopback_registry import stop, wait_for

# A bridge of its own: `--bridge=none` would take the first engine's docker0 away.
SECOND_BRIDGE = "labd2"
SECOND_BRIDGE_ADDRESS = "172.31.254.1/24"


class Unavailable(Exception):
    """A service cannot run on this machine; the message says what is missing."""


@contextmanager
def registry() -> Iterator[str]:
    """distribution's registry on 127.0.0.1:PORT (lab/loopback_registry.py); yields
    `127.0.0.1:PORT`."""
    if shutil.which("docker-registry") is None:
        raise Unavailable("no docker-registry (Debian's package docker-registry)")
    with loopback_registry.running() as address:
        yield address


@contextmanager
def second_engine(disk: str | None = None) -> Iterator[dict[str, str]]:
    """A second dockerd beside the first; yields the environment that points `docker` (and
    so `invoke`) at it: {"DOCKER_HOST": "unix://..."}. DISK (`400m`) gives it a disk of
    that size (a tmpfs), to see what a full one does."""
    if os.geteuid() != 0:
        raise Unavailable("a second engine needs root")
    dockerd, ip = shutil.which("dockerd"), shutil.which("ip")
    if dockerd is None or ip is None:
        raise Unavailable("a second engine needs dockerd and ip (iproute2)")
    home = Path(tempfile.mkdtemp(prefix="lab-engine2-"))
    if disk:
        subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={disk}", "tmpfs", str(home)],
                       check=True, capture_output=True)  # fmt: skip
    socket_path = home / "docker.sock"
    env = {"DOCKER_HOST": f"unix://{socket_path}"}
    make_bridge(ip)
    log = home / "dockerd.log"
    with open(log, "w") as out:
        process = subprocess.Popen(
            [
                dockerd, "--data-root", str(home / "root"), "--exec-root", str(home / "exec"),
                "--pidfile", str(home / "docker.pid"), "--host", env["DOCKER_HOST"],
                f"--bridge={SECOND_BRIDGE}", "--iptables=false", "--ip-masq=false",
                "--containerd-namespace", "lab-engine2",
                "--containerd-plugins-namespace", "lab-engine2-plugins",
            ],
            stdout=out, stderr=out, start_new_session=True,
        )  # fmt: skip
    try:
        wait_for(lambda: engine_answers(env), "the second engine", 60, log)
        yield env
    finally:
        stop(process)
        subprocess.run([ip, "link", "delete", SECOND_BRIDGE], capture_output=True)
        remove_data(home)


def make_bridge(ip: str) -> None:
    subprocess.run([ip, "link", "delete", SECOND_BRIDGE], capture_output=True)  # a stale one
    for args in (
        ["link", "add", SECOND_BRIDGE, "type", "bridge"],
        ["addr", "add", SECOND_BRIDGE_ADDRESS, "dev", SECOND_BRIDGE],
        ["link", "set", SECOND_BRIDGE, "up"],
    ):
        subprocess.run([ip, *args], check=True, capture_output=True)


def engine_answers(env: dict[str, str]) -> bool:
    done = subprocess.run(
        ["docker", "info", "--format", "{{.ServerVersion}}"],
        env={**os.environ, **env}, capture_output=True, check=False,
    )  # fmt: skip
    return done.returncode == 0


def remove_data(home: Path) -> None:
    """The engine's data; an overlay mount it left behind is unmounted first."""
    targets: list[str] = []
    with suppress(OSError), open("/proc/mounts") as mounts:
        targets = [line.split()[1] for line in mounts if line.split()[1].startswith(str(home))]
    for target in sorted(targets, reverse=True):  # the deepest first, the tmpfs last
        subprocess.run(["umount", "-l", target], capture_output=True)
    shutil.rmtree(home, ignore_errors=True)
