"""The real services a classroom test needs, started and stopped by the test itself:
distribution's registry (Debian's `docker-registry`) on a loopback port, and a second
Docker engine (a student's machine) with its own data, exec root, socket, config file and
bridge, on the classic image store or the containerd one; or a student's Podman, its Docker
API service with a store of its own.

Both are context managers: whatever happens inside, the process is stopped by its pid and
its data removed. bench/classroom.py uses them too.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

from lab.engine import loopback_registry
from lab.engine.loopback_registry import stop, wait_for
from lab.images import identity

# A bridge of its own: `--bridge=none` would take the first engine's docker0 away. One per
# kind of engine, since a test may hold two (a student's, and one with a small disk).
BRIDGES = {
    "classic": ("labd2", "172.31.254.1/24"),
    "containerd": ("labd3", "172.31.253.1/24"),
    "disk": ("labd4", "172.31.252.1/24"),
}
# Debian 12's engine (20.10) has no containerd image store: scripts/install-test-tools.sh
# puts Debian 13's dockerd (26.1) here, beside (never over) the system's.
TEST_ENGINE_DIR = Path(os.environ.get("LAB_TEST_ENGINE_DIR", "/opt/lab-test-engine"))
STORES = ("classic", "containerd")
# A student's Podman (Debian's podman): scripts/install-test-tools.sh names this registry as
# insecure in a file under PODMAN_ETC/registries.conf.d, since Podman trusts no plain-HTTP
# registry, not even on loopback; the Podman tests' registry listens there.
PODMAN_REGISTRY = os.environ.get("LAB_TEST_PODMAN_REGISTRY", "127.0.0.1:5055")
PODMAN_SOCKET = Path("/run/lab-test-podman/podman.sock")
PODMAN_ETC = Path(os.environ.get("LAB_PODMAN_ETC", "/etc/containers"))


class Unavailable(Exception):
    """A service cannot run on this machine; the message says what is missing."""


@contextmanager
def registry() -> Iterator[str]:
    """distribution's registry on 127.0.0.1:PORT (lab/engine/loopback_registry.py); yields
    `127.0.0.1:PORT`."""
    if shutil.which("docker-registry") is None:
        raise Unavailable("no docker-registry (Debian's package docker-registry)")
    with loopback_registry.running() as address:
        yield address


@contextmanager
def registry_at(address: str) -> Iterator[str]:
    """registry() on ADDRESS (an engine's settings name it), which must be free."""
    host, _, port = address.rpartition(":")
    with socket.socket() as probe:
        try:
            probe.bind((host, int(port)))
        except OSError as error:
            raise Unavailable(f"{address} is taken ({error.strerror}): "
                              "LAB_TEST_PODMAN_REGISTRY moves it") from None  # fmt: skip
    if shutil.which("docker-registry") is None:
        raise Unavailable("no docker-registry (Debian's package docker-registry)")
    with loopback_registry.running(address) as running:
        yield running


@contextmanager
def podman_engine(registry: str) -> Iterator[dict[str, str]]:
    """Podman's Docker API as a student serves it (`podman system service --time=0`: without
    it the service leaves after 5 s idle) at PODMAN_SOCKET, its folder made first; yields
    the environment that points `docker` and `invoke` at it. Its images and state are in a
    folder of its own (--root, --runroot, --tmpdir), removed at the end: the machine's own
    Podman store is left alone. REGISTRY must be one Podman takes as insecure."""
    if os.geteuid() != 0:
        raise Unavailable("the Podman student needs root (rootful Podman, as the issue's)")
    podman = shutil.which("podman")
    if podman is None:
        raise Unavailable("no podman (Debian's package podman)")
    home = Path(tempfile.mkdtemp(prefix="lab-podman-"))
    store = ["--root", str(home / "root"), "--runroot", str(home / "run"),
             "--tmpdir", str(home / "tmp")]  # fmt: skip
    try:
        require_insecure(podman, store, registry)
    except Unavailable:
        remove_data(home)  # what `podman info` made there
        raise
    PODMAN_SOCKET.parent.mkdir(parents=True, exist_ok=True)
    PODMAN_SOCKET.unlink(missing_ok=True)  # one a killed run left
    env = {"DOCKER_HOST": f"unix://{PODMAN_SOCKET}"}
    log = home / "podman.log"
    with open(log, "w") as out:
        process = subprocess.Popen(
            [podman, *store, "system", "service", "--time=0", env["DOCKER_HOST"]],
            stdout=out, stderr=out, start_new_session=True,
        )  # fmt: skip
    try:
        wait_for(lambda: engine_answers(env), "Podman's service", 60, log)
        yield env
    finally:
        stop(process)
        shutil.rmtree(PODMAN_SOCKET.parent, ignore_errors=True)
        remove_data(home)


def require_insecure(podman: str, store: list[str], registry: str) -> None:
    """Podman's own word (`podman info`) that it pulls from REGISTRY over plain HTTP."""
    done = subprocess.run([podman, *store, "info", "--format", "{{json .Registries}}"],
                          capture_output=True, text=True, check=False)  # fmt: skip
    try:
        entry = json.loads(done.stdout or "{}").get(registry) or {}
    except (json.JSONDecodeError, AttributeError):
        entry = {}
    if not (isinstance(entry, dict) and entry.get("Insecure")):
        raise Unavailable(
            f"Podman does not take {registry} as an insecure registry (no [[registry]] entry"
            f" with insecure = true under {PODMAN_ETC}/registries.conf.d)"
        )


@contextmanager
def second_engine(disk: str | None = None, store: str = "classic") -> Iterator[dict[str, str]]:
    """A second dockerd beside the first; yields the environment that points `docker` (and
    so `invoke`) at it: {"DOCKER_HOST": "unix://..."}. DISK (`400m`) gives it a disk of
    that size (a tmpfs), to see what a full one does. STORE "containerd": Debian 13's
    dockerd with the containerd image store (Docker 29's and Docker Desktop's default)."""
    if os.geteuid() != 0:
        raise Unavailable("a second engine needs root")
    dockerd, ip = engine_binary(store), shutil.which("ip")
    if ip is None:
        raise Unavailable("a second engine needs ip (iproute2)")
    home = Path(tempfile.mkdtemp(prefix="lab-engine2-"))
    if disk:
        subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={disk}", "tmpfs", str(home)],
                       check=True, capture_output=True)  # fmt: skip
    env = {"DOCKER_HOST": f"unix://{home / 'docker.sock'}"}
    bridge = BRIDGES["disk" if disk else store]
    make_bridge(ip, *bridge)
    log = home / "dockerd.log"
    with open(log, "w") as out:
        process = subprocess.Popen(
            engine_argv(dockerd, home, env["DOCKER_HOST"], store, bridge[0]),
            stdout=out, stderr=out, env=engine_environment(dockerd), start_new_session=True,
        )  # fmt: skip
    try:
        wait_for(lambda: engine_answers(env), "the second engine", 60, log)
        require_store(env, store)
        yield env
    finally:
        stop(process)
        subprocess.run([ip, "link", "delete", bridge[0]], capture_output=True)
        remove_data(home)


def engine_binary(store: str) -> str:
    """The dockerd that gives STORE: the system's for classic, Debian 13's for containerd."""
    if store not in STORES:
        raise ValueError(f"store {store!r}: one of {STORES}")
    if store == "classic":
        found = shutil.which("dockerd")
        if found is None:
            raise Unavailable("a second engine needs dockerd")
        return found
    found = TEST_ENGINE_DIR / "dockerd"
    if not os.access(found, os.X_OK):
        raise Unavailable(f"no {found} (Debian 13's dockerd, for the containerd image store)")
    return str(found)


def engine_argv(dockerd: str, home: Path, host: str, store: str, bridge: str) -> list[str]:
    argv = [
        dockerd, "--data-root", str(home / "root"), "--exec-root", str(home / "exec"),
        "--pidfile", str(home / "docker.pid"), "--host", host,
        f"--bridge={bridge}", "--iptables=false", "--ip-masq=false",
        "--containerd-namespace", "lab-engine2",
        "--containerd-plugins-namespace", "lab-engine2-plugins",
    ]  # fmt: skip
    # Its own config file always: /etc/docker/daemon.json is the first engine's.
    config = home / "daemon.json"
    features = {"containerd-snapshotter": True} if store == "containerd" else {}
    config.write_text(json.dumps({"features": features}))
    return [*argv, "--config-file", str(config)]


def engine_environment(dockerd: str) -> dict[str, str]:
    """dockerd runs the docker-proxy it finds first on PATH: its own, beside it."""
    return {**os.environ, "PATH": f"{Path(dockerd).parent}:{os.environ.get('PATH', '')}"}


def require_store(env: dict[str, str], store: str) -> None:
    """The engine keeps its images where STORE says (a dockerd may ignore the feature)."""
    done = subprocess.run(
        ["docker", "info", "--format", "{{json .DriverStatus}}"],
        env={**os.environ, **env}, capture_output=True, text=True, check=True,
    )  # fmt: skip
    on_containerd = identity.containerd_store({"DriverStatus": json.loads(done.stdout)})
    if on_containerd != (store == "containerd"):
        raise RuntimeError(f"the second engine's image store is not {store}: {done.stdout}")


def make_bridge(ip: str, name: str, address: str) -> None:
    subprocess.run([ip, "link", "delete", name], capture_output=True)  # a stale one
    for args in (
        ["link", "add", name, "type", "bridge"],
        ["addr", "add", address, "dev", name],
        ["link", "set", name, "up"],
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
