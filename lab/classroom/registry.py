"""`invoke publish` and `invoke pull`: build once, then every machine fetches the same bytes.

publish pushes the built images to an OCI registry and writes lab.lock (lab/classroom/lockfile.py),
with each image's manifest digest, config digest and rootfs identity; pull fetches exactly
the digests the lock names, checks each rootfs identity and config, and only then tags them
under the names compose.yaml runs. Nothing is compiled on a student's machine.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import pty
import re
import selectors
import struct
import subprocess
import termios
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from lab import progress
from lab.classroom import facts, lockfile
from lab.classroom.lockfile import LockedImage
from lab.config import ALL_VARIANTS, Variant
from lab.config import variant as lookup_variant
from lab.engine import docker
from lab.errors import LabError
from lab.images import identity, platforms

if TYPE_CHECKING:
    from _typeshed import FileDescriptorLike

# HOST[:PORT][/PREFIX]: what goes before `/lab-cpython:stock` in a pushed image's name.
REGISTRY_NAME = re.compile(r"^[A-Za-z0-9.-]+(:[0-9]{1,5})?(/[a-z0-9]+([._/-][a-z0-9]+)*)?$")
PUSHED_DIGEST = re.compile(r"digest: (sha256:[0-9a-f]{64})")
UNREACHABLE = ("connection refused", "no such host", "i/o timeout", "dial tcp", "timeout")
ABSENT = ("manifest unknown", "not found", "name unknown", "does not exist")
TRANSFER_TIMEOUT = 3600  # seconds: several GB over a slow classroom link
WAYS_OUT = "load a bundle instead (`invoke load BUNDLE`) or build here (`invoke images`)"


def check_registry_name(registry: str) -> str:
    if not REGISTRY_NAME.match(registry):
        raise LabError(
            f"registry {registry!r} is not HOST[:PORT][/PREFIX] "
            "(e.g. 127.0.0.1:5000/class or registry.example.edu/cpython-lab, no http://)"
        )
    return registry


def chosen_variants(names: str | None, platform: str = "", engine: str = "") -> list[Variant]:
    """The variants named (comma-separated), or every image of the lab that is built here
    (for PLATFORM, on an ENGINE of its own: see local_name)."""
    if names:
        return [lookup_variant(name.strip()) for name in names.split(",") if name.strip()]
    built = [v for v in ALL_VARIANTS.values() if identity.inspect(local_name(v, platform, engine))]
    if not built:
        raise LabError("no image of the lab is built here: run `invoke images` first")
    return built


def local_name(variant: Variant, platform: str, engine: str) -> str:
    """VARIANT's local name for PLATFORM: its own on the ENGINE's platform (or none named),
    else `lab-cpython:stock-linux-arm64`."""
    return platforms.local_tag(variant.image, platform, engine) if platform else variant.image


def chosen_platforms(asked: str | None) -> list[str]:
    """The platforms to publish (`linux/amd64,linux/arm64`): the engine's where none is named."""
    if not asked:
        return [identity.engine_platform()]
    return sorted({platforms.parse(p.strip()) for p in asked.split(",") if p.strip()})


def publish(
    registry: str,
    names: str | None,
    lock_path: Path,
    asked_platforms: str | None = None,
    append: bool = False,
) -> lockfile.Lock:
    """Push each chosen image of each platform to REGISTRY, one index per variant over its
    platforms, then write the lock that names what was pushed. APPEND: add these platforms
    to LOCK_PATH's (another machine's), which must name the same registry."""
    docker.require_engine()
    check_registry_name(registry)
    old = appended_to(lock_path, registry) if append else None
    wanted, engine = chosen_platforms(asked_platforms), identity.engine_platform()
    pushed: dict[str, dict[str, LockedImage]] = {}
    for platform in wanted:
        for variant in chosen_variants(names, platform, engine):
            entry = push_platform(variant, platform, engine, registry)
            pushed.setdefault(variant.name, {})[platform] = entry
    lock = lockfile.Lock(registry, pushed)
    lock = with_indexes(lockfile.merged(old, lock) if old else lock)
    lockfile.write_lock(lock, lock_path)
    return lock


def appended_to(lock_path: Path, registry: str) -> lockfile.Lock:
    """The lock --append adds to: it must name REGISTRY, where the other platforms are."""
    old = lockfile.read_all(lock_path)
    if old.registry != registry:
        raise LabError(
            f"--append: {lock_path} names the registry {old.registry}, not {registry}: "
            "a class's platforms are published to one registry"
        )
    return old


def push_platform(variant: Variant, platform: str, engine: str, registry: str) -> LockedImage:
    """Push VARIANT's PLATFORM image as REPOSITORY:TAG-OS-ARCH; its lock entry, under the
    name compose.yaml runs."""
    name = local_name(variant, platform, engine)
    local = facts.built_image(variant, name)  # its config digest too
    if not identity.runs_on(local.platform, platform):
        raise LabError(
            f"{name} is a {local.platform} image, not {platform}: "
            f"`invoke images --platform {platform}` builds it"
        )
    repository = f"{registry}/{variant.image.split(':')[0]}"
    tag = platforms.platform_tag(variant.image.split(":")[1], platform)
    digest = push(name, f"{repository}:{tag}", registry)
    return replace(local, platform=platform, repository=repository, digest=digest)


def with_indexes(lock: lockfile.Lock) -> lockfile.Lock:
    """LOCK with each variant's index (REPOSITORY:TAG), made in the registry over every
    platform's manifest digest. `docker buildx imagetools create` writes it registry to
    registry (no image is pulled), and reaches a plain-HTTP registry on loopback."""
    images = {}
    for name, entries in lock.images.items():
        first = next(iter(entries.values()))
        sources = [e.reference for _, e in sorted(entries.items())]
        index = make_index(f"{first.repository}:{first.image.split(':')[1]}", sources)
        images[name] = {p: replace(e, index=index) for p, e in entries.items()}
    return lockfile.Lock(lock.registry, images)


def make_index(target: str, sources: list[str]) -> str:
    """Push an index of SOURCES (repository@digest) as TARGET; its digest, read back."""
    try:
        docker.docker(["buildx", "imagetools", "create", "-t", target, "--", *sources], timeout=600)
        raw = docker.docker(["buildx", "imagetools", "inspect", "--raw", "--", target])
    except LabError as error:
        raise LabError(
            f"could not push the index {target} ({error}): it needs "
            "`docker buildx` (Debian's docker-buildx package)"
        ) from None
    listed = {m.get("digest") for m in json.loads(raw).get("manifests", [])}
    if listed != {s.split("@")[1] for s in sources}:
        raise LabError(f"the index {target} lists other manifests than those pushed")
    digest = "sha256:" + hashlib.sha256(raw.encode()).hexdigest()
    print(f"[publish] {target}: index {digest} over {len(sources)} platform(s)", flush=True)
    return digest


def push(name: str, target: str, registry: str) -> str:
    """Push the local image NAME as TARGET; return the manifest digest the registry took."""
    docker.docker(["tag", "--", name, target])
    print(f"[publish] pushing {name} to {target}", flush=True)
    started = time.monotonic()
    try:
        done = transfer(["push", "--", target])
    finally:
        docker.docker(["rmi", "--", target], check=False)  # only the extra name goes
    if done.returncode != 0:
        reason = docker.error_line(done.stderr, done.stdout)
        hint = "is it running there, and may this machine push to it?"
        if "server gave HTTP response to HTTPS client" in reason:
            hint = "a registry off loopback needs TLS (README, For a classroom)"
        raise LabError(f"registry {registry} refused the push of {name}: {reason} ({hint})")
    found = PUSHED_DIGEST.search(done.stdout)
    if not found:
        said = docker.error_line(done.stderr, done.stdout)
        raise LabError(f"pushing {target} printed no digest: {said}")
    print(f"[publish] {target}: {found.group(1)} ({time.monotonic() - started:.0f} s)")
    return found.group(1)


def pull(lock_path: Path, platform: str | None = None) -> dict[str, LockedImage]:
    """Fetch every image LOCK names for PLATFORM (the engine's by default) by its manifest
    digest, verify it, then tag it under the lab's name (another platform's: its own tag)."""
    asked = platforms.parse(platform) if platform else None
    lock = lockfile.read_all(lock_path)  # checked whole, before the engine is asked anything
    docker.require_engine()
    engine = identity.engine_platform()
    locked = lock.select(asked or engine, str(lock_path))
    if not asked:
        check_platforms(locked.values(), f"{lock_path.name}")
    fetched: dict[str, str] = {}  # local name -> repository@digest, verified
    for name, entry in locked.items():
        local = local_name(lookup_locked(name, lock_path), entry.platform, engine)
        here = identity.inspect(local)
        if here is not None and here.rootfs == entry.rootfs and config_pinned(here, entry):
            print(f"[pull] {local} is already the locked image ({entry.rootfs[:19]})")
            continue
        fetched[local] = fetch(entry)
    for local, reference in fetched.items():  # every one verified: now they get their names
        docker.docker(["tag", "--", reference, local])
        print(f"[pull] {local} <- {reference}")
    return locked


def fetch(entry: LockedImage) -> str:
    reference = entry.reference
    registry = reference.split("/")[0]
    print(f"[pull] {reference}", flush=True)
    started = time.monotonic()
    done = transfer(["pull", "--", reference])  # `--`: a name, never an option
    if done.returncode != 0:
        reason = docker.error_line(done.stderr, done.stdout)
        if advice := docker.registry_advice(reason, registry):  # Podman: loopback is no exception
            raise LabError(f"pulling {reference} failed: {advice}")
        if any(word in reason.lower() for word in ABSENT):
            raise LabError(
                f"registry {registry} has no {reference}, which lab.lock names "
                f"(was it published there?): {WAYS_OUT}"
            )
        if any(word in reason.lower() for word in UNREACHABLE):
            raise LabError(f"registry {registry} does not answer ({reason}): {WAYS_OUT}")
        raise LabError(f"pulling {reference} failed: {reason}")
    got = identity.inspect(reference)
    if got is None or got.rootfs != entry.rootfs:
        docker.docker(["rmi", "--", reference], check=False)
        raise LabError(
            f"{reference} has rootfs {got.rootfs if got else 'none'}, not the locked "
            f"{entry.rootfs}: not tagged, removed"
        )
    if not config_pinned(got, entry):
        docker.docker(["rmi", "--", reference], check=False)
        raise LabError(
            f"{reference} has config {got.id}, not the locked {entry.config}: not tagged, removed"
        )
    print(f"[pull] {entry.variant}: verified in {time.monotonic() - started:.0f} s")
    return reference


def config_pinned(got: identity.ImageFacts, entry: LockedImage) -> bool:
    """Whether GOT's config is ENTRY's (True where the lock has none), without reading a
    blob. On the classic store the image ID is the config's digest. On the containerd store
    it is the digest of the manifest pulled, the lock's: the engine checked the config blob
    against that manifest as it pulled, so the manifest digest pins the config. (A lock
    whose digest were another image's config would be hostile, and could name any image.)"""
    return entry.config is None or got.id in (entry.config, entry.digest)


def check_platforms(entries: Iterable[LockedImage], source: str) -> None:
    """Refuse images this engine cannot run natively, before anything is fetched."""
    engine = identity.engine_platform()
    for entry in entries:
        if not identity.runs_on(entry.platform, engine):
            raise LabError(
                f"{source}'s {entry.variant} image is for {entry.platform}, and this engine runs "
                f"{engine}: ask for images of this platform, or build here (`invoke images`)"
            )


def lookup_locked(name: str, lock_path: Path) -> Variant:
    if name not in ALL_VARIANTS:
        raise LabError(f"{lock_path} names {name!r}, which is not an image of this lab")
    return ALL_VARIANTS[name]


# What the CLI draws for a layer on a terminal: `369e5f898841: Pushing [==>  ] 3.2MB/109.1MB`.
LAYER_BYTES = re.compile(
    r"([0-9a-f]{12}): (?:Pushing|Downloading)\s+(?:\[[=> ]*\]\s+)?"
    r"([0-9.]+[kMGTP]?B)(?:/([0-9.]+[kMGTP]?B))?"
)
LAYER_DONE = re.compile(r"([0-9a-f]{12}): (?:Pushed|Download complete|Pull complete)")
TERMINAL_MOVES = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
UNITS = {"B": 1, "kB": 1e3, "MB": 1e6, "GB": 1e9, "TB": 1e12, "PB": 1e15}


def byte_count(text: str) -> float:
    """`109.1MB` -> 109100000.0 (the CLI's decimal units)."""
    number = re.match(r"[0-9.]+", text)
    return float(number[0]) * UNITS[text[number.end() :]] if number else 0.0


@dataclass
class LayerBytes:
    """Each layer's bytes moved and its size, as the CLI's progress bars say them."""

    moved: dict[str, float] = field(default_factory=dict)
    sizes: dict[str, float] = field(default_factory=dict)
    partial: str = ""  # a line cut between two reads

    def feed(self, chunk: str) -> None:
        lines = re.split(r"[\r\n]", self.partial + TERMINAL_MOVES.sub("", chunk))
        self.partial = lines.pop()
        for line in lines:
            self.note(line)

    def note(self, line: str) -> None:
        if found := LAYER_BYTES.search(line):
            layer, moved = found[1], byte_count(found[2])
            self.moved[layer] = max(self.moved.get(layer, 0), moved)
            size = byte_count(found[3]) if found[3] else 0
            self.sizes[layer] = max(self.sizes.get(layer, 0), size, moved)
        elif (found := LAYER_DONE.search(line)) and found[1] in self.sizes:
            self.moved[found[1]] = self.sizes[found[1]]

    @property
    def done(self) -> float:
        return sum(self.moved.values())

    @property
    def total(self) -> float:
        return sum(self.sizes.values())


def transfer(args: list[str]) -> subprocess.CompletedProcess:
    """`docker push|pull -- NAME`, its bytes shown as they move: the CLI draws per-layer
    progress only on a terminal, so it gets one (a pseudo-terminal) and its bars are read
    back. The total grows as layers start: those already there are never sent."""
    pushing, name = args[0] == "push", args[-1]
    prefix, label = ("publish" if pushing else "pull"), short_name(name)
    expected = image_size(name) if pushing else 0  # a pull's sizes come as layers start
    reader, writer = pty.openpty()
    # Wide, so that the CLI never wraps a bar across two lines.
    fcntl.ioctl(writer, termios.TIOCSWINSZ, struct.pack("HHHH", 50, 400, 0, 0))
    try:
        with docker.popen(
            args,
            stdin=subprocess.DEVNULL,
            stdout=writer,
            stderr=subprocess.PIPE,
            env={**os.environ, "DOCKER_CLI_HINTS": "false"},  # a terminal gets no adverts
        ) as process:
            os.close(writer)
            work = progress.Work(label, "bytes", total=expected or None)
            with progress.Progress(work, prefix=prefix) as shown:
                said, errors = follow(args, process, reader, shown, expected)
                if process.returncode != 0:
                    shown.finish("failed")
    finally:
        os.close(reader)
    return subprocess.CompletedProcess(args, process.returncode, said, errors)


def follow(
    args: Sequence[str],
    process: subprocess.Popen[bytes],
    reader: int,
    shown: progress.Progress,
    expected: float = 0,
) -> tuple[str, str]:
    """Read the CLI's terminal (READER) and its stderr to the end, within TRANSFER_TIMEOUT;
    what each said, the terminal's as lines. ARGS: the CLI's (`push -- NAME`); EXPECTED: the
    total, where known before."""
    layers = LayerBytes()
    said: list[str] = []  # the terminal's chunks
    errors: list[str] = []  # stderr's
    assert process.stderr is not None  # a PIPE
    deadline = time.monotonic() + TRANSFER_TIMEOUT
    with selectors.DefaultSelector() as watching:
        watching.register(reader, selectors.EVENT_READ, said)
        watching.register(process.stderr, selectors.EVENT_READ, errors)
        while watching.get_map():
            if time.monotonic() > deadline:
                process.kill()
                raise LabError(f"`docker {' '.join(args)}` took over {TRANSFER_TIMEOUT} s")
            for key, _ in watching.select(timeout=1):
                chunk = read_some(key.fileobj)
                if not chunk:
                    watching.unregister(key.fileobj)
                    continue
                key.data.append(chunk)
                if key.data is said:
                    layers.feed(chunk)
                    shown.update(layers.done, max(layers.total, expected) or None)
    process.wait()
    text = TERMINAL_MOVES.sub("", "".join(said))
    return "\n".join(line for line in re.split(r"[\r\n]+", text) if line), "".join(errors)


def short_name(reference: str) -> str:
    """What a progress line calls a pushed or pulled image: its name without the registry,
    and a digest's first 12 digits (`lab-cpython@sha256:77260c22a5fe`)."""
    name = reference.rsplit("/", 1)[-1]
    repository, at, digest = name.partition("@sha256:")
    return f"{repository}@sha256:{digest[:12]}" if at else name


def image_size(reference: str) -> float:
    """The local image's size, as `docker push` counts its layers (0: not known)."""
    try:
        out = docker.docker(["image", "inspect", "--format", "{{.Size}}", "--", reference])
    except LabError:
        return 0
    return float(out.strip()) if out.strip().isdigit() else 0


def read_some(source: FileDescriptorLike) -> str:
    """What is there to read ("" at the end: on Linux a closed terminal reads as EIO)."""
    try:
        fd = source if isinstance(source, int) else source.fileno()
        return os.read(fd, 65536).decode(errors="replace")
    except OSError:
        return ""
