"""This machine's images as facts (`invoke doctor --json`) and how two sets of them differ
(`invoke doctor --compare FILE`, where FILE is another machine's `--json` or a lab.lock)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from lab import docker, identity
from lab.config import ALL_VARIANTS, Variant
from lab.errors import LabError
from lab.lockfile import FORMAT as LOCK_FORMAT
from lab.lockfile import LockedImage

FACTS_FORMAT = 1
FINGERPRINT_FILE = "/etc/lab/fingerprint.json"
# Derived from the other fields: a difference there is already named field by field.
DERIVED_FIELDS = {"digest", "debian_packages_digest"}
# Fields that hold {name: version}, compared name by name: {field: how a line names one}.
PACKAGE_FIELDS = {"packages": "package", "debian_packages": "Debian package"}


def fingerprint(image: str) -> dict:
    """The fingerprint IMAGE recorded when it was built."""
    out = docker.docker(["run", "--rm", "--network", "none", image, "cat", FINGERPRINT_FILE])
    try:
        return json.loads(out)
    except json.JSONDecodeError:
        raise LabError(f"{image}'s {FINGERPRINT_FILE} is not JSON") from None


def local_image(variant: Variant) -> LockedImage | None:
    """What VARIANT's image here is (None: not built): the entry a lock would hold for it."""
    facts = identity.inspect(variant.image)
    if facts is None:
        return None
    return LockedImage(
        variant=variant.name,
        image=variant.image,
        platform=facts.platform,
        rootfs=facts.rootfs,
        fingerprint=fingerprint(variant.image),
    )


def built_image(variant: Variant) -> LockedImage:
    """local_image, where the image must be built."""
    image = local_image(variant)
    if image is None:
        raise LabError(
            f"{variant.image} is not built: run `invoke images --variant {variant.name}`"
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
    return {k: getattr(image, k) for k in ("image", "platform", "rootfs", "fingerprint")}


def machine_facts() -> dict:
    """`invoke doctor --json`: the engine, and every image of the lab (null: not built)."""
    return {
        "lab_facts": FACTS_FORMAT,
        "engine": {"version": docker.require_engine(), "platform": identity.engine_platform()},
        "images": {name: as_entry(image) for name, image in local_images().items()},
    }


def read_reference(path: Path) -> dict[str, dict | None]:
    """The images FILE describes, by variant: a `doctor --json` (every variant, null where not
    built) or a lab.lock (only the variants it locks)."""
    try:
        raw = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise LabError(f"cannot compare with {path}: {error}") from None
    raw = raw if isinstance(raw, dict) else {}
    known = raw.get("lab_facts") == FACTS_FORMAT or raw.get("lab_lock") == LOCK_FORMAT
    if not known or not isinstance(raw.get("images"), dict):
        raise LabError(f"{path} is neither `invoke doctor --json` output nor a lab.lock")
    return raw["images"]


def differences(here: dict[str, dict | None], there: dict[str, dict | None]) -> list[str]:
    """Every difference, a line each, over the variants THERE speaks of."""
    lines = []
    for variant in there:
        mine, theirs = here.get(variant), there[variant]
        if mine is None and theirs is None:
            continue
        if mine is None or theirs is None:
            lines.append(f"{variant}: image {'missing here' if mine is None else 'missing there'}")
            continue
        for key in ("rootfs", "platform"):
            if mine.get(key) != theirs.get(key):
                lines.append(f"{variant}: {key}: {mine.get(key)} here, {theirs.get(key)} there")
        lines += [f"{variant}: {line}" for line in fingerprint_differences(mine, theirs)]
    return lines


def fingerprint_differences(mine: dict, theirs: dict) -> list[str]:
    a, b = mine.get("fingerprint") or {}, theirs.get("fingerprint") or {}
    lines = []
    for key in sorted((set(a) | set(b)) - DERIVED_FIELDS):
        if key not in a or key not in b:
            where = "here" if key not in a else "there"
            lines.append(f"{key}: not recorded {where} (an image built before the lab recorded it)")
        elif key in PACKAGE_FIELDS and isinstance(a[key], dict) and isinstance(b[key], dict):
            lines += package_differences(PACKAGE_FIELDS[key], a[key], b[key])
        elif a[key] != b[key]:
            lines.append(f"{key}: {a[key]} here, {b[key]} there")
    return lines


def package_differences(label: str, mine: dict, theirs: dict) -> list[str]:
    lines = []
    for name in sorted(set(mine) | set(theirs)):
        here, there = mine.get(name, "not installed"), theirs.get(name, "not installed")
        if here != there:
            lines.append(f"{label} {name}: {here} here, {there} there")
    return lines
