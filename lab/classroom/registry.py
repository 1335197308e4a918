"""`invoke publish` and `invoke pull`: build once, then every machine fetches the same bytes.

publish pushes the built images to an OCI registry and writes lab.lock (lab/classroom/lockfile.py),
with each image's manifest digest, config digest and rootfs identity; pull fetches exactly
the digests the lock names, checks each rootfs identity and config, and only then tags them
under the names compose.yaml runs. Nothing is compiled on a student's machine.
"""

from __future__ import annotations

import re
import subprocess
import time
from dataclasses import replace
from pathlib import Path

from lab.classroom import facts, lockfile
from lab.classroom.lockfile import LockedImage
from lab.config import ALL_VARIANTS, Variant
from lab.config import variant as lookup_variant
from lab.engine import docker
from lab.errors import LabError
from lab.images import identity

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


def chosen_variants(names: str | None) -> list[Variant]:
    """The variants named (comma-separated), or every image of the lab that is built here."""
    if names:
        return [lookup_variant(name.strip()) for name in names.split(",") if name.strip()]
    built = [v for v in ALL_VARIANTS.values() if identity.inspect(v.image) is not None]
    if not built:
        raise LabError("no image of the lab is built here: run `invoke images` first")
    return built


def publish(registry: str, names: str | None, lock_path: Path) -> dict[str, LockedImage]:
    """Push each chosen image to REGISTRY, then write the lock that names what was pushed."""
    docker.require_engine()
    check_registry_name(registry)
    locked = {}
    for variant in chosen_variants(names):
        local = facts.built_image(variant)  # its config digest too
        repository = f"{registry}/{variant.image.split(':')[0]}"
        locked[variant.name] = replace(
            local, repository=repository, digest=push(variant, repository, registry)
        )
    lockfile.write(locked, registry, lock_path)
    return locked


def push(variant: Variant, repository: str, registry: str) -> str:
    """Push VARIANT's image as REPOSITORY:TAG; return the manifest digest the registry took."""
    target = f"{repository}:{variant.image.split(':')[1]}"
    docker.docker(["tag", "--", variant.image, target])
    print(f"[publish] pushing {variant.image} to {target}", flush=True)
    started = time.monotonic()
    try:
        done = transfer(["push", "--", target])
    finally:
        docker.docker(["rmi", "--", target], check=False)  # only the extra name goes
    if done.returncode != 0:
        reason = last_line(done)
        hint = "is it running there, and may this machine push to it?"
        if "server gave HTTP response to HTTPS client" in reason:
            hint = "a registry off loopback needs TLS (README, For a classroom)"
        raise LabError(
            f"registry {registry} refused the push of {variant.image}: {reason} ({hint})"
        )
    found = PUSHED_DIGEST.search(done.stdout)
    if not found:
        raise LabError(f"pushing {target} printed no digest: {last_line(done)}")
    print(f"[publish] {variant.name}: {found.group(1)} ({time.monotonic() - started:.0f} s)")
    return found.group(1)


def pull(lock_path: Path) -> dict[str, LockedImage]:
    """Fetch every image LOCK names by digest, verify it, then tag it under the lab's name."""
    locked = lockfile.read(lock_path)  # checked whole, before the engine is asked anything
    docker.require_engine()
    check_platforms(locked.values(), f"{lock_path.name}")
    fetched: dict[str, str] = {}  # variant -> repository@digest, verified
    for name, entry in locked.items():
        variant = lookup_locked(name, lock_path)
        here = identity.inspect(variant.image)
        if here is not None and here.rootfs == entry.rootfs and config_pinned(here, entry):
            print(f"[pull] {variant.image} is already the locked image ({entry.rootfs[:19]})")
            continue
        fetched[name] = fetch(entry)
    for name, reference in fetched.items():  # every one verified: now they get the lab's names
        docker.docker(["tag", "--", reference, ALL_VARIANTS[name].image])
        print(f"[pull] {ALL_VARIANTS[name].image} <- {reference}")
    return locked


def fetch(entry: LockedImage) -> str:
    reference = entry.reference
    registry = reference.split("/")[0]
    print(f"[pull] {reference}", flush=True)
    started = time.monotonic()
    done = transfer(["pull", "--", reference])  # `--`: a name, never an option
    if done.returncode != 0:
        reason = last_line(done)
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


def check_platforms(entries, source: str) -> None:
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


def transfer(args: list[str]) -> subprocess.CompletedProcess:
    try:
        return subprocess.run(
            ["docker", *args], capture_output=True, text=True, timeout=TRANSFER_TIMEOUT
        )
    except subprocess.TimeoutExpired:
        raise LabError(f"`docker {' '.join(args)}` took over {TRANSFER_TIMEOUT} s") from None


def last_line(done: subprocess.CompletedProcess) -> str:
    return (done.stderr.strip().splitlines() or done.stdout.strip().splitlines() or ["?"])[-1]
