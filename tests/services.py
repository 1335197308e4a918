"""The real services a classroom test needs, started and stopped by the test itself:
distribution's registry (Debian's `docker-registry`) on a loopback port, and a second
Docker engine (a student's machine) with its own data, exec root, socket and bridge.

Both are context managers: whatever happens inside, the process is stopped by its pid and
its data removed. bench/classroom.py uses them too.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

# A bridge of its own: `--bridge=none` would take the first engine's docker0 away.
SECOND_BRIDGE = "labd2"
SECOND_BRIDGE_ADDRESS = "172.31.254.1/24"


class Unavailable(Exception):
    """A service cannot run on this machine; the message says what is missing."""


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(ready, what: str, seconds: float, log: Path) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if ready():
            return
        time.sleep(0.2)
    tail = log.read_text(errors="replace")[-1500:] if log.exists() else ""
    raise RuntimeError(f"{what} did not start within {seconds:.0f} s:\n{tail}")


def stop(process: subprocess.Popen, seconds: float = 30) -> None:
    """SIGTERM by pid, then SIGKILL if it lingers."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(seconds)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@contextmanager
def registry() -> Iterator[str]:
    """distribution's registry on 127.0.0.1:PORT (no TLS: engines trust loopback); yields
    `127.0.0.1:PORT`."""
    binary = shutil.which("docker-registry")
    if binary is None:
        raise Unavailable("no docker-registry (Debian's package docker-registry)")
    data = Path(tempfile.mkdtemp(prefix="lab-registry-"))
    address = f"127.0.0.1:{free_port()}"
    config = data / "config.yml"
    config.write_text(
        "version: 0.1\n"
        "log: {level: warn}\n"
        f"storage: {{filesystem: {{rootdirectory: {data / 'store'}}}, delete: {{enabled: true}}}}\n"
        f"http: {{addr: {address}}}\n"
    )
    log = data / "registry.log"
    with open(log, "w") as out:
        process = subprocess.Popen([binary, "serve", str(config)], stdout=out, stderr=out)
    try:
        wait_for(lambda: answers(f"http://{address}/v2/"), "the registry", 30, log)
        yield address
    finally:
        stop(process)
        shutil.rmtree(data, ignore_errors=True)


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


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
