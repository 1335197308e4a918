"""`invoke bundle` and `invoke load`: the classroom's images as one file, for a room
without a network (a USB stick).

A bundle is a plain tar of three parts, in this order:
  SHA256SUMS       the SHA-256 of the two parts below
  lab.lock         the lock of the images inside (lab/classroom/lockfile.py)
  images.tar.zst   `docker save` of those images by ID (layers they share are stored once),
                   compressed with zstd
`load` checks all of it before the engine sees a byte, then loads the images untagged
(they were saved by ID), checks each one's rootfs identity and config again, and only then
tags them under the lab's names. A truncated or altered bundle loads nothing and names the
part; a load that fails a check after `docker load` removes what it loaded. `bundle` makes
the same checks of the file it wrote before it is put in place.

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
lab.lock names. Every part is streamed: what is kept in memory is capped, part by part.
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
from lab.classroom.lockfile import LockedImage
from lab.classroom.registry import chosen_variants
from lab.config import ALL_VARIANTS
from lab.engine import docker
from lab.errors import LabError
from lab.files import write_atomically
from lab.images import identity
from lab.untrusted_tar import Header, Refused, kind, member_file, plain

if TYPE_CHECKING:
    from _typeshed import ReadableBuffer, SupportsRead, WriteableBuffer

SUMS, LOCK, IMAGES = "SHA256SUMS", "lab.lock", "images.tar.zst"
PARTS = (SUMS, LOCK, IMAGES)
CHUNK = 1 << 20
ZSTD_LEVEL = 3  # level 19 saves a further ~10% for ten times the time
# What is read into memory, at most, from an untrusted bundle (a real one's is far less):
SUMS_LIMIT = 4096  # SHA256SUMS: two lines
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


def bundle(output: Path, names: str | None, lock_path: Path = lockfile.LOCK_FILE) -> dict:
    """Write OUTPUT whole or not at all; returns the figures (bytes, images)."""
    docker.require_engine()
    images = locked_images(names, lock_path)
    ids = [saved.id for saved in images.values()]
    lock = {name: saved.locked for name, saved in images.items()}
    print(f"[bundle] docker save {', '.join(images)} | zstd -> {output}", flush=True)
    return write_bundle(output, lock, lambda path: save_compressed(ids, path), verify=verify)


def verify(path: Path, lock: dict[str, LockedImage]) -> None:
    """The bundle at PATH passes every check load makes, against the lock it was made from.
    `docker save` exits 0 with an image it cannot write whole: the containerd store, holding
    a manifest whose layers it lacks, wrote 40 KB with no layers at all."""
    print("[bundle] checking it as `invoke load` will", flush=True)
    try:
        check(path, None, lock, prefix="bundle")
    except LabError as error:
        reason = str(error).replace(f"{path}: ", "")  # a scratch file's name says nothing
        raise LabError(
            f"no bundle written: what `docker save` wrote fails load's checks: {reason}"
        ) from None


def write_bundle(
    output: Path,
    lock: dict[str, LockedImage],
    write_images: Callable[[Path], str],
    verify: Callable[[Path, dict[str, LockedImage]], None] | None = None,
) -> dict:
    """Assemble the three parts in a scratch folder beside OUTPUT, check the whole (VERIFY),
    then move it into place. WRITE_IMAGES writes images.tar.zst to the path it is given;
    returns its SHA-256."""
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

        def parts(out: BinaryIO) -> None:
            with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as bundled:
                for part in PARTS:
                    bundled.add(scratch / part, arcname=part)

        def whole(aside: Path) -> None:  # checked as `load` would, before it lands
            if verify is not None:
                verify(aside, lock)

        write_atomically(output, parts, check=whole)
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
    """The images to bundle, each with its lock entry and config digest (the published
    entry where the repo's lab.lock names this very image, so the bundle's lock carries the
    registry digests)."""
    published = lockfile.read(lock_path) if lock_path.is_file() else {}
    chosen = {}
    for variant in chosen_variants(names):
        local = facts.built_image(variant)  # its config digest too: read once (a save)
        same = published.get(variant.name)
        if same is not None and same.rootfs == local.rootfs and same.config in (None, local.config):
            local = replace(local, repository=same.repository, digest=same.digest)
        found = identity.inspect(variant.image)
        if found is None:  # removed since built_image read it
            raise LabError(f"{variant.image} was removed while the bundle was being made")
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
    """A bundle that passed every check: its lock, and each locked image's ID inside."""

    lock: dict[str, LockedImage]
    image_ids: dict[str, str]  # variant -> image ID (the config's digest)
    images_sha256: str
    manifests: dict[str, str] = field(default_factory=dict)  # manifest digest -> config's


def load(path: Path, lock_path: Path = lockfile.LOCK_FILE) -> Checked:
    require_file(path)
    reference = lockfile.read(lock_path) if lock_path.is_file() else {}
    docker.require_engine()
    print(f"[load] checking {path}: its sums, its lock, each image's rootfs and config", flush=True)
    checked = check(path, identity.engine_platform(), reference)
    if note := unpinned_note(checked, reference, lock_path):
        print(note, flush=True)
    print(f"[load] loading {', '.join(checked.image_ids)} into the engine", flush=True)
    before = engine_images()
    try:
        found = find_loaded(checked, load_untagged(path, checked))
    except LabError as error:
        removed = remove_loaded(before)
        raise LabError(f"{error}{removed}") from None
    for name, image_id in found.items():  # everything checked: now the names
        docker.docker(["tag", "--", image_id, ALL_VARIANTS[name].image])
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


def check(
    path: Path,
    engine_platform: str | None,
    reference: dict[str, LockedImage],
    prefix: str = "load",
) -> Checked:
    """Every check `load` makes before the engine sees the bundle; no engine needed.
    ENGINE_PLATFORM None: any platform (bundle's own check of an image built here).
    PREFIX: whose lines the scan's progress is (`[load]`, `[bundle]`)."""
    with open_bundle(path) as (outer, parts):
        sums = parse_sums(read_part(outer, parts[SUMS], SUMS_LIMIT, path))
        lock_bytes = read_part(outer, parts[LOCK], LOCK_LIMIT, path)
        if hashlib.sha256(lock_bytes).hexdigest() != sums[LOCK]:
            raise LabError(f"{path}: {LOCK} does not match {SUMS}: the bundle was altered")
        lock = lockfile.parse(lock_bytes, f"{path}'s {LOCK}")  # every field, variant names too
        check_lock(path, lock, engine_platform, reference)  # before reading gigabytes
        inventory, images_sha256 = scan_images(outer, parts[IMAGES], path, prefix)
    if images_sha256 != sums[IMAGES]:
        raise LabError(f"{path}: {IMAGES} does not match {SUMS}: the bundle was altered or damaged")
    image_ids = match_images(lock, saved_images(inventory, path), path)
    check_configs(path, lock, image_ids, reference)
    return Checked(lock, image_ids, images_sha256, inventory.manifests)


def check_lock(
    path: Path, lock: dict[str, LockedImage], engine_platform: str | None, reference: dict
) -> None:
    """The bundle's images run here, and they are the ones the class's lab.lock names."""
    if not lock:
        raise LabError(f"{path}'s {LOCK} names no image: a lab bundle holds at least one")
    for name, entry in lock.items():
        if engine_platform is not None and not identity.runs_on(entry.platform, engine_platform):
            raise LabError(
                f"{path} holds {entry.platform} images ({name}), and this engine runs "
                f"{engine_platform}: make a bundle on (or for) this platform"
            )
        if name in reference and reference[name].rootfs != entry.rootfs:
            raise LabError(
                f"{path}'s {name} is not the image lab.lock names "
                f"({entry.rootfs[:19]} vs {reference[name].rootfs[:19]}): use the class's bundle"
            )
        if name in reference and entry.config is not None:  # its claim, before gigabytes
            require_config(path, name, entry.config, reference[name].config, "lab.lock")


def check_configs(
    path: Path, lock: dict[str, LockedImage], image_ids: dict[str, str], reference: dict
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
            require_end_of_archive(path, parts[IMAGES])
            yield outer, parts
    except Refused as error:
        raise LabError(f"{path}: {error}") from None
    except (tarfile.TarError, EOFError, zstandard.ZstdError, RecursionError) as error:
        raise LabError(f"{path} is truncated or damaged ({error})") from None
    except OSError as error:
        raise LabError(f"cannot read {path}: {error.strerror or error}") from None


def bundle_parts(outer: tarfile.TarFile, path: Path) -> dict[str, tarfile.TarInfo]:
    """The three parts, in order, each a plain file; no header past a fourth is read."""
    members: list[tarfile.TarInfo] = []
    while len(members) <= len(PARTS) and (member := outer.next()) is not None:
        members.append(member)
    names = [member.name for member in members]
    if tuple(names) != PARTS:
        shown = untrusted.text(str(names), 300)
        raise LabError(f"{path} is not a lab bundle (parts {shown}, not {list(PARTS)})")
    for member in members:
        if not plain(member):
            raise LabError(f"{path}: its {member.name} is not a plain file (a {kind(member)})")
    return dict(zip(names, members, strict=True))


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


def parse_sums(data: bytes) -> dict[str, str]:
    lines = data.decode(errors="replace").splitlines()
    found = [SUMS_LINE.fullmatch(line) for line in lines]
    sums = {match[2]: match[1] for match in found if match}
    if len(lines) != 2 or set(sums) != {LOCK, IMAGES}:
        raise LabError(f"the bundle's {SUMS} does not list {LOCK} and {IMAGES}")
    return sums


# -- what `docker save`'s tar holds: kept small, and naming no tag ---------------------------


@dataclass
class Inventory:
    """What `load` needs of `docker save`'s tar: its manifest and index, and of each image
    config its ID and rootfs identity (not its bytes)."""

    manifest: Any = None
    index: Any = None
    configs: dict[str, tuple[str, str]] = field(default_factory=dict)  # member: (ID, rootfs)
    manifests: dict[str, str] = field(default_factory=dict)  # manifest digest: config digest
    names: set[str] = field(default_factory=set)


def scan_images(
    outer: tarfile.TarFile, member: tarfile.TarInfo, path: Path, prefix: str = "load"
) -> tuple[Inventory, str]:
    """Hash images.tar.zst and take stock of the tar inside, in one pass: the layers stream
    past, and no more than JSON_LIMIT of one member is held at a time."""
    work = progress.Work(f"checking {IMAGES}", "bytes", total=member.size)
    with progress.Progress(work, prefix=prefix) as shown:
        hashed = HashingFile(member_file(outer, member), shown.advance)
        found = inventory_of(hashed, path)
        shown.finish("hashed")
    return found


def inventory_of(hashed: HashingFile, path: Path) -> tuple[Inventory, str]:
    inventory = Inventory()
    try:
        # The ignore: zstandard's stub asks IO[bytes]; its docs and code take any object with
        # read(), as HashingFile (a RawIOBase) is.
        stream = zstandard.ZstdDecompressor().stream_reader(hashed, read_across_frames=True)  # type: ignore[arg-type]
        with tarfile.open(fileobj=stream, mode="r|", tarinfo=Header) as saved:
            for item in saved:
                note_member(inventory, saved, item)
        sha256 = hashed.drain()
    except Refused as error:
        raise LabError(f"{path}: {IMAGES}: {error}") from None
    except (tarfile.TarError, zstandard.ZstdError, EOFError, OSError, RecursionError) as error:
        raise LabError(f"{path}: {IMAGES} is damaged or truncated ({error})") from None
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
        value = untrusted.json_value(member_file(saved, item).read(), f"{IMAGES}'s {name}")
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
        inventory.configs[name] = found
    elif (config := manifest_config_digest(data)) is not None:
        inventory.manifests["sha256:" + hashlib.sha256(data).hexdigest()] = config


def manifest_config_digest(data: bytes) -> str | None:
    """The config digest an image manifest (DATA) names, or None where DATA is none."""
    try:
        value = untrusted.json_value(data, "an image manifest")
        config = value["config"]["digest"] if isinstance(value.get("layers"), list) else None
    except (LabError, KeyError, TypeError, AttributeError):
        return None
    return config if isinstance(config, str) and CONFIG_DIGEST.fullmatch(config) else None


def saved_images(inventory: Inventory, path: Path) -> dict[str, str]:
    """{rootfs identity: image ID} of each image manifest.json lists."""
    where = f"{path}: {IMAGES}"
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
        image_id, rootfs = inventory.configs[config]
        if rootfs in by_rootfs:
            raise LabError(f"{where} holds two images with the rootfs {rootfs[:19]}")
        by_rootfs[rootfs] = image_id
    return by_rootfs


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


def match_images(
    lock: dict[str, LockedImage], by_rootfs: dict[str, str], path: Path
) -> dict[str, str]:
    """Each locked image's ID: the tar holds the images the lock names, and no other."""
    ids = {}
    for name, entry in lock.items():
        if entry.rootfs not in by_rootfs:
            raise LabError(f"{path}: its {name} image's rootfs is not the one its lock names")
        ids[name] = by_rootfs[entry.rootfs]
    for rootfs, image_id in by_rootfs.items():
        if image_id not in ids.values():
            raise LabError(
                f"{path}: {IMAGES} holds an image its lock does not name (rootfs {rootfs[:19]}): "
                "use the class's bundle"
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
    """Stream images.tar.zst, decompressed, into `docker load` (which tags nothing: the
    images were saved by ID); the IDs it loaded."""
    with docker.popen(
        ["load"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,  # a line per image (the lock names each): it cannot fill
        stderr=subprocess.PIPE,  # a few lines at most: it cannot fill the pipe
    ) as loading:
        stdin, stdout, stderr = loading.stdin, loading.stdout, loading.stderr
        assert stdin is not None and stdout is not None and stderr is not None  # all PIPEs
        try:
            sha256 = feed(path, stdin)
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


def feed(path: Path, sink: IO[bytes]) -> str:
    """Images.tar.zst, decompressed, into SINK; the SHA-256 of the compressed bytes read."""
    try:
        with tarfile.open(path, "r:", tarinfo=Header) as outer:
            member = outer.getmember(IMAGES)
            work = progress.Work(f"docker load of {IMAGES}", "bytes", total=member.size)
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
