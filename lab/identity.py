"""What an image *is*, in a form that survives every way of moving it between machines.

An image ID is a digest of its config, which a rebuild, a `docker save`/`load` through
another image store, or a registry's conversion may change; a repo digest exists only for
images that went through a registry. The rootfs identity is a SHA-256 over the image's
ordered layer diff IDs (`.RootFS.Layers`, digests of the uncompressed layers): the same
on the classic and the containerd image store, after push/pull and after save/load.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass

from lab import docker


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
