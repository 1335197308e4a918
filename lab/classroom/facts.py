"""This machine's images as facts (`invoke doctor --json`) and how two sets of them differ
(`invoke doctor --compare FILE`, where FILE is another machine's `--json` or a lab.lock)."""

from __future__ import annotations

import secrets
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from lab import untrusted
from lab.classroom import lockfile
from lab.classroom.lockfile import LockedImage
from lab.config import ALL_VARIANTS, Variant
from lab.engine import docker
from lab.errors import LabError
from lab.images import identity

FACTS_FORMAT = 1
FINGERPRINT_FILE = "/etc/lab/fingerprint.json"
# Derived from the other fields: a difference there is already named field by field.
DERIVED_FIELDS = {"digest", "debian_packages_digest"}
# Fields that hold {name: version}, compared name by name: {field: how a line names one}.
PACKAGE_FIELDS = {"packages": "package", "debian_packages": "Debian package"}
REFERENCE_LIMIT = 16 << 20  # bytes of another machine's JSON: its own is about 200 KB
FINGERPRINT_LIMIT = 4 << 20  # bytes an image may print as its fingerprint
# The fingerprint is read as a station's container runs (compose.yaml): the image is no
# more trusted than what runs in it. Only `cat` of one file, so small limits, no writes.
FINGERPRINT_RUN = [
    "--network", "none", "--cap-drop", "ALL", "--security-opt", "no-new-privileges",
    "--read-only", "--memory", "64m", "--memory-swap", "64m", "--pids-limit", "16",
    "--log-driver", "none", "--entrypoint", "cat",
]  # fmt: skip


def fingerprint(image: str) -> dict:
    """The fingerprint IMAGE recorded when it was built, read in a locked-down container."""
    uid, gid = docker.host_ids()
    name = f"lab-fingerprint-{secrets.token_hex(6)}"
    args = [
        "run",
        "--rm",
        "--name",
        name,
        "--user",
        f"{uid}:{gid}",
        *FINGERPRINT_RUN,
        image,
        FINGERPRINT_FILE,
    ]
    what = f"{image}'s {FINGERPRINT_FILE}"
    try:
        code, out, err = docker.run_bounded(args, FINGERPRINT_LIMIT, 60, what)
        if code != 0:
            raise LabError(f"reading {what} failed: {docker.error_line(err, limit=200)}")
    except LabError:
        docker.remove(name)  # a client killed leaves it running
        raise
    found = untrusted.json_value(out, what)
    lockfile.check_fingerprint(found, what)
    return found


def local_image(variant: Variant, exact: bool = False, name: str = "") -> LockedImage | None:
    """What VARIANT's image here is (None: not built): the entry a lock would hold for it.

    Its config digest is the image ID on the classic store; on the containerd store it
    takes a `docker save`, paid only where EXACT (a lock or bundle is made): doctor leaves
    it out there (None), and compares the rootfs alone. NAME: the local image read, where
    not the variant's own (another platform's, `lab-cpython:stock-linux-arm64`).
    """
    name = name or variant.image
    facts = identity.inspect(name)
    if facts is None:
        return None
    exact = exact or not identity.containerd_store(docker.engine_info())
    return LockedImage(
        variant=variant.name,
        image=variant.locked_name,
        platform=facts.platform,
        rootfs=facts.rootfs,
        fingerprint=fingerprint(name),
        config=identity.config_digest(name) if exact else None,
    )


def built_image(variant: Variant, name: str = "") -> LockedImage:
    """local_image, where the image must be built (and its config digest known)."""
    image = local_image(variant, exact=True, name=name)
    if image is None:
        raise LabError(
            f"{name or variant.image} is not built: run `invoke images --variant {variant.name}`"
        )
    return image


def local_images(variants: Iterable[Variant] = ALL_VARIANTS.values()) -> dict:
    """{variant: LockedImage or None}, one container start per image, side by side."""
    chosen = list(variants)
    with ThreadPoolExecutor() as pool:
        found = list(pool.map(local_image, chosen))
    return {v.name: image for v, image in zip(chosen, found, strict=True)}


def as_entry(image: LockedImage | None) -> dict | None:
    if image is None:
        return None
    return {k: getattr(image, k) for k in ("image", "platform", "rootfs", "config", "fingerprint")}


def machine_facts() -> dict:
    """`invoke doctor --json`: the engine, and every image of the lab (null: not built)."""
    return {
        "lab_facts": FACTS_FORMAT,
        "engine": engine_facts(),
        "images": {name: as_entry(image) for name, image in local_images().items()},
    }


def engine_facts() -> dict[str, str]:
    """The engine's version, platform and kind (Docker, Podman, Docker Desktop, rootless
    Docker or Podman): a hand-in's results are read knowing which engine made them."""
    version = docker.require_engine()
    kind = docker.engine_kind(docker.engine_server(), docker.engine_info())
    return {"version": version, "kind": kind, "platform": identity.engine_platform()}


Images = dict[str, dict | None]  # {variant: a lock entry's fields, or None: not built}


def read_reference(path: Path, platform: str | None = None) -> Images:
    """The images FILE describes for PLATFORM (platform_reference), by variant."""
    return platform_reference(read_references(path), platform, str(path))[1]


def read_references(path: Path) -> dict[str, Images]:
    """{platform: images} FILE describes: a lab.lock's every platform (only the variants it
    locks), or a `doctor --json`'s images (every variant, null where not built) under "".
    Another machine's file is untrusted: bounded, and every entry checked as a lock's is."""
    raw = untrusted.json_file(path, REFERENCE_LIMIT)
    neither = LabError(f"{path} is neither `invoke doctor --json` output nor a lab.lock")
    if not isinstance(raw, dict):
        raise neither
    if lockfile.is_format(raw.get("lab_lock")):
        lock = lockfile.lock_from_json(raw, str(path))
        return {p: as_entries(lock.select(p, str(path))) for p in lock.platforms()}
    if not lockfile.is_format(raw.get("lab_facts"), (FACTS_FORMAT,)):
        raise neither
    if not isinstance(raw.get("images"), dict):
        raise neither
    images = {name: facts_entry(name, entry, str(path)) for name, entry in raw["images"].items()}
    return {"": images}  # one machine's, compared whatever its platform (a line says so)


def as_entries(images: dict[str, LockedImage]) -> Images:
    return {name: as_entry(image) for name, image in images.items()}


def platform_reference(
    references: dict[str, Images], platform: str | None, source: str
) -> tuple[str, Images]:
    """(the platform compared, its images): PLATFORM's, or the only ones there are (their
    platform then differs, a line says so); PLATFORM None: the engine's."""
    if len(references) == 1:
        return next(iter(references.items()))
    wanted = platform or identity.engine_platform()
    for found, images in references.items():
        if identity.runs_on(found, wanted):
            return found, images
    raise LabError(f"{source} has no {wanted} images: it locks {', '.join(sorted(references))}")


def facts_entry(name: str, entry: Any, source: str) -> dict | None:
    """One image of a `doctor --json`: null (not built there), or a lock's entry's fields."""
    if entry is None:
        lockfile.check_variant(name, source)
        return None
    return as_entry(lockfile.checked_entry(name, entry, source))


def shown(value: Any) -> str:
    """A value from either side, as a line may hold it: the other side's is untrusted."""
    return untrusted.text(str(value), 200)


def differences(here: dict[str, dict | None], there: dict[str, dict | None]) -> list[str]:
    """Every difference, a line each, over the variants THERE speaks of."""
    lines = []
    for variant in there:
        mine, theirs = here.get(variant), there[variant]
        if mine is None and theirs is None:
            continue
        if mine is None or theirs is None:
            where = "missing here" if mine is None else "missing there"
            lines.append(f"{shown(variant)}: image {where}")
            continue
        for key in ("rootfs", "config", "platform"):
            if key == "config" and None in (mine.get(key), theirs.get(key)):
                continue  # a lock or an image recorded before configs were locked
            if mine.get(key) != theirs.get(key):
                ours, other = shown(mine.get(key)), shown(theirs.get(key))
                lines.append(f"{shown(variant)}: {key}: {ours} here, {other} there")
        lines += [f"{shown(variant)}: {line}" for line in fingerprint_differences(mine, theirs)]
    return lines


def fingerprint_differences(mine: dict, theirs: dict) -> list[str]:
    a, b = mine.get("fingerprint") or {}, theirs.get("fingerprint") or {}
    lines = []
    for key in sorted((set(a) | set(b)) - DERIVED_FIELDS):
        if key not in a or key not in b:
            where = "here" if key not in a else "there"
            lines.append(
                f"{shown(key)}: not recorded {where} (an image built before the lab recorded it)"
            )
        elif key in PACKAGE_FIELDS and isinstance(a[key], dict) and isinstance(b[key], dict):
            lines += package_differences(PACKAGE_FIELDS[key], a[key], b[key])
        elif a[key] != b[key]:
            lines.append(f"{shown(key)}: {shown(a[key])} here, {shown(b[key])} there")
    return lines


def package_differences(label: str, mine: dict, theirs: dict) -> list[str]:
    lines = []
    for name in sorted(set(mine) | set(theirs)):
        here, there = mine.get(name, "not installed"), theirs.get(name, "not installed")
        if here != there:
            lines.append(f"{label} {shown(name)}: {shown(here)} here, {shown(there)} there")
    return lines
