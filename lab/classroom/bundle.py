"""`invoke bundle` and `invoke load`: the classroom's images as one file, for a room
without a network (a USB stick).

A bundle is a plain tar of these parts, in this order:
  SHA256SUMS       the SHA-256 of the parts below
  lab.lock         the lock of the images inside (lab/classroom/lockfile.py), every platform's
  images.tar.zst   `docker save` of those images by ID (layers they share are stored once),
                   compressed with zstd: a bundle of one platform (what every lab reads)
or, for a bundle of several platforms (`bundle --platforms`), in place of images.tar.zst,
  images-linux-amd64.tar.zst, images-linux-arm64.tar.zst, ...: one such part a platform, in
                   the order of their names (two architectures share no layer: nothing is
                   stored twice), so that `load` feeds the engine only its platform's part.
`load` checks all of it (every part) before the engine sees a byte, then loads one
platform's images untagged (they were saved by ID), checks each one's rootfs identity and
config again, and only then tags them under the lab's names (another platform's, asked for,
under its own: lab/images/platforms.py). A truncated or altered bundle loads nothing and
names the part; a load that fails a check after `docker load` removes what it loaded.
`bundle` makes the same checks of the file it wrote before it is put in place.

The two image stores: on the classic one an image's ID is its config's digest; on the
containerd one (Docker 29's and Docker Desktop's default) it is its manifest's digest, and
`docker save` writes an OCI layout (index.json, blobs/sha256/...) beside manifest.json. So
load takes the IDs `docker load` prints, and checks each image's config through the manifest
it was loaded from, hashed in the bundle (or, for a manifest the engine made itself, the
config the engine saves back).

A bundle is untrusted (a USB stick passed around a room). `docker load` applies whatever
tags the saved tar names (manifest.json's RepoTags, a legacy `repositories` file, an OCI
index's name annotations), so a bundle naming any is refused, as is one holding an image
its lock does not name; and a tag that changed during the load anyway is undone. The
locked layers under another config (entrypoint, command, user, environment) are another
image: each config blob is hashed as it streams past and must be the one the class's
lab.lock names. Which platform a part holds is not taken from its name alone: each of its
image configs must name that platform (its `os` and `architecture`), and be the config the
lock names for it. Every part is streamed: what is kept in memory is capped, part by part.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import re
import shutil
import subprocess
import tarfile
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, BinaryIO

import zstandard

from lab import progress, untrusted
from lab.classroom import facts, lockfile
from lab.classroom.lockfile import Lock, LockedImage
from lab.classroom.registry import chosen_platforms, chosen_variants, local_name
from lab.config import ALL_VARIANTS
from lab.engine import docker
from lab.errors import LabError
from lab.files import write_atomically
from lab.images import identity, platforms
from lab.untrusted_tar import Header, Refused, kind, member_file, plain

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer, SupportsRead, WriteableBuffer

SUMS, LOCK, IMAGES = "SHA256SUMS", "lab.lock", "images.tar.zst"  # a bundle of one platform
# A bundle of several platforms: images-OS-ARCH.tar.zst in place of images.tar.zst, one a
# platform (as lockfile's platform field spells OS and ARCH).
PLATFORM_PART = re.compile(r"images-([a-z0-9]+)-([a-z0-9_]+)\.tar\.zst")
MAX_PARTS = 2 + lockfile.MAX_PLATFORMS
CHUNK = 1 << 20
ZSTD_LEVEL = 3  # level 19 saves a further ~10% for ten times the time
# What is read into memory, at most, from an untrusted bundle (a real one's is far less):
SUMS_LIMIT = 4096  # SHA256SUMS: a line a part
LOCK_LIMIT = lockfile.LOCK_LIMIT
JSON_LIMIT = 4 << 20  # manifest.json, index.json, each image config (a CUDA image's: ~30 KB)
MAX_MEMBERS = 10_000  # in `docker save`'s tar (tarfile keeps each header): ~100 for 4 images
MANIFEST, INDEX, LEGACY_TAGS = "manifest.json", "index.json", "repositories"
# What a `docker save` names its members: <id>.json, <id>/layer.tar, blobs/sha256/<digest>.
MEMBER_NAME = re.compile(r"[A-Za-z0-9_.-]{1,128}(?:/[A-Za-z0-9_.-]{1,128}){0,3}")
CONFIG_NAME = re.compile(r"(?:blobs/sha256/)?[0-9a-f]{64}(?:\.json)?")
CONFIG_DIGEST = re.compile(r"sha256:[0-9a-f]{64}")
# Annotations of an OCI index by which the containerd image store names (tags) an image.
NAMING_ANNOTATIONS = {"io.containerd.image.name", "org.opencontainers.image.ref.name"}


class HashingFile(io.RawIOBase):
    """Reads from, or writes to, a file object, hashing every byte that passes (and telling
    ON_BYTES how many, for a progress display)."""

    def __init__(self, inner: IO[bytes], on_bytes: Callable[[int], None] | None = None) -> None:
        self.inner, self.sha256 = inner, hashlib.sha256()
        self.on_bytes = on_bytes or (lambda count: None)

    def readable(self) -> bool:
        return True

    def writable(self) -> bool:
        return True

    def readinto(self, buffer: WriteableBuffer) -> int:
        with memoryview(buffer) as view:
            data = self.inner.read(len(view))
            self.sha256.update(data)
            self.on_bytes(len(data))
            view[: len(data)] = data
        return len(data)

    def write(self, data: ReadableBuffer) -> int:
        self.sha256.update(data)
        self.on_bytes(memoryview(data).nbytes)
        return self.inner.write(data)

    def drain(self) -> str:
        """Read to the end (what a consumer left unread still counts); the hex digest."""
        while self.read(CHUNK):
            pass
        return self.sha256.hexdigest()


# -- bundle --------------------------------------------------------------------------------


def bundle(
    output: Path,
    names: str | None,
    lock_path: Path = lockfile.LOCK_FILE,
    asked_platforms: str | None = None,
) -> dict:
    """Write OUTPUT whole or not at all: each platform's local images (ASKED_PLATFORMS,
    `linux/amd64,linux/arm64`; the engine's own where none is named); returns the figures
    (bytes, images, platforms)."""
    docker.require_engine()
    engine = identity.engine_platform()
    wanted = chosen_platforms(asked_platforms) or [engine]
    chosen = {platform: locked_images(names, lock_path, platform, engine) for platform in wanted}
    by_variant: dict[str, dict[str, LockedImage]] = {}
    for platform, images in chosen.items():
        for name, saved in images.items():
            by_variant.setdefault(name, {})[platform] = saved.locked
    writers = {platform: part_writer(images, platform) for platform, images in chosen.items()}
    return write_bundle(output, Lock(None, by_variant), writers, verify=verify)


def part_writer(images: dict[str, Saved], platform: str) -> Callable[[Path], str]:
    """What writes PLATFORM's part: `docker save` of IMAGES, compressed; its SHA-256."""
    ids = [saved.id for saved in images.values()]

    def write(path: Path) -> str:
        said = f"{', '.join(images)} ({platform})"
        print(f"[bundle] docker save {said} | zstd -> {path.name}", flush=True)
        return save_compressed(ids, path)

    return write


def verify(path: Path, lock: Lock) -> None:
    """The bundle at PATH passes every check load makes, against the lock it was made from.
    `docker save` exits 0 with an image it cannot write whole: the containerd store, holding
    a manifest whose layers it lacks, wrote 40 KB with no layers at all."""
    print("[bundle] checking it as `invoke load` will", flush=True)
    try:
        check_all(path, lock, prefix="bundle")
    except LabError as error:
        reason = str(error).replace(f"{path}: ", "")  # a scratch file's name says nothing
        raise LabError(
            f"no bundle written: what `docker save` wrote fails load's checks: {reason}"
        ) from None


def part_names(platforms_written: list[str]) -> dict[str, str]:
    """{platform: its images part}: images.tar.zst for one platform (what every lab reads),
    images-OS-ARCH.tar.zst each for several."""
    if len(platforms_written) == 1:
        return {platforms_written[0]: IMAGES}
    return {p: platform_part(p) for p in platforms_written}


def platform_part(platform: str) -> str:
    """`linux/arm64` (or `linux/arm64/v8`) -> images-linux-arm64.tar.zst."""
    return platforms.platform_tag("images", os_arch(platform)) + ".tar.zst"


def os_arch(platform: str) -> str:
    return "/".join(platform.split("/")[:2])


def write_bundle(
    output: Path,
    lock: Lock,
    write_images: dict[str, Callable[[Path], str]],
    verify: Callable[[Path, Lock], None] | None = None,
) -> dict:
    """Assemble the parts in a scratch folder beside OUTPUT, check the whole (VERIFY), then
    move it into place. WRITE_IMAGES: for each platform, what writes its images part to the
    path it is given and returns its SHA-256."""
    output = output.resolve()
    if output.is_dir():
        raise LabError(f"{output} is a folder: give the bundle's file name")
    try:
        scratch = Path(tempfile.mkdtemp(dir=output.parent, prefix=".lab-bundle-"))
    except OSError as error:
        raise LabError(f"cannot write a bundle in {output.parent}: {error.strerror}") from None
    try:
        names = part_names(sorted(write_images))
        images = {names[p]: write(scratch / names[p]) for p, write in write_images.items()}
        lock_text = lockfile.lock_json(lock).encode()
        sums = {LOCK: hashlib.sha256(lock_text).hexdigest(), **dict(sorted(images.items()))}
        (scratch / SUMS).write_text("".join(f"{sha}  {part}\n" for part, sha in sums.items()))
        (scratch / LOCK).write_bytes(lock_text)

        def parts(out: BinaryIO) -> None:
            with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as bundled:
                for part in (SUMS, *sums):
                    bundled.add(scratch / part, arcname=part)

        def whole(aside: Path) -> None:  # checked as `load` would, before it lands
            if verify is not None:
                verify(aside, lock)

        write_atomically(output, parts, check=whole)
    except OSError as error:
        raise LabError(f"writing {output} failed: {error.strerror or error}") from None
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return {
        "bundle": str(output),
        "bytes": output.stat().st_size,
        "images": list(lock.images),
        "platforms": lock.platforms(),
    }


@dataclass(frozen=True)
class Saved:
    id: str
    locked: LockedImage


def locked_images(
    names: str | None, lock_path: Path, platform: str, engine: str
) -> dict[str, Saved]:
    """PLATFORM's images to bundle (their local names on an ENGINE of its own platform:
    registry.local_name), each with its lock entry and config digest (the published entry
    where the repo's lab.lock names this very image, so the bundle's lock carries the
    registry digests)."""
    published = lockfile.read_all(lock_path) if lock_path.is_file() else Lock(None, {})
    chosen = {}
    for variant in chosen_variants(names, platform, engine):
        name = local_name(variant, platform, engine)
        local = facts.built_image(variant, name)  # its config digest too: read once (a save)
        if not identity.runs_on(local.platform, platform):
            raise LabError(
                f"{name} is a {local.platform} image, not {platform}: "
                f"`invoke images --platform {platform}` builds it"
            )
        local = replace(local, platform=platform)
        same = lockfile.entry_for(published.images.get(variant.name, {}), platform)
        if same is not None and same.rootfs == local.rootfs and same.config in (None, local.config):
            local = replace(local, repository=same.repository, digest=same.digest)
        found = identity.inspect(name)
        if found is None:  # removed since built_image read it
            raise LabError(f"{name} was removed while the bundle was being made")
        chosen[variant.name] = Saved(found.id, local)
    return chosen


def save_compressed(image_ids: list[str], path: Path) -> str:
    """`docker save IDS | zstd > PATH`, its bytes shown against the images' estimated size;
    returns the compressed file's SHA-256."""
    work = progress.Work("docker save", "bytes", total=saved_size(image_ids) or None)
    with (
        progress.Progress(work, prefix="bundle") as shown,
        docker.popen(
            ["save", *image_ids], stdout=subprocess.PIPE, stderr=subprocess.PIPE
        ) as saving,
    ):
        # Both PIPEs, stdout a BufferedReader (Popen's default buffering): CountingReader's kind.
        assert isinstance(saving.stdout, io.BufferedReader) and saving.stderr is not None
        sha256 = compress(progress.CountingReader(saving.stdout, shown.advance), path)
        error = saving.stderr.read()
        saving.wait()
        if saving.returncode != 0:
            shown.finish("failed")
    if saving.returncode != 0:
        raise LabError(f"`docker save` failed: {docker.error_line(error)}")
    return sha256


def saved_size(image_ids: list[str]) -> int:
    """About how many bytes `docker save` writes for IMAGE_IDS: each layer's size, once.
    A layer is known by its history up to it (what the images share is a common start);
    0 where the engine does not say."""
    layers: dict[tuple, int] = {}
    for image_id in image_ids:
        out = docker.docker(
            [
                "history",
                "--no-trunc",
                "--human=false",
                "--format",
                "{{.Size}}\t{{.CreatedBy}}",
                "--",
                image_id,
            ],
            check=False,
        )
        chain: tuple = ()
        for row in reversed(out.splitlines()):  # the oldest layer first
            size, _, created_by = row.partition("\t")
            chain = (*chain, created_by, size)
            layers[chain] = int(size) if size.isdigit() else 0
    return sum(layers.values())


def compress(source: SupportsRead[bytes], path: Path) -> str:
    """SOURCE, zstd-compressed on every core, into PATH; returns the SHA-256 of PATH."""
    compressor = zstandard.ZstdCompressor(level=ZSTD_LEVEL, threads=-1)
    with open(path, "wb") as raw:
        hashed = HashingFile(raw)
        # The ignore: zstandard's stub asks IO[bytes]; its docs and code take any object with
        # write(), as HashingFile (a RawIOBase) is.
        with compressor.stream_writer(hashed, closefd=False) as packed:  # type: ignore[arg-type]
            shutil.copyfileobj(source, packed, CHUNK)
    return hashed.sha256.hexdigest()


# -- load ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Checked:
    """One platform's images part of a bundle that passed every check: its lock entries,
    and each locked image's ID inside."""

    lock: dict[str, LockedImage]
    image_ids: dict[str, str]  # variant -> image ID (the config's digest)
    images_sha256: str
    manifests: dict[str, str] = field(default_factory=dict)  # manifest digest -> config's
    part: str = IMAGES  # its member of the bundle
    platform: str = ""  # os/arch, as its part's name (or its lock, for images.tar.zst) says


def load(path: Path, lock_path: Path = lockfile.LOCK_FILE, platform: str | None = None) -> Checked:
    """Check every part of the bundle at PATH, then load PLATFORM's (the engine's own where
    none is asked) and tag its images: the lab's names on the engine's platform, another
    platform's own tags (`lab-cpython:stock-linux-arm64`) beside them, as `pull --platform`."""
    require_file(path)
    asked = platforms.parse(platform) if platform else None
    reference = lockfile.read_all(lock_path) if lock_path.is_file() else Lock(None, {})
    docker.require_engine()
    engine = identity.engine_platform()
    print(f"[load] checking {path}: its sums, its lock, each image's rootfs and config", flush=True)
    checked = check(path, asked or engine, reference)
    if note := unpinned_note(checked, for_platform(reference, checked.platform), lock_path):
        print(note, flush=True)
    said = f"{', '.join(checked.image_ids)} ({checked.platform})"
    print(f"[load] loading {said} from {checked.part} into the engine", flush=True)
    before = engine_images()
    try:
        found = find_loaded(checked, load_untagged(path, checked))
    except LabError as error:
        removed = remove_loaded(before)
        raise LabError(f"{error}{removed}") from None
    for name, image_id in found.items():  # everything checked: now the names
        tag = local_name(ALL_VARIANTS[name], checked.platform, engine)
        docker.docker(["tag", "--", image_id, tag])
        print(f"[load] {tag} <- {image_id[:19]}", flush=True)
    return checked


def engine_images() -> dict[str, set[str]]:
    """{image ID: its tags} of every image on the engine."""
    out = docker.docker(
        ["image", "ls", "--all", "--no-trunc", "--format", "{{.ID}} {{.Repository}}:{{.Tag}}"]
    )
    images: dict[str, set[str]] = {}
    for row in (line.split() for line in out.splitlines()):
        if len(row) == 2:
            images.setdefault(row[0], set()).update({row[1]} - {"<none>:<none>"})
    return images


def remove_loaded(before: dict[str, set[str]]) -> str:
    """Remove what the load added (an image new since BEFORE, untagged); what to add to the
    error's line. An image that was here before, or that is tagged, stays."""
    new = [ref for ref, tags in engine_images().items() if ref not in before and not tags]
    for ref in new:
        docker.docker(["rmi", "--", ref], check=False)
    return f" (the {len(new)} image(s) it loaded were removed)" if new else ""


def find_loaded(checked: Checked, loaded: list[str]) -> dict[str, str]:
    """{variant: the engine's ID of it}: each locked image among those `docker load` named
    (LOADED), found by its rootfs, its config checked. Where it printed none (an engine that
    does not say), the checked config digests, which are the IDs on the classic store."""
    by_rootfs = {}
    for ref in loaded or list(checked.image_ids.values()):
        facts = identity.inspect(ref)
        if facts is not None:
            by_rootfs[facts.rootfs] = facts.id
    found = {}
    for name, config in checked.image_ids.items():
        image_id = by_rootfs.get(checked.lock[name].rootfs)
        if image_id is None:
            raise LabError(f"{name}: the engine loaded no image with the locked rootfs")
        require_config_loaded(name, image_id, config, checked)
        found[name] = image_id
    return found


def require_config_loaded(name: str, image_id: str, config: str, checked: Checked) -> None:
    """The engine's image IMAGE_ID has the checked CONFIG: its ID on the classic store; the
    config of its manifest, hashed in the bundle, on the containerd store; else (a manifest
    the engine wrote itself, for a classic store's save) the config it saves back."""
    if image_id == config:
        return
    got = checked.manifests.get(image_id) or identity.config_digest(image_id)
    if got != config:
        raise LabError(
            f"{name}: the engine loaded config {got[:19]}, not the checked {config[:19]}: "
            "nothing was tagged"
        )


def unpinned_note(checked: Checked, reference: dict[str, LockedImage], lock_path: Path) -> str:
    """One line where the class's lock predates config digests: those images are checked by
    their rootfs only (a lock is still good without them; publishing again adds them)."""
    names = [n for n in checked.image_ids if n in reference and reference[n].config is None]
    if not names:
        return ""
    return (
        f"[load] note: {lock_path.name} locks no config for {', '.join(names)} (written "
        "before configs were locked): checked by rootfs only; `invoke publish` adds them"
    )


def require_file(path: Path) -> None:
    """A bundle is a regular file: a folder, a device or a fifo is refused unopened."""
    if path.is_file():
        return
    if not os.path.lexists(path):
        raise LabError(f"no bundle at {path}")
    raise LabError(f"'{path}' is not a file: give the bundle's file (e.g. lab-bundle.tar)")


Reference = Lock | dict[str, LockedImage]  # the class's lock, or one platform's entries of it


def check(path: Path, platform: str | None, reference: Reference, prefix: str = "load") -> Checked:
    """Every check `load` makes before the engine sees the bundle, of every part; no engine
    needed. Returns PLATFORM's part: a bundle without one is refused in one line naming the
    platforms it holds, before any part is read. PLATFORM None: any platform (bundle's own
    check of images built here), the first part returned. REFERENCE: the class's lock.
    PREFIX: whose lines the scan's progress is (`[load]`, `[bundle]`)."""
    checked = check_all(path, reference, prefix, platform)
    if platform is None:
        return checked[0]
    return next(part for part in checked if identity.runs_on(part.platform, platform))


@dataclass(frozen=True)
class Part:
    """An images part of a bundle, and its lock's entries for the platform it holds."""

    name: str  # images.tar.zst, images-linux-arm64.tar.zst
    platform: str  # os/arch
    lock: dict[str, LockedImage]


def check_all(
    path: Path, reference: Reference, prefix: str = "load", wanted: str | None = None
) -> list[Checked]:
    """Every part checked, in order. WANTED: a platform the bundle must hold."""
    class_lock = reference if isinstance(reference, Lock) else Lock.of(reference, None)
    with open_bundle(path) as (outer, members):
        names = list(members)[2:]  # the images parts, after SHA256SUMS and lab.lock
        sums = parse_sums(read_part(outer, members[SUMS], SUMS_LIMIT, path), [LOCK, *names])
        lock_bytes = read_part(outer, members[LOCK], LOCK_LIMIT, path)
        if hashlib.sha256(lock_bytes).hexdigest() != sums[LOCK]:
            raise LabError(f"{path}: {LOCK} does not match {SUMS}: the bundle was altered")
        lock = lockfile.parse_all(lock_bytes, f"{path}'s {LOCK}")  # every field, variants too
        parts = lock_parts(lock, names, path)
        if wanted is not None:
            require_platform(parts, wanted, path)
        for part in parts:  # before reading gigabytes
            check_lock(path, part, for_platform(class_lock, part.platform))
        return [
            check_part(outer, members[part.name], part, sums[part.name], class_lock, path, prefix)
            for part in parts
        ]


def check_part(
    outer: tarfile.TarFile,
    member: tarfile.TarInfo,
    part: Part,
    summed: str,
    class_lock: Lock,
    path: Path,
    prefix: str,
) -> Checked:
    """One images part (MEMBER): its SHA-256 the one SHA256SUMS lists (SUMMED), its images
    those its lock entries name, of its platform, with their configs."""
    inventory, sha256 = scan_images(outer, member, path, prefix)
    if sha256 != summed:
        raise LabError(
            f"{path}: {part.name} does not match {SUMS}: the bundle was altered or damaged"
        )
    image_ids = match_images(part, saved_images(inventory, path, part), path)
    check_configs(path, part.lock, image_ids, for_platform(class_lock, part.platform))
    return Checked(part.lock, image_ids, sha256, inventory.manifests, part.name, part.platform)


def lock_parts(lock: Lock, names: list[str], path: Path) -> list[Part]:
    """Each images part (NAMES, in order) with the lock's entries for the platform it holds:
    the one its name says, or for images.tar.zst the lock's one platform. The lock names a
    platform for every part, and none other."""
    if not lock.images:
        raise LabError(f"{path}'s {LOCK} names no image: a lab bundle holds at least one")
    locked = sorted({os_arch(platform) for platform in lock.platforms()})
    if names == [IMAGES] and len(locked) == 1:
        held = {IMAGES: locked[0]}
    else:
        held = {name: part_platform(name) for name in names}
    if sorted(held.values()) != locked:
        raise LabError(
            f"{path}'s {LOCK} names {', '.join(locked)} images, and its parts are "
            f"{', '.join(names)}: use the class's bundle"
        )
    return [
        Part(name, platform, entries_for(lock, platform, path)) for name, platform in held.items()
    ]


def part_platform(name: str) -> str:
    """images-linux-arm64.tar.zst -> linux/arm64 (images.tar.zst: none)."""
    found = PLATFORM_PART.fullmatch(name)
    return f"{found[1]}/{found[2]}" if found else ""


def entries_for(lock: Lock, platform: str, path: Path) -> dict[str, LockedImage]:
    """{variant: its entry for PLATFORM (os/arch)}: one at most a variant."""
    found = {}
    for name, entries in lock.images.items():
        same = [entry for p, entry in entries.items() if os_arch(p) == platform]
        if len(same) > 1:
            raise LabError(f"{path}'s {LOCK} names {name} twice for {platform}: a part holds one")
        if same:
            found[name] = same[0]
    return found


def require_platform(parts: list[Part], wanted: str, path: Path) -> None:
    """The bundle holds WANTED's images; else one line naming the platforms it holds."""
    if not any(identity.runs_on(part.platform, wanted) for part in parts):
        has = [part.platform for part in parts]
        raise LabError(
            f"{path} holds {', '.join(has)} images, none for {wanted}: use a bundle made with "
            f"`--platforms {wanted}`, or load one it holds (`--platform {has[0]}`)"
        )


def for_platform(class_lock: Lock, platform: str) -> dict[str, LockedImage]:
    """CLASS_LOCK's entry for PLATFORM of each variant that has one."""
    return {
        name: entry
        for name, entries in class_lock.images.items()
        if (entry := lockfile.entry_for(entries, platform)) is not None
    }


def check_lock(path: Path, part: Part, reference: dict[str, LockedImage]) -> None:
    """The part's images are the ones the class's lab.lock names for its platform
    (REFERENCE), where it names them."""
    for name, entry in part.lock.items():
        known = reference.get(name)
        if known is None:
            continue
        if known.rootfs != entry.rootfs:
            raise LabError(
                f"{path}'s {name} is not the image lab.lock names for {part.platform} "
                f"({entry.rootfs[:19]} vs {known.rootfs[:19]}): use the class's bundle"
            )
        if entry.config is not None:  # its claim, before gigabytes
            require_config(path, name, entry.config, known.config, "lab.lock")


def check_configs(
    path: Path,
    lock: dict[str, LockedImage],
    image_ids: dict[str, str],
    reference: dict[str, LockedImage],
) -> None:
    """Each image's config, hashed from its blob (IMAGE_IDS), is the one its bundle's lock
    names and the one the class's lab.lock names, where they name one."""
    for name, image_id in image_ids.items():
        require_config(path, name, image_id, lock[name].config, f"its {LOCK}")
        if name in reference:
            require_config(path, name, image_id, reference[name].config, "lab.lock")


def require_config(path: Path, name: str, got: str, wanted: str | None, whose: str) -> None:
    """The same layers can be run as anything (another entrypoint, user or environment):
    NAME's config GOT must be the one WHOSE lock names, where it names one (WANTED)."""
    if wanted is not None and got != wanted:
        raise LabError(
            f"{path}: its {name} image's config is {got[:19]}, not the {wanted[:19]} {whose} "
            "names (the locked files, run another way: entrypoint, user, environment): "
            "use the class's bundle"
        )


# -- reading the bundle: an untrusted tar (lab/untrusted_tar.py) -------------------------


@contextmanager
def open_bundle(path: Path) -> Iterator[tuple[tarfile.TarFile, dict[str, tarfile.TarInfo]]]:
    require_file(path)
    try:
        with tarfile.open(path, "r:", tarinfo=Header) as outer:
            parts = bundle_parts(outer, path)
            require_end_of_archive(path, list(parts.values())[-1])
            yield outer, parts
    except Refused as error:
        raise LabError(f"{path}: {error}") from None
    except (tarfile.TarError, EOFError, zstandard.ZstdError, RecursionError) as error:
        raise LabError(f"{path} is truncated or damaged ({error})") from None
    except OSError as error:
        raise LabError(f"cannot read {path}: {error.strerror or error}") from None


def bundle_parts(outer: tarfile.TarFile, path: Path) -> dict[str, tarfile.TarInfo]:
    """The parts, in order, each a plain file; no header past the most a bundle has is read."""
    members: list[tarfile.TarInfo] = []
    while len(members) <= MAX_PARTS and (member := outer.next()) is not None:
        members.append(member)
    names = [member.name for member in members]
    if not is_bundle(names):
        shown = untrusted.text(str(names), 300)
        raise LabError(
            f"{path} is not a lab bundle (parts {shown}, not {SUMS}, {LOCK}, then {IMAGES} "
            f"or, for several platforms, images-OS-ARCH.tar.zst each)"
        )
    for member in members:
        if not plain(member):
            raise LabError(f"{path}: its {member.name} is not a plain file (a {kind(member)})")
    return dict(zip(names, members, strict=True))


def is_bundle(names: list[str]) -> bool:
    """SHA256SUMS, lab.lock, then images.tar.zst, or images-OS-ARCH.tar.zst parts (one a
    platform, at most lockfile.MAX_PLATFORMS) in the order of their names."""
    head, images = names[:2], names[2:]
    if head != [SUMS, LOCK] or not images:
        return False
    if images == [IMAGES]:
        return True
    each = all(PLATFORM_PART.fullmatch(name) for name in images)
    ordered = images == sorted(set(images))  # none twice
    return each and ordered and len(images) <= lockfile.MAX_PLATFORMS


def require_end_of_archive(path: Path, last: tarfile.TarInfo) -> None:
    """A copy cut short after its last part still reads; its missing end marker tells."""
    data_end = last.offset_data + -(-last.size // tarfile.BLOCKSIZE) * tarfile.BLOCKSIZE
    if path.stat().st_size < data_end + 2 * tarfile.BLOCKSIZE:
        raise LabError(f"{path} is truncated (it ends before the tar's end-of-archive marker)")


def read_part(outer: tarfile.TarFile, member: tarfile.TarInfo, limit: int, path: Path) -> bytes:
    if member.size > limit:
        raise LabError(
            f"{path}: its {member.name} is {member.size:,} bytes, over the {limit:,} it may be"
        )
    data = member_file(outer, member).read(limit + 1)
    if len(data) != member.size:
        raise LabError(f"{path}: {member.name} is truncated")
    return data


SUMS_LINE = re.compile(r"([0-9a-f]{64})  (\S+)")


def parse_sums(data: bytes, parts: list[str]) -> dict[str, str]:
    """{part: its SHA-256}: a line for each of PARTS, and no other."""
    lines = data.decode(errors="replace").splitlines()
    found = [SUMS_LINE.fullmatch(line) for line in lines]
    sums = {match[2]: match[1] for match in found if match}
    if len(lines) != len(parts) or set(sums) != set(parts):
        raise LabError(f"the bundle's {SUMS} does not list {', '.join(parts)}")
    return sums


# -- what `docker save`'s tar holds: kept small, and naming no tag ---------------------------


@dataclass
class Inventory:
    """What `load` needs of `docker save`'s tar: its manifest and index, and of each image
    config its ID and rootfs identity (not its bytes)."""

    part: str = IMAGES  # the bundle's member it is of
    manifest: Any = None
    index: Any = None
    configs: dict[str, SavedConfig] = field(default_factory=dict)  # by member
    manifests: dict[str, str] = field(default_factory=dict)  # manifest digest: config digest
    names: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class SavedConfig:
    id: str  # the SHA-256 of its bytes
    rootfs: str
    platform: str  # os/arch, as its `os` and `architecture` say ("": none)


def scan_images(
    outer: tarfile.TarFile, member: tarfile.TarInfo, path: Path, prefix: str = "load"
) -> tuple[Inventory, str]:
    """Hash an images part (MEMBER) and take stock of the tar inside, in one pass: the
    layers stream past, and no more than JSON_LIMIT of one member is held at a time."""
    work = progress.Work(f"checking {member.name}", "bytes", total=member.size)
    with progress.Progress(work, prefix=prefix) as shown:
        hashed = HashingFile(member_file(outer, member), shown.advance)
        found = inventory_of(hashed, path, member.name)
        shown.finish("hashed")
    return found


def inventory_of(hashed: HashingFile, path: Path, part: str = IMAGES) -> tuple[Inventory, str]:
    inventory = Inventory(part)
    try:
        # The ignore: zstandard's stub asks IO[bytes]; its docs and code take any object with
        # read(), as HashingFile (a RawIOBase) is.
        stream = zstandard.ZstdDecompressor().stream_reader(hashed, read_across_frames=True)  # type: ignore[arg-type]
        with tarfile.open(fileobj=stream, mode="r|", tarinfo=Header) as saved:
            for item in saved:
                note_member(inventory, saved, item)
        sha256 = hashed.drain()
    except Refused as error:
        raise LabError(f"{path}: {part}: {error}") from None
    except (tarfile.TarError, zstandard.ZstdError, EOFError, OSError, RecursionError) as error:
        raise LabError(f"{path}: {part} is damaged or truncated ({error})") from None
    return inventory, sha256


def note_member(inventory: Inventory, saved: tarfile.TarFile, item: tarfile.TarInfo) -> None:
    """Note one member: refuse one that tags images or is not named as `docker save` names
    them; keep the manifest, the index and each config's digests."""
    name = new_name(inventory, item.name)
    if name == LEGACY_TAGS:
        raise Refused(f"it holds a `{LEGACY_TAGS}` file, with which `docker load` tags images")
    if name in (MANIFEST, INDEX):
        if not plain(item) or item.size > JSON_LIMIT:
            raise Refused(f"its {name} is not a plain file of at most {JSON_LIMIT:,} bytes")
        value = untrusted.json_value(member_file(saved, item).read(), f"{inventory.part}'s {name}")
        setattr(inventory, name.removesuffix(".json"), value)
    elif CONFIG_NAME.fullmatch(name) and plain(item) and item.size <= JSON_LIMIT:
        note_config(inventory, name, member_file(saved, item).read())


def new_name(inventory: Inventory, name: str) -> str:
    if len(inventory.names) >= MAX_MEMBERS:
        raise Refused(f"it holds over {MAX_MEMBERS:,} members (the lab's images: about 100)")
    if not MEMBER_NAME.fullmatch(name) or {".", ".."} & set(name.split("/")):
        shown = untrusted.text(repr(name), 100)
        raise Refused(f"a member is named {shown}, not as `docker save` names them")
    if name in inventory.names:
        raise Refused(f"it holds {name} twice")
    inventory.names.add(name)
    return name


def note_config(inventory: Inventory, name: str, data: bytes) -> None:
    """An image config's ID (the SHA-256 of its bytes, whatever its name says) and rootfs
    identity, or an image manifest's digest and the config it names (what the containerd
    store loads, and names the image by); anything else (a small layer) is dropped."""
    found = identity.config_facts(data)
    if found is not None:
        inventory.configs[name] = SavedConfig(*found, platform=config_platform(data))
    elif (config := manifest_config_digest(data)) is not None:
        inventory.manifests["sha256:" + hashlib.sha256(data).hexdigest()] = config


def config_platform(data: bytes) -> str:
    """The `os/architecture` an image config (DATA) says it runs on; "" where it says none."""
    value = untrusted.json_value(data, "an image config")  # it parsed as one: no error here
    os_name, architecture = value.get("os"), value.get("architecture")
    if not (isinstance(os_name, str) and isinstance(architecture, str)):
        return ""
    return identity.platform_of(os_name, architecture)


def manifest_config_digest(data: bytes) -> str | None:
    """The config digest an image manifest (DATA) names, or None where DATA is none."""
    try:
        value = untrusted.json_value(data, "an image manifest")
        config = value["config"]["digest"] if isinstance(value.get("layers"), list) else None
    except (LabError, KeyError, TypeError, AttributeError):
        return None
    return config if isinstance(config, str) and CONFIG_DIGEST.fullmatch(config) else None


def saved_images(inventory: Inventory, path: Path, part: Part) -> dict[str, str]:
    """{rootfs identity: image ID} of each image manifest.json lists, each of PART's platform."""
    where = f"{path}: {part.name}"
    if not isinstance(inventory.manifest, list) or not inventory.manifest:
        raise LabError(f"{where} is not a `docker save` of images (its {MANIFEST} lists none)")
    check_index(inventory.index, where)
    by_rootfs: dict[str, str] = {}
    for entry in inventory.manifest:
        config = manifest_config(entry, where)
        if config not in inventory.configs:
            shown = untrusted.text(config, 100)
            raise LabError(f"{where} lacks the image config {shown} its {MANIFEST} names")
        require_layers(entry["Layers"], inventory, where)
        saved = inventory.configs[config]
        require_platform_of(saved, part, where)
        if saved.rootfs in by_rootfs:
            raise LabError(f"{where} holds two images with the rootfs {saved.rootfs[:19]}")
        by_rootfs[saved.rootfs] = saved.id
    return by_rootfs


def require_platform_of(saved: SavedConfig, part: Part, where: str) -> None:
    """The evidence of an image's platform (its config's `os` and `architecture`, hashed as
    the config the lock names) is the one its part's name and lock claim."""
    if not identity.runs_on(saved.platform, part.platform):
        shown = untrusted.text(saved.platform, 60) or "no platform"
        raise LabError(
            f"{where} holds an image of {shown} (its config says), not {part.platform}: "
            "use the class's bundle"
        )


def require_layers(layers: list[str], inventory: Inventory, where: str) -> None:
    """Every layer manifest.json names is in the tar (a store lacking one saves without it)."""
    missing = [layer for layer in layers if layer not in inventory.names]
    if missing:
        shown = untrusted.text(missing[0], 100)
        raise LabError(
            f"{where} lacks {len(missing)} of the layers its {MANIFEST} names ({shown}, ...)"
        )


def manifest_config(entry: Any, where: str) -> str:
    """The config one entry of manifest.json names; any tag (RepoTags) is refused."""
    if not isinstance(entry, dict) or not isinstance(entry.get("Config"), str):
        raise LabError(f"{where}: an entry of its {MANIFEST} names no config")
    layers = entry.get("Layers")
    if not isinstance(layers, list) or not all(isinstance(layer, str) for layer in layers):
        raise LabError(f"{where}: an entry of its {MANIFEST} lists no layers")
    tags = entry.get("RepoTags")
    if tags is not None and tags != []:
        shown = untrusted.text(", ".join(map(str, tags)) if isinstance(tags, list) else str(tags))
        raise LabError(
            f"{where} would tag images (RepoTags {shown[:300]}): a lab bundle tags nothing; "
            "use the class's bundle"
        )
    return entry["Config"]


def check_index(index: Any, where: str) -> None:
    """An OCI index (a `docker save` of Docker 25 or later) must name no image either."""
    if index is None:
        return
    manifests = index.get("manifests") if isinstance(index, dict) else None
    if not isinstance(manifests, list) or not all(isinstance(m, dict) for m in manifests):
        raise LabError(f"{where}: its {INDEX} is not an OCI index")
    for descriptor in manifests:
        annotations = descriptor.get("annotations") or {}
        named = NAMING_ANNOTATIONS & set(annotations) if isinstance(annotations, dict) else {"?"}
        if named:
            raise LabError(f"{where}: its {INDEX} names images, which `docker load` would tag")


def match_images(part: Part, by_rootfs: dict[str, str], path: Path) -> dict[str, str]:
    """Each locked image's ID: PART holds the images the lock names for its platform, and
    no other."""
    ids = {}
    for name, entry in part.lock.items():
        if entry.rootfs not in by_rootfs:
            raise LabError(
                f"{path}: its {name} image's rootfs is not the one its lock names "
                f"for {part.platform}"
            )
        ids[name] = by_rootfs[entry.rootfs]
    for rootfs, image_id in by_rootfs.items():
        if image_id not in ids.values():
            raise LabError(
                f"{path}: {part.name} holds an image its lock does not name "
                f"(rootfs {rootfs[:19]}): use the class's bundle"
            )
    return ids


# -- docker load: untagged, and the engine's tags as they were -------------------------------


def engine_tags() -> dict[str, str]:
    """{repository:tag: image ID} of every tagged image on the engine."""
    out = docker.docker(
        ["image", "ls", "--no-trunc", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}"]
    )
    rows = (line.split() for line in out.splitlines())
    return {row[0]: row[1] for row in rows if len(row) == 2 and "<none>" not in row[0]}


def load_untagged(path: Path, checked: Checked) -> list[str]:
    """`docker load`, then the engine's tags as they were before it; the IDs it loaded. The
    checks refuse a bundle that names a tag; this undoes one they missed, or one in a file
    changed since."""
    before = engine_tags()
    try:
        return docker_load(path, checked)
    finally:
        restore_tags(before, path)


def restore_tags(before: dict[str, str], path: Path) -> None:
    """Put back each tag the load moved, remove each it added; then one line saying so.
    (A tag another program changed meanwhile is taken for the load's.)"""
    changed = {ref for ref, image_id in engine_tags().items() if before.get(ref) != image_id}
    if not changed:
        return
    for ref in sorted(changed):
        if ref in before:
            docker.docker(["tag", "--", before[ref], ref], check=False)
        else:
            docker.docker(["rmi", "--", ref], check=False)
    left = {ref for ref, image_id in engine_tags().items() if before.get(ref) != image_id}
    undone = f"could not undo {', '.join(sorted(left))}" if left else "undone"
    raise LabError(
        untrusted.text(
            f"`docker load` of {path} tagged {', '.join(sorted(changed))} ({undone}): the bundle "
            "names tags, which a lab bundle never does; nothing of it was tagged",
            600,
        )
    )


LOADED_ID = re.compile(r"Loaded image ID: (sha256:[0-9a-f]{64})")


def loaded_ids(said: str) -> list[str]:
    """The image IDs `docker load` says it loaded (SAID, its output): config digests on the
    classic store, manifest digests on the containerd store."""
    return [found[1] for line in said.splitlines() if (found := LOADED_ID.fullmatch(line.strip()))]


def docker_load(path: Path, checked: Checked) -> list[str]:
    """Stream the checked images part, decompressed, into `docker load` (which tags nothing:
    the images were saved by ID); the IDs it loaded."""
    with docker.popen(
        ["load"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,  # a line per image (the lock names each): it cannot fill
        stderr=subprocess.PIPE,  # a few lines at most: it cannot fill the pipe
    ) as loading:
        stdin, stdout, stderr = loading.stdin, loading.stdout, loading.stderr
        assert stdin is not None and stdout is not None and stderr is not None  # all PIPEs
        try:
            sha256 = feed(path, stdin, checked.part)
        finally:
            with contextlib.suppress(BrokenPipeError):
                stdin.close()
        said, err = stdout.read(), stderr.read()
        loading.wait()
    if loading.returncode != 0:
        reason = docker.error_line(err)
        raise LabError(f"`docker load` of {path} failed, nothing was tagged: {reason}")
    if sha256 != checked.images_sha256:  # the file changed between the check and the load
        raise LabError(f"{path} changed while it was loaded: nothing was tagged")
    return loaded_ids(said.decode(errors="replace"))


def feed(path: Path, sink: IO[bytes], part: str = IMAGES) -> str:
    """The images PART, decompressed, into SINK; the SHA-256 of the compressed bytes read."""
    try:
        with tarfile.open(path, "r:", tarinfo=Header) as outer:
            member = outer.getmember(part)
            work = progress.Work(f"docker load of {part}", "bytes", total=member.size)
            with progress.Progress(work, prefix="load") as shown:
                # A plain file still (Refused, a TarError, where the file changed since).
                hashed = HashingFile(member_file(outer, member), shown.advance)
                # The ignore: as inventory_of's.
                stream = zstandard.ZstdDecompressor().stream_reader(hashed, read_across_frames=True)  # type: ignore[arg-type]
                with contextlib.suppress(BrokenPipeError):  # docker load stopped: it says why
                    shutil.copyfileobj(stream, sink, CHUNK)
                return hashed.drain()
    except (tarfile.TarError, zstandard.ZstdError, EOFError, KeyError) as error:
        raise LabError(
            f"{path} changed since it was checked ({error}): nothing was tagged"
        ) from None
