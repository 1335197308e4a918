"""What the classroom's unit tests build instead of an engine: a lock entry, a `docker save` of
one small image, a bundle of it, and a config that runs the locked layers as another image.
test_bundle*.py, test_transfer_progress.py, test_registry.py and test_doctor.py share them."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from dataclasses import replace
from pathlib import Path

from lab.classroom import bundle, lockfile
from lab.classroom.lockfile import LockedImage
from lab.images.identity import rootfs_identity

PLATFORM = "linux/amd64"
LAYER = b"a layer's bytes " * 4096
DIFF_ID = "sha256:" + hashlib.sha256(LAYER).hexdigest()

# A pushed image's entry in lab.lock: every field set.
ENTRY = LockedImage(
    variant="ft", image="lab-cpython:ft", platform="linux/amd64", rootfs="sha256:" + "1" * 64,
    fingerprint={"python": "3.13.5"}, repository="127.0.0.1:5000/class/lab-cpython",
    digest="sha256:" + "2" * 64, config="sha256:" + "3" * 64,
)  # fmt: skip


def config(diff_ids: list[str], architecture: str = "amd64") -> bytes:
    """An image's config: its platform and its layers, nothing to run."""
    return json.dumps(
        {"os": "linux", "architecture": architecture,
         "rootfs": {"type": "layers", "diff_ids": diff_ids}}
    ).encode()  # fmt: skip


def digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def saved_images(architecture: str = "amd64") -> tuple[bytes, str]:
    """A `docker save` of one image (its tar, and its image ID)."""
    body = config([DIFF_ID], architecture)
    image_id = hashlib.sha256(body).hexdigest()
    manifest = json.dumps(
        [{"Config": f"{image_id}.json", "RepoTags": None, "Layers": ["l1/layer.tar"]}]
    ).encode()
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w") as tar:
        for name, data in (
            ("l1/layer.tar", LAYER), (f"{image_id}.json", body), ("manifest.json", manifest),
        ):  # fmt: skip
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue(), f"sha256:{image_id}"


def locked(platform: str = "linux/amd64", rootfs: str | None = None) -> dict[str, LockedImage]:
    entry = LockedImage(
        variant="stock", image="lab-cpython:stock", platform=platform,
        rootfs=rootfs or rootfs_identity([DIFF_ID]), fingerprint={"python": "3.13.5"},
    )  # fmt: skip
    return {"stock": entry}


def bundle_of(folder: Path, inner: bytes, lock: dict | None = None) -> Path:
    """A bundle of one platform: the `docker save` INNER under LOCK (locked() when None)."""
    one = lockfile.Lock.of(locked() if lock is None else lock, None)
    return bundle_of_parts(folder, {PLATFORM: inner}, one)


def bundle_of_parts(folder: Path, saves: dict[str, bytes], lock: lockfile.Lock) -> Path:
    """A bundle of each platform's `docker save` (SAVES) under LOCK, as `bundle` writes it."""
    made = bundle.write_bundle(
        folder / "class.tar", lock,
        {platform: compressing(inner) for platform, inner in saves.items()},
    )  # fmt: skip
    return Path(made["bundle"])


def compressing(inner: bytes):
    return lambda path: bundle.compress(io.BytesIO(inner), path)


# -- a bundle of two platforms: stock for linux/amd64 and linux/arm64, a part each -----------

ARM64 = "linux/arm64"
TWO_PLATFORMS = (PLATFORM, ARM64)


def architecture_of(platform: str) -> str:
    return platform.split("/")[1]


def two_platform_lock(configs: dict[str, str] | None = None) -> lockfile.Lock:
    """Stock for both platforms, each entry naming its own architecture's saved config (or
    the one CONFIGS names for that platform)."""
    entries = {}
    for platform in TWO_PLATFORMS:
        config = (configs or {}).get(platform) or saved_images(architecture_of(platform))[1]
        entries[platform] = replace(locked(platform)["stock"], config=config)
    return lockfile.Lock(None, {"stock": entries})


def two_platform_bundle(
    folder: Path, saves: dict[str, bytes] | None = None, lock: lockfile.Lock | None = None
) -> Path:
    """A bundle of each platform's `docker save` of stock (SAVES: others in their place)."""
    made = {p: saved_images(architecture_of(p))[0] for p in TWO_PLATFORMS}
    return bundle_of_parts(folder, {**made, **(saves or {})}, lock or two_platform_lock())


def make_bundle(folder: Path, lock: dict | None = None, architecture: str = "amd64") -> Path:
    """A good bundle of saved_images(ARCHITECTURE)."""
    saved, _ = saved_images(architecture)
    return bundle_of(folder, saved, lock)


# -- the config: the locked layers under another entrypoint are another image ---------------

GENUINE = config([DIFF_ID])
EVIL = json.dumps(
    {"os": "linux", "architecture": "amd64", "config": {"Entrypoint": ["/bin/sh", "-c", "evil"]},
     "rootfs": {"type": "layers", "diff_ids": [DIFF_ID]}}
).encode()  # fmt: skip


def members_with(body: bytes) -> list[tuple[str, bytes]]:
    """A `docker save` of one image on the locked layers, with the config BODY."""
    name = hashlib.sha256(body).hexdigest() + ".json"
    manifest = [{"Config": name, "RepoTags": None, "Layers": ["l1/layer.tar"]}]
    return [("l1/layer.tar", LAYER), (name, body), ("manifest.json", json.dumps(manifest).encode())]


def with_config(lock: dict[str, LockedImage], config_digest: str | None) -> dict:
    return {name: replace(entry, config=config_digest) for name, entry in lock.items()}


def class_lock(folder: Path, config_digest: str | None) -> Path:
    """The class's lab.lock (trusted: committed in the checkout), locking the genuine image."""
    path = folder / "class" / "lab.lock"
    lockfile.write(with_config(locked(), config_digest), None, path)
    return path
