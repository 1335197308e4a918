"""Run commands in the lab's containers through compose.yaml's services.

invoke never restates mounts, users, privileges or limits: compose.yaml holds them
(non-root, every capability dropped, no new privileges, no network, memory, process and
CPU limits), so `invoke station` and `docker compose run --rm ft` start the same kind of
container. `invoke shell` adds compose.shell.yaml: the network, results/ and the host's
CA bundle. What invoke adds per run is the run's own folder, a name and labels.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import cache
from pathlib import Path
from typing import IO

from lab.config import ROOT, Variant, cache_dir, image_platform, results_dir
from lab.engine import docker, signals
from lab.engine import labels as lab_labels
from lab.errors import LabError
from lab.files import write_atomically
from lab.images import identity, platforms
from lab.run import safe_files
from lab.run.stations import stations_dir

COMPOSE_SHELL_FILE = ROOT / "compose.shell.yaml"
SHELL_CA = "/etc/lab/host-ca.crt"  # where the shell sees the host's CA bundle
SHELL_CA_COPY = ROOT / ".lab" / "shell-ca.crt"  # the bundle as a dev container hands it on


def require_image(variant: Variant) -> None:
    if is_built(variant):
        return
    platform = image_platform()
    if not platform:
        raise LabError(
            f"image {variant.image} is not built: run `invoke images --variant {variant.name}`"
        )
    raise LabError(  # another platform's, asked for by `invoke station --platform`
        f"image {variant.image} is not here: `invoke pull --platform {platform}` gets a class's,"
        f" `invoke images --platform {platform} --variant {variant.name}` builds it"
    )


def is_built(variant: Variant) -> bool:
    docker.require_engine()
    return docker.image_labels(variant.image) is not None


def image_ids(variants: Sequence[Variant]) -> dict[str, str]:
    """{variant: short image ID}, in one call to the engine; one line for the first missing."""
    if not variants:
        return {}
    images = [v.image for v in variants]
    out = docker.docker(["image", "inspect", "--format", "{{.Id}}", *images], check=False)
    ids = [docker.short_id(image_id) for image_id in out.split()]
    if len(ids) != len(images):  # no engine, or an image is missing: say which, as ever
        for variant in variants:
            require_image(variant)
        ids = [docker.image_id(image) for image in images]
    return {v.name: image_id for v, image_id in zip(variants, ids, strict=True)}


def emulated(variants: Sequence[Variant]) -> dict[str, str]:
    """{variant: why} for the images this engine runs under emulation (an arm64 image on an
    x86-64 engine, as `invoke images --platform` builds): their timings say nothing about the
    machine. One call for the images, one for the engine."""
    if not variants:
        return {}
    out = docker.docker(
        ["image", "inspect", "--format", "{{.Os}}/{{.Architecture}}", *(v.image for v in variants)]
    )
    engine = identity.engine_platform()
    notes = {
        v.name: platforms.emulation_note(platform, engine)
        for v, platform in zip(variants, out.split(), strict=True)
    }
    return {name: note for name, note in notes.items() if note}


@cache
def engine_gpu() -> docker.GpuAccess | None:
    """How this engine gives containers an NVIDIA GPU, or None (asked once per run)."""
    return docker.gpu_runtime()


def with_gpu(variant: Variant) -> bool:
    """Whether VARIANT's containers get the host's GPUs: it wants them and the engine can."""
    return variant.gpu and engine_gpu() is not None


def device_note(variant: Variant) -> str | None:
    """The one line that says a GPU image runs on the CPU here, and why; None otherwise."""
    if not variant.gpu or with_gpu(variant):
        return None
    return (
        f"{variant.image} runs on the CPU: this engine gives containers no NVIDIA GPU "
        "(no nvidia runtime or CDI spec for it); GPU-only experiments are skipped"
    )


# -- limits: fitted to the machine ---------------------------------------------------------
@cache
def engine_machine() -> tuple[int, int]:
    """(CPUs, bytes of memory) of the machine the engine runs containers on: this one, or
    Docker Desktop's VM, which may have less of both. Asked once per run."""
    out = docker.docker(["info", "--format", "{{.NCPU}} {{.MemTotal}}"], check=False).split()
    if len(out) == 2 and all(part.isdigit() for part in out):
        return int(out[0]), int(out[1])
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return cpus or 1, os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


DEFAULT_DISK_LIMIT = "1g"


def limits() -> dict[str, str]:
    """compose.yaml's limits for this machine (LAB_MEMORY_LIMIT etc. set by hand win).

    Memory: three quarters of the machine's (what is left keeps it alive when an
    experiment runs away), for all the lab's containers together (memory_share); processes:
    512, or 64 a core on big machines (station 3 starts two workers a core, each with
    threads); CPUs: all of them (station 3 measures scaling on every core: a quota below
    that would bend its figures); disk: 1 GiB for a run's folder, and for each container's
    /tmp.
    """
    cpus, memory = engine_machine()
    computed = {
        "LAB_MEMORY_LIMIT": f"{max(memory * 3 // 4 // 2**20, 1024)}m",
        "LAB_PIDS_LIMIT": str(max(512, 64 * cpus)),
        "LAB_CPUS": str(cpus),
        "LAB_DISK_LIMIT": DEFAULT_DISK_LIMIT,
    }
    return {key: os.environ.get(key) or value for key, value in computed.items()}


UNITS = {"": 1, "b": 1, "k": 2**10, "m": 2**20, "g": 2**30, "t": 2**40}


def size_bytes(text: str, name: str) -> int:
    """A size as docker writes it (`512m`, `1g`, `1048576`) in bytes; one line if not."""
    number, unit = text.strip().lower().rstrip("ib"), ""
    if number and number[-1] in UNITS:
        number, unit = number[:-1], number[-1]
    if not number.isdigit() or int(number) == 0:
        raise LabError(f"{name}={text!r} is not a size such as 512m or 2g")
    return int(number) * UNITS[unit]


def disk_limit() -> int:
    """What a run's folder may hold (LAB_DISK_LIMIT), in bytes."""
    return size_bytes(limits()["LAB_DISK_LIMIT"], "LAB_DISK_LIMIT")


# -- memory: one budget for every station run's containers at once ------------------------
MIN_SHARE = 256 * 2**20  # below this a container is of no use to any station


def held_by_other_runs(run_id: str) -> int:
    """The memory limits of the lab's running station containers that are not RUN_ID's."""
    ids = docker.labelled(lab_labels.RUN, stopped=False)
    if not ids:
        return 0
    fields = '{{index .Config.Labels "' + lab_labels.RUN + '"}} {{.HostConfig.Memory}}'
    out = docker.docker(["inspect", "--format", fields, *ids], check=False)
    held = 0
    for line in out.splitlines():
        run, _, memory = line.rpartition(" ")
        if run != run_id and memory.isdigit():
            held += int(memory)
    return held


MEMORY_WAIT = 600.0  # seconds a run waits for others to leave it memory


@contextmanager
def memory_share(run_id: str, count: int) -> Iterator[int]:
    """Bytes of memory for each of a run's COUNT containers: the lab's budget
    (LAB_MEMORY_LIMIT, three quarters of the machine) less what other runs' containers
    hold, split evenly, so that runs at once cannot together exceed the machine. While
    other runs leave too little, the run waits for them (one line says so).

    Held under a lock (in the user's cache folder) until the caller's containers exist,
    so that two runs starting together do not both count the same free memory.
    """

    budget = size_bytes(limits()["LAB_MEMORY_LIMIT"], "LAB_MEMORY_LIMIT")
    folder = cache_dir()
    folder.mkdir(parents=True, exist_ok=True)
    waited_since = None
    while True:
        fd = os.open(folder / "memory.lock", os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            others = held_by_other_runs(run_id)
            share = (budget - others) // max(count, 1)
            if not others or share >= MIN_SHARE:
                yield share
                return
        finally:
            os.close(fd)
        waited_since = waited_since or _say_waiting(others, budget)
        if time.monotonic() - waited_since > MEMORY_WAIT:
            raise LabError(
                f"other station runs still hold {others / 2**30:.1f} GiB of the lab's memory "
                f"budget of {budget / 2**30:.1f} GiB (LAB_MEMORY_LIMIT) after "
                f"{MEMORY_WAIT:.0f} s: try again when they are done"
            )
        time.sleep(1)


def _say_waiting(others: int, budget: int) -> float:
    print(
        f"lab: waiting for other station runs: they hold {others / 2**30:.1f} GiB of the "
        f"lab's memory budget of {budget / 2**30:.1f} GiB (LAB_MEMORY_LIMIT)",
        file=sys.stderr,
        flush=True,
    )
    return time.monotonic()


# -- names and labels: what a signal or the next run finds and removes --------------------
def container_name(labels: dict[str, str], variant: Variant, purpose: str = "run") -> str:
    """A name unique to the run: lab-<run id>-<variant>-<purpose>[-n]."""
    base = f"lab-{labels.get(lab_labels.RUN, 'x')}-{variant.name}-{purpose}"
    return re.sub(r"[^a-zA-Z0-9_.-]", "-", base)


@contextmanager
def writable_results() -> Iterator[Path]:
    """The results folder, writable by the shell's user, owned by the invoker afterwards."""
    folder = results_dir()
    fd = safe_files.open_root(folder)
    os.close(fd)
    lend(folder)
    try:
        yield folder
    finally:
        with signals.shielded():
            hand_back(folder)


def lend(folder: Path) -> None:
    """Containers never run as root: when root invokes, lend FOLDER to the container's user."""
    if docker.hands_back():
        os.lchown(folder, *docker.host_ids())


def hand_back(folder: Path) -> None:
    """Give what the containers wrote back to the invoking user (a no-op unless root
    invokes a rootful Linux engine: docker.hands_back).

    Links are changed, never followed. Another run's `<time>.partial` folder is left
    alone: that run is still writing there, and hands it back itself when it finishes.
    """
    if not docker.hands_back():
        return
    parent = os.open(folder.parent, safe_files.DIR_FLAGS & ~os.O_NOFOLLOW)
    try:
        safe_files.chown_tree(parent, folder.name, os.getuid(), os.getgid(), ".partial")
    finally:
        os.close(parent)


def run_command(
    variant: Variant,
    command: Sequence[str],
    *,
    capabilities: Sequence[str] = (),
    env: dict[str, str] | None = None,
    tty: bool | None = None,
    name: str | None = None,
    labels: dict[str, str] | None = None,
    volumes: Sequence[tuple[Path, str, str]] = (),
    shell: bool = False,
) -> list[str]:
    """The `docker compose run` line for COMMAND in VARIANT's service."""
    args = ["run", "--rm"]
    if not (sys.stdin.isatty() if tty is None else tty):
        args.append("-T")
    if name:
        args += ["--name", name]
    for key, value in (labels or {}).items():
        args += ["--label", f"{key}={value}"]
    for host, inside, mode in volumes:
        if ":" in str(host):
            raise LabError(f"{host}: a folder with `:` in its name cannot be mounted")
        args += ["--volume", f"{docker.engine_path(host)}:{inside}:{mode}"]
    for capability in capabilities:
        args += ["--cap-add", capability]
    for key, value in (env or {}).items():
        args += ["-e", f"{key}={value}"]
    gpu = engine_gpu() if with_gpu(variant) else None
    compose = docker.compose_command([*args, variant.service, *command], gpu=gpu)
    if shell:  # after compose.yaml's -f (and compose.gpu.yaml's): the shell's additions
        at = compose.index(variant.service) - len(args)
        compose[at:at] = ["-f", str(COMPOSE_SHELL_FILE)]
    return compose


def env(extra: dict[str, str] | None = None) -> dict[str, str]:
    return docker.compose_env(
        {
            "LAB_RESULTS": docker.engine_path(results_dir()),
            "LAB_STATIONS": docker.engine_path(stations_dir()),
            **limits(),
            **(extra or {}),
        }
    )


def shell_env() -> dict[str, str]:
    """The shell keeps the network: it gets the host's CA bundle (a proxy's CA included)."""
    bundle = shell_ca()
    if bundle is None:
        return env()
    return env({"LAB_HOST_CA": bundle, "LAB_SHELL_CA": SHELL_CA})


def shell_ca() -> str | None:
    """The CA bundle as the engine sees it, for the shell's mount; None: there is none.

    In a dev container (LAB_HOST_ROOT set) the engine mounts from the host, where the dev
    container's bundle does not exist (the engine would make an empty folder there), so
    the bundle is copied into the workspace, which both sides see.
    """
    from lab.images.builder import extra_ca

    bundle = extra_ca()
    if bundle == "/dev/null":
        return None
    if not os.environ.get("LAB_HOST_ROOT"):
        return bundle
    SHELL_CA_COPY.parent.mkdir(exist_ok=True)
    # Whole (a shell starting meanwhile never sees half of it), 0644: the shell's user reads it.
    with open(bundle, "rb") as source:
        write_atomically(SHELL_CA_COPY, lambda out: shutil.copyfileobj(source, out))
    return docker.engine_path(SHELL_CA_COPY)


def interactive(variant: Variant, command: Sequence[str] = ("bash",)) -> int:
    """Run COMMAND with the terminal attached (invoke shell); returns its exit code.

    Compose's stderr reaches the terminal through relay(), which keeps its last lines: where
    the shell failed and they name the engine (Podman's missing catatonit), one `lab:` line
    says what to do, in docker.engine_fault_line's words.

    SIGTERM or SIGHUP (and SIGINT where no terminal takes Ctrl-C itself) removes the
    container and raises signals.Interrupted.
    """
    require_image(variant)
    note = device_note(variant)
    if note:
        print(f"lab: {note}", file=sys.stderr, flush=True)
    name = container_name({lab_labels.RUN: os.urandom(6).hex()}, variant, "shell")
    argv = run_command(variant, command, name=name, labels={lab_labels.SHELL: "1"}, shell=True)
    said = bytearray()  # the tail of compose's stderr, which the user sees as it comes
    with writable_results(), signals.interruptible():
        process = subprocess.Popen(argv, env=shell_env(), stderr=subprocess.PIPE)
        assert process.stderr is not None  # a PIPE
        relaying = relay(process.stderr, said)
        try:
            code = process.wait()
        except signals.Interrupted as stop:
            with signals.shielded():
                docker.remove(name)
                process.wait()
            stop.stopped.append(f"removed the shell's container {name}")
            raise
    relaying.join(timeout=5)
    line = docker.error_line(bytes(said))
    if code and docker.names_the_engine(line):  # the shell never started: say what to do
        print(
            f"lab: the engine could not start the shell: {docker.engine_fault_line(line)}",
            file=sys.stderr,
            flush=True,
        )
    return code


RELAY_TAIL = 64 << 10  # bytes of a child's stderr kept: its last lines say why it failed


def relay(stream: IO[bytes], tail: bytearray) -> threading.Thread:
    """Copy STREAM (a child's stderr) to ours as it comes, keeping its last bytes in TAIL.
    Our stderr closed, the copy goes on: a child blocked on a full pipe would never end."""

    def copy() -> None:
        for chunk in iter(lambda: os.read(stream.fileno(), 65536), b""):
            with contextlib.suppress(OSError):
                os.write(2, chunk)
            tail[:] = (tail + chunk)[-RELAY_TAIL:]
        stream.close()

    relaying = threading.Thread(target=copy, daemon=True)
    relaying.start()
    return relaying
