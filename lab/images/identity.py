"""What an image *is*, in a form that survives every way of moving it between machines.

An image ID is a digest of its config, which a rebuild, a `docker save`/`load` through
another image store, or a registry's conversion may change; a repo digest exists only for
images that went through a registry. The rootfs identity is a SHA-256 over the image's
ordered layer diff IDs (`.RootFS.Layers`, digests of the uncompressed layers): the same
on the classic and the containerd image store, after push/pull and after save/load.

The rootfs identity says nothing of how the files are run: the same layers under another
entrypoint, user or environment are another image. That is the config digest (the SHA-256
of the image's config JSON blob), which a lock pins too (`config_digest`).
"""

from __future__ import annotations

import hashlib
import json
import subprocess
import tarfile
from collections.abc import Sequence
from dataclasses import dataclass
from typing import IO, Any

from lab import untrusted
from lab.engine import docker
from lab.errors import LabError

CONFIG_LIMIT = 4 << 20  # bytes of one image config read (a CUDA image's: about 30 KB)
# What `docker info` shows in DriverStatus where the engine keeps images in containerd.
CONTAINERD_STORE = ["driver-type", "io.containerd.snapshotter.v1"]


def rootfs_identity(diff_ids: Sequence[str]) -> str:
    """sha256 over the diff IDs, one a line, in layer order."""
    return "sha256:" + hashlib.sha256("\n".join(diff_ids).encode()).hexdigest()


def platform_of(os_name: str, architecture: str, variant: str = "") -> str:
    """`os/arch[/variant]`, as registries and `--platform` spell it."""
    return "/".join(part for part in (os_name, architecture, variant) if part)


def runs_on(image_platform: str, engine_platform: str) -> bool:
    """Whether an engine runs an image natively: os and architecture agree (an arm64
    image says `linux/arm64/v8`, its engine `linux/arm64`)."""
    return image_platform.split("/")[:2] == engine_platform.split("/")[:2]


@dataclass(frozen=True)
class ImageFacts:
    id: str
    rootfs: str
    platform: str
    repo_digests: tuple[str, ...]
    labels: dict


def inspect(reference: str) -> ImageFacts | None:
    """The facts of the image REFERENCE names (a tag, an ID or repo@digest), or None."""
    out = docker.docker(
        ["image", "inspect", "--format", "{{json .}}", "--", reference], check=False
    )
    if not out.strip():
        return None
    raw = json.loads(out)
    return ImageFacts(
        id=raw["Id"],
        rootfs=rootfs_identity(raw.get("RootFS", {}).get("Layers") or []),
        platform=platform_of(
            raw.get("Os", ""), raw.get("Architecture", ""), raw.get("Variant", "")
        ),
        repo_digests=tuple(raw.get("RepoDigests") or ()),
        labels=(raw.get("Config") or {}).get("Labels") or {},
    )


def engine_platform() -> str:
    """The platform this engine runs natively (`linux/amd64`): what it can run unemulated."""
    out = docker.docker(["version", "--format", "{{.Server.Os}}/{{.Server.Arch}}"], timeout=15)
    return out.strip()


# -- the config digest -----------------------------------------------------------------------
#
# On the classic image store an image's ID is, by definition, the SHA-256 of its config
# blob. On the containerd store (Docker Desktop, Docker 29) the ID is the digest of the
# manifest (or index) instead, and no inspect field shows the config's digest. A registry
# shows it in the manifest, but asking one (`docker buildx imagetools`, `docker manifest
# inspect`) needs the registry up, and its TLS and credentials set up for those clients as
# well as the engine's; and a bundle's image was never in a registry. `docker save` of the
# image works on both stores with the engine alone, and holds the very blob `invoke load`
# hashes, so that is what is read there, streamed, stopping at the config.


def containerd_store(info: dict[str, Any]) -> bool:
    """Whether `docker info` (INFO) says the engine keeps its images in containerd."""
    status = info.get("DriverStatus")
    return isinstance(status, list) and CONTAINERD_STORE in status


def config_digest(reference: str) -> str:
    """The digest of the config blob of the image REFERENCE names (sha256:...)."""
    facts = inspect(reference)
    if facts is None:
        raise LabError(f"no image {reference} here")
    if not containerd_store(docker.engine_info()):
        return facts.id
    return saved_config(reference, facts.rootfs)


def saved_config(reference: str, rootfs: str) -> str:
    """The config digest of REFERENCE (whose rootfs identity is ROOTFS), from `docker save`."""
    argv = ["save", "--", reference]
    with docker.popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE) as saving:
        stdout, stderr = saving.stdout, saving.stderr
        assert stdout is not None and stderr is not None  # both PIPEs
        try:
            return config_in_save(stdout, rootfs, reference)
        except LabError:
            saving.kill()  # before reading its stderr: it may be blocked writing the image
            said = stderr.read(64 << 10)
            if said.strip():
                reason = docker.error_line(said, limit=200)
                raise LabError(f"`docker save {reference}` failed: {reason}") from None
            raise
        finally:
            saving.kill()  # the config is read: the rest of the image is not needed


def config_in_save(stream: IO[bytes], rootfs: str, reference: str) -> str:
    """The digest of the config in a `docker save` STREAM whose rootfs identity is ROOTFS,
    hashed from its bytes (a member's name is not read). A save of one image holds one such
    config; an attestation's or another platform's has other layers."""
    try:
        with tarfile.open(fileobj=stream, mode="r|") as saved:
            for member in saved:
                if not member.isreg() or member.size > CONFIG_LIMIT:
                    continue  # a layer: it streams past
                blob = saved.extractfile(member)  # a regular file's: never None
                found = None if blob is None else config_facts(blob.read())
                if found is not None and found[1] == rootfs:
                    return found[0]
    except (tarfile.TarError, EOFError, OSError) as error:
        raise LabError(f"`docker save {reference}` is not a tar of images ({error})") from None
    raise LabError(f"`docker save {reference}` holds no config with its rootfs {rootfs[:19]}")


def config_facts(data: bytes) -> tuple[str, str] | None:
    """(config digest, rootfs identity) of DATA where it is an image config; else None."""
    try:
        diff_ids = untrusted.json_value(data, "an image config")["rootfs"]["diff_ids"]
    except (LabError, KeyError, TypeError):
        return None
    if not isinstance(diff_ids, list) or not all(isinstance(d, str) for d in diff_ids):
        return None
    return "sha256:" + hashlib.sha256(data).hexdigest(), rootfs_identity(diff_ids)
