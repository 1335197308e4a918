"""Images for another machine's architecture, built here under QEMU's user-mode emulation: an
instructor on x86-64 preparing arm64 images for Apple-silicon laptops and Graviton VMs.

The base of a foreign image is debootstrapped for that architecture (`bootstrap.sh ARCH`).
BuildKit in engines before 23 looks for a foreign FROM image in a registry, never in the local
image store, so for the length of the build the image each build starts FROM (the base, or
stock for the CUDA image) is served from a registry on loopback.
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from lab.config import IMAGE_PLATFORM_VAR, platform_suffix
from lab.engine import docker, loopback_registry
from lab.errors import LabError
from lab.images import identity

# Docker's architecture names, and the kernel's (which binfmt_misc's QEMU entries use).
KERNEL_ARCH = {"amd64": "x86_64", "arm64": "aarch64"}
BINFMT = Path("/proc/sys/fs/binfmt_misc")
EMULATION_FIX = "`sudo bash scripts/install-docker.sh --emulation` registers QEMU for it"


def parse(asked: str) -> str:
    """`linux/ARCH` from `linux/arm64`, `arm64` or `aarch64`; one line for anything else."""
    arch = asked.removeprefix("linux/").split("/")[0]
    arch = {kernel: docker for docker, kernel in KERNEL_ARCH.items()}.get(arch, arch)
    if arch not in KERNEL_ARCH:
        known = ", ".join(f"linux/{a}" for a in KERNEL_ARCH)
        raise LabError(f"--platform {asked}: the lab's images are built for {known}")
    return f"linux/{arch}"


def architecture(platform: str) -> str:
    return platform.split("/")[1]


def foreign(asked: str | None) -> str:
    """The platform ASKED names, where this engine does not run it natively; "" where none
    was asked for, or the engine's own was."""
    if not asked:
        return ""
    platform = parse(asked)
    return "" if identity.runs_on(platform, identity.engine_platform()) else platform


def run_images_of(asked: str | None) -> str | None:
    """For this process, the lab's image names (Variant.image, compose.yaml's) become ASKED
    platform's own tags, where `invoke images --platform` and `pull --platform` keep them,
    unless it is the engine's own. The platform, or None where none was asked for."""
    if not asked:
        return None
    platform = parse(asked)
    if not identity.runs_on(platform, identity.engine_platform()):
        require_emulation(platform)
        os.environ[IMAGE_PLATFORM_VAR] = platform
    return platform


def emulation_note(image_platform: str, engine_platform: str) -> str | None:
    """The one line saying a run is emulated (the image's architecture is not the engine's);
    None where it runs natively."""
    if not image_platform or identity.runs_on(image_platform, engine_platform):
        return None
    return f"a {image_platform} image on a {engine_platform} engine, under emulation"


def require_emulation(platform: str, binfmt: Path = BINFMT) -> None:
    """The kernel must hand this architecture's binaries to QEMU, with the F flag (the
    emulator opened at registration, so it works inside containers). Checked on Linux
    hosts only: Docker Desktop emulates inside its own VM."""
    if sys.platform != "linux":
        return
    entry = binfmt / f"qemu-{KERNEL_ARCH[architecture(platform)]}"
    try:
        lines = entry.read_text().splitlines()
    except OSError:
        raise LabError(f"this machine cannot run {platform} binaries: {EMULATION_FIX}") from None
    flags = next((line.split(":", 1)[1] for line in lines if line.startswith("flags:")), "")
    if lines[:1] != ["enabled"] or "F" not in flags:
        raise LabError(
            f"QEMU is registered for {platform} without the F flag, or disabled:"
            f" containers cannot use it; {EMULATION_FIX}"
        )


@contextmanager
def serving() -> Iterator[Callable[[str], str]]:
    """A registry on loopback for as long as the block runs; yields `serve(image)`, which
    pushes a local image there and returns the reference a build's FROM names."""
    served: list[str] = []

    def serve(image: str) -> str:
        reference = f"{address}/{image}"
        for argv in (["tag", image, reference], ["push", "-q", reference]):
            try:
                docker.docker(argv, timeout=3600)  # a CUDA image's push: several GB
            except LabError as error:
                raise LabError(f"could not serve {image} to the build: {error}") from None
        served.append(reference)
        return reference

    with loopback_registry.running() as address:
        try:
            yield serve
        finally:
            for reference in served:
                with contextlib.suppress(LabError):  # an extra name left is no failure
                    docker.docker(["rmi", "--", reference], check=False)


def local_tag(image: str, platform: str, engine_platform: str) -> str:
    """The local name of IMAGE (`lab-cpython:stock`) for PLATFORM: its own name on the
    engine's platform; another platform's keeps its own tag (`lab-cpython:stock-linux-arm64`),
    since on Docker's classic store one name holds one platform, and the native image must
    stay."""
    if identity.runs_on(platform, engine_platform):
        return image
    return platform_tag(image, platform)


def platform_tag(tag: str, platform: str) -> str:
    """TAG of PLATFORM's image (`stock` -> `stock-linux-arm64`): a local name's, and the
    tag each platform's image is pushed as before its index names them all."""
    return tag + platform_suffix(platform)


def keep_under_own_tags(images: list[str], platform: str) -> None:
    """Tag a foreign build's IMAGES under PLATFORM's own tags too: `invoke images` then builds
    the native ones back under compose.yaml's names, and `publish --platforms` finds both."""
    engine = identity.engine_platform()
    for image in images:
        docker.docker(["tag", "--", image, local_tag(image, platform, engine)])
