"""`invoke bundle` and `invoke load`: the classroom's images as one file, for a room
without a network (a USB stick).

A bundle is a plain tar of three parts, in this order:
  SHA256SUMS       the SHA-256 of the two parts below
  lab.lock         the lock of the images inside (lab/lockfile.py)
  images.tar.zst   `docker save` of those images by ID (layers they share are stored once),
                   compressed with zstd
`load` checks all of it before the engine sees a byte, then loads the images untagged
(they were saved by ID), checks each one's rootfs identity again, and only then tags them
under the lab's names. A truncated or altered bundle loads nothing and names the part.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path
from typing import BinaryIO

import zstandard

from lab import docker, facts, identity, lockfile
from lab.config import ALL_VARIANTS
from lab.errors import LabError
from lab.lockfile import LockedImage
from lab.registry import chosen_variants

SUMS, LOCK, IMAGES = "SHA256SUMS", "lab.lock", "images.tar.zst"
PARTS = (SUMS, LOCK, IMAGES)
CHUNK = 1 << 20
SMALL = 1 << 20  # members of `docker save` kept in memory: manifest.json and image configs
ZSTD_LEVEL = 3  # level 19 saves a further ~10% for ten times the time


class HashingFile(io.RawIOBase):
    """Reads from, or writes to, a file object, hashing every byte that passes."""

    def __init__(self, inner) -> None:
        self.inner, self.sha256 = inner, hashlib.sha256()

    def readable(self) -> bool:
        return True

    def writable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        data = self.inner.read(len(buffer))
        self.sha256.update(data)
        buffer[: len(data)] = data
        return len(data)

    def write(self, data) -> int:
        self.sha256.update(data)
        return self.inner.write(data)

    def drain(self) -> str:
        """Read to the end (what a consumer left unread still counts); the hex digest."""
        while self.read(CHUNK):
            pass
        return self.sha256.hexdigest()


# -- bundle --------------------------------------------------------------------------------


def bundle(output: Path, names: str | None, lock_path: Path = lockfile.LOCK_FILE) -> dict:
    """Write OUTPUT whole or not at all; returns the figures (bytes, images)."""
    docker.require_engine()
    images = locked_images(names, lock_path)
    ids = [saved.id for saved in images.values()]
    lock = {name: saved.locked for name, saved in images.items()}
    print(f"[bundle] docker save {', '.join(images)} | zstd -> {output}", flush=True)
    return write_bundle(output, lock, lambda path: save_compressed(ids, path))


def write_bundle(
    output: Path, lock: dict[str, LockedImage], write_images: Callable[[Path], str]
) -> dict:
    """Assemble the three parts in a scratch folder beside OUTPUT, then move the whole into
    place. WRITE_IMAGES writes images.tar.zst to the path it is given; returns its SHA-256."""
    output = output.resolve()
    if output.is_dir():
        raise LabError(f"{output} is a folder: give the bundle's file name")
    try:
        scratch = Path(tempfile.mkdtemp(dir=output.parent, prefix=".lab-bundle-"))
    except OSError as error:
        raise LabError(f"cannot write a bundle in {output.parent}: {error.strerror}") from None
    try:
        images_sha256 = write_images(scratch / IMAGES)
        lock_text = lockfile.as_json(lock, registry=None).encode()
        sums = f"{hashlib.sha256(lock_text).hexdigest()}  {LOCK}\n{images_sha256}  {IMAGES}\n"
        (scratch / SUMS).write_text(sums)
        (scratch / LOCK).write_bytes(lock_text)
        partial = scratch / "bundle.tar"
        with tarfile.open(partial, "w", format=tarfile.PAX_FORMAT) as out:
            for part in PARTS:
                out.add(scratch / part, arcname=part)
        os.replace(partial, output)
    except OSError as error:
        raise LabError(f"writing {output} failed: {error.strerror or error}") from None
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return {"bundle": str(output), "bytes": output.stat().st_size, "images": list(lock)}


@dataclass(frozen=True)
class Saved:
    id: str
    locked: LockedImage


def locked_images(names: str | None, lock_path: Path) -> dict[str, Saved]:
    """The images to bundle, each with its lock entry (the published one where the repo's
    lab.lock names this very image, so the bundle's lock carries the registry digests)."""
    published = lockfile.read(lock_path) if lock_path.is_file() else {}
    chosen = {}
    for variant in chosen_variants(names):
        local = facts.built_image(variant)
        same = published.get(variant.name)
        if same is not None and same.rootfs == local.rootfs:
            local = replace(local, repository=same.repository, digest=same.digest)
        chosen[variant.name] = Saved(identity.inspect(variant.image).id, local)
    return chosen


def save_compressed(image_ids: list[str], path: Path) -> str:
    """`docker save IDS | zstd > PATH`; returns the compressed file's SHA-256."""
    with subprocess.Popen(
        ["docker", "save", *image_ids], stdout=subprocess.PIPE, stderr=subprocess.PIPE
    ) as saving:
        sha256 = compress(saving.stdout, path)
        error = saving.stderr.read().decode(errors="replace").strip()
    if saving.returncode != 0:
        raise LabError(f"`docker save` failed: {(error.splitlines() or ['?'])[-1]}")
    return sha256


def compress(source: BinaryIO, path: Path) -> str:
    """SOURCE, zstd-compressed on every core, into PATH; returns the SHA-256 of PATH."""
    compressor = zstandard.ZstdCompressor(level=ZSTD_LEVEL, threads=-1)
    with open(path, "wb") as raw:
        hashed = HashingFile(raw)
        with compressor.stream_writer(hashed, closefd=False) as packed:
            shutil.copyfileobj(source, packed, CHUNK)
    return hashed.sha256.hexdigest()


# -- load ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Checked:
    """A bundle that passed every check: its lock, and each locked image's ID inside."""

    lock: dict[str, LockedImage]
    image_ids: dict[str, str]  # variant -> image ID (the config's digest)
    images_sha256: str


def load(path: Path, lock_path: Path = lockfile.LOCK_FILE) -> Checked:
    docker.require_engine()
    reference = lockfile.read(lock_path) if lock_path.is_file() else {}
    print(f"[load] checking {path}: its sums, its lock, each image's rootfs", flush=True)
    checked = check(path, identity.engine_platform(), reference)
    print(f"[load] loading {', '.join(checked.image_ids)} into the engine", flush=True)
    docker_load(path, checked)
    for name, image_id in checked.image_ids.items():
        got = identity.inspect(image_id)
        if got is None or got.rootfs != checked.lock[name].rootfs:
            raise LabError(f"{name}: the engine holds no image {image_id} with the locked rootfs")
    for name, image_id in checked.image_ids.items():  # everything checked: now the names
        docker.docker(["tag", image_id, ALL_VARIANTS[name].image])
    return checked


def check(path: Path, engine_platform: str, reference: dict[str, LockedImage]) -> Checked:
    """Every check `load` makes before the engine sees the bundle; no engine needed."""
    with open_bundle(path) as outer:
        sums = parse_sums(read_part(outer, SUMS, path))
        lock_bytes = read_part(outer, LOCK, path)
        if hashlib.sha256(lock_bytes).hexdigest() != sums[LOCK]:
            raise LabError(f"{path}: {LOCK} does not match {SUMS}: the bundle was altered")
        lock = parse_lock(lock_bytes, path)
        check_lock(path, lock, engine_platform, reference)  # before reading gigabytes
        configs, images_sha256 = scan_images(outer, path)
    if images_sha256 != sums[IMAGES]:
        raise LabError(f"{path}: {IMAGES} does not match {SUMS}: the bundle was altered or damaged")
    return Checked(lock, match_configs(lock, configs, path), images_sha256)


def check_lock(
    path: Path, lock: dict[str, LockedImage], engine_platform: str, reference: dict
) -> None:
    """The bundle's images run here, and they are the ones the class's lab.lock names."""
    for name, entry in lock.items():
        if not identity.runs_on(entry.platform, engine_platform):
            raise LabError(
                f"{path} holds {entry.platform} images ({name}), and this engine runs "
                f"{engine_platform}: make a bundle on (or for) this platform"
            )
        if name in reference and reference[name].rootfs != entry.rootfs:
            raise LabError(
                f"{path}'s {name} is not the image lab.lock names "
                f"({entry.rootfs[:19]} vs {reference[name].rootfs[:19]}): use the class's bundle"
            )


@contextmanager
def open_bundle(path: Path) -> Iterator[tarfile.TarFile]:
    try:
        with tarfile.open(path, "r:") as outer:
            names = outer.getnames()
            if tuple(names) != PARTS:
                raise LabError(f"{path} is not a lab bundle (parts {names}, not {list(PARTS)})")
            require_end_of_archive(path, outer.getmember(IMAGES))
            yield outer
    except FileNotFoundError:
        raise LabError(f"no bundle at {path}") from None
    except (tarfile.TarError, EOFError, zstandard.ZstdError) as error:
        raise LabError(f"{path} is truncated or damaged ({error})") from None


def require_end_of_archive(path: Path, last: tarfile.TarInfo) -> None:
    """A copy cut short after its last part still reads; its missing end marker tells."""
    data_end = last.offset_data + -(-last.size // tarfile.BLOCKSIZE) * tarfile.BLOCKSIZE
    if path.stat().st_size < data_end + 2 * tarfile.BLOCKSIZE:
        raise LabError(f"{path} is truncated (it ends before the tar's end-of-archive marker)")


def read_part(outer: tarfile.TarFile, name: str, path: Path) -> bytes:
    data = outer.extractfile(name).read()
    if len(data) != outer.getmember(name).size:
        raise LabError(f"{path}: {name} is truncated")
    return data


def parse_sums(data: bytes) -> dict[str, str]:
    sums = {}
    for line in data.decode(errors="replace").splitlines():
        digest, _, name = line.partition("  ")
        sums[name] = digest
    if set(sums) != {LOCK, IMAGES}:
        raise LabError(f"the bundle's {SUMS} does not list {LOCK} and {IMAGES}")
    return sums


def parse_lock(data: bytes, path: Path) -> dict[str, LockedImage]:
    try:
        return lockfile.parse(data.decode(), f"{path}'s {LOCK}")
    except UnicodeDecodeError:
        raise LabError(f"{path}: its {LOCK} is not text") from None


def scan_images(outer: tarfile.TarFile, path: Path) -> tuple[dict[str, bytes], str]:
    """Hash images.tar.zst and read `docker save`'s small members (manifest and configs) from
    it, in one pass; the layers stream past. Returns ({member: bytes}, sha256)."""
    member = outer.getmember(IMAGES)
    hashed = HashingFile(outer.extractfile(member))
    small: dict[str, bytes] = {}
    try:
        stream = zstandard.ZstdDecompressor().stream_reader(hashed, read_across_frames=True)
        with tarfile.open(fileobj=stream, mode="r|") as saved:
            for item in saved:
                if item.isfile() and item.size <= SMALL:
                    small[item.name] = saved.extractfile(item).read()
        sha256 = hashed.drain()
    except (tarfile.TarError, zstandard.ZstdError, EOFError, OSError) as error:
        raise LabError(f"{path}: {IMAGES} is damaged or truncated ({error})") from None
    return small, sha256


def match_configs(
    lock: dict[str, LockedImage], small: dict[str, bytes], path: Path
) -> dict[str, str]:
    """Each locked image's ID in the saved images, found by its rootfs identity."""
    try:
        manifest = json.loads(small["manifest.json"])
        by_rootfs = {}
        for image in manifest:
            config_bytes = small[image["Config"]]
            config = json.loads(config_bytes)
            rootfs = identity.rootfs_identity(config["rootfs"]["diff_ids"])
            by_rootfs[rootfs] = "sha256:" + hashlib.sha256(config_bytes).hexdigest()
    except (KeyError, TypeError, ValueError) as error:
        raise LabError(f"{path}: {IMAGES} is not a `docker save` of images ({error})") from None
    ids = {}
    for name, entry in lock.items():
        if entry.rootfs not in by_rootfs:
            raise LabError(f"{path}: its {name} image's rootfs is not the one its lock names")
        ids[name] = by_rootfs[entry.rootfs]
    return ids


def docker_load(path: Path, checked: Checked) -> None:
    """Stream images.tar.zst, decompressed, into `docker load` (which tags nothing: the
    images were saved by ID)."""
    with (
        tarfile.open(path, "r:") as outer,
        subprocess.Popen(
            ["docker", "load"],
            stdin=subprocess.PIPE,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,  # a few lines at most: it cannot fill the pipe
        ) as loading,
    ):
        hashed = HashingFile(outer.extractfile(IMAGES))
        try:
            stream = zstandard.ZstdDecompressor().stream_reader(hashed, read_across_frames=True)
            shutil.copyfileobj(stream, loading.stdin, CHUNK)
        except BrokenPipeError:
            pass  # docker load stopped reading: its own message says why
        finally:
            with contextlib.suppress(BrokenPipeError):
                loading.stdin.close()
        err = loading.stderr.read()
        loading.wait()
        sha256 = hashed.drain()
    if loading.returncode != 0:
        reason = (err.decode(errors="replace").strip().splitlines() or ["?"])[-1]
        raise LabError(f"`docker load` of {path} failed, nothing was tagged: {reason}")
    if sha256 != checked.images_sha256:  # the file changed between the check and the load
        raise LabError(f"{path} changed while it was loaded: nothing was tagged")
