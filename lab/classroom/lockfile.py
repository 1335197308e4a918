"""lab.lock: which exact images a classroom runs, written by `invoke publish`.

Format 2 (one lock, several platforms): for each variant its local name, the registry
repository and the multi-platform index it was pushed as, and per platform (`linux/amd64`,
`linux/arm64`) the manifest digest, config digest, rootfs identity (lab/images/identity.py)
and fingerprint. Format 1 (one platform per variant, written before) reads as a lock of one
platform. A caller reads one platform's images ({variant: LockedImage}, `read`), or every
platform's (`Lock`, `read_all`: publish --append, the class page).
The rootfs identity pins the files; the config digest pins how they are run (entrypoint,
command, user, environment, working directory, labels), which the same layers can carry
any of. `invoke pull` fetches exactly those digests, `invoke load` checks a bundle against
it, and `invoke doctor
--compare lab.lock` names every way a machine differs from it. It is JSON, so a diff of
two locks in a pull request reads field by field.
"""

from __future__ import annotations

import json
import os
import re
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

from lab import untrusted
from lab.config import ALL_VARIANTS, ROOT
from lab.errors import LabError
from lab.files import write_atomically
from lab.images import identity

LOCK_FILE = ROOT / "lab.lock"
FORMAT = 2
FORMATS = (1, 2)  # the formats read; 1: one platform per variant
MAX_PLATFORMS = 8  # per variant: amd64 and arm64 today
LOCK_LIMIT = 4 << 20  # bytes: four images' fingerprints take about 100 KB

# A lock is untrusted (it came with a bundle, or in a pull request): every field is checked
# whole before anything reads it. An image reference as docker's grammar has it, so that no
# value can reach `docker pull` as an option or as a path.
_DOMAIN = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*"
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
REPOSITORY = re.compile(rf"(?:{_DOMAIN}(?::[0-9]{{1,5}})?/)?{_COMPONENT}(?:/{_COMPONENT})*")
SHA256 = re.compile(r"sha256:[0-9a-f]{64}")
FIELDS = {  # field: (pattern, what it must be, whether it may be null)
    "image": (
        re.compile(rf"{REPOSITORY.pattern}:[A-Za-z0-9_][A-Za-z0-9_.-]{{0,127}}"),
        "NAME:TAG",
        False,
    ),
    "platform": (re.compile(r"[a-z0-9]+/[a-z0-9_]+(?:/[a-z0-9]+)?"), "OS/ARCH[/VARIANT]", False),
    "rootfs": (SHA256, "sha256:<64 hex>", False),
    "repository": (REPOSITORY, "an image repository (HOST[:PORT]/PATH)", True),
    "digest": (SHA256, "sha256:<64 hex>", True),
    "config": (SHA256, "sha256:<64 hex>", True),  # null or absent: locked before configs were
}
REQUIRED_FIELDS = {"image", "platform", "rootfs", "fingerprint"}
ALLOWED_FIELDS = {*FIELDS, "fingerprint"}
# Fingerprint fields that hold {name: version}; every other field is a JSON scalar.
PACKAGE_FIELDS = ("packages", "debian_packages")


@dataclass(frozen=True)
class LockedImage:
    variant: str
    image: str  # the local name compose.yaml runs: lab-cpython:stock
    platform: str  # linux/amd64
    rootfs: str  # sha256 over the layer diff IDs
    fingerprint: dict
    repository: str | None = None  # 127.0.0.1:5000/class/lab-cpython (None: never pushed)
    digest: str | None = None  # the manifest digest it was pushed as
    config: str | None = None  # the digest of its config JSON blob (None: an older lock)
    index: str | None = None  # the variant's multi-platform index (None: none pushed)

    @property
    def reference(self) -> str:
        """repository@digest: what `docker pull` fetches, and nothing else."""
        if not (self.repository and self.digest):
            raise LabError(f"lab.lock's {self.variant} was never published to a registry")
        return f"{self.repository}@{self.digest}"


@dataclass(frozen=True)
class Lock:
    """Every platform's images: {variant: {platform: LockedImage}}."""

    registry: str | None
    images: dict[str, dict[str, LockedImage]]

    @classmethod
    def of(cls, images: dict[str, LockedImage], registry: str | None) -> Lock:
        """A lock of one platform's IMAGES, {variant: LockedImage}."""
        return cls(registry, {name: {e.platform: e} for name, e in images.items()})

    def platforms(self) -> list[str]:
        return sorted({p for entries in self.images.values() for p in entries})

    def select(self, platform: str | None, source: str) -> dict[str, LockedImage]:
        """PLATFORM's images ({variant: LockedImage}; a variant not built for it is left
        out). No PLATFORM: the lock's one platform, or else the engine's."""
        wanted = platform or self.default_platform()
        chosen = {
            name: found
            for name, entries in self.images.items()
            if (found := entry_for(entries, wanted)) is not None
        }
        if self.images and not chosen:
            has = ", ".join(self.platforms())
            raise LabError(f"{source} has no {wanted} images: it locks {has}")
        return chosen

    def default_platform(self) -> str:
        # Only a lock of several platforms asks the engine: most callers never need one.
        only = self.platforms()
        return only[0] if len(only) == 1 else identity.engine_platform()


def entry_for(entries: dict[str, LockedImage], platform: str) -> LockedImage | None:
    """The entry for PLATFORM: exactly, or one its engine runs natively (`linux/arm64/v8`
    for `linux/arm64`)."""
    if platform in entries:
        return entries[platform]
    same = [e for p, e in entries.items() if identity.runs_on(p, platform)]
    return same[0] if same else None


def read(path: Path = LOCK_FILE, platform: str | None = None) -> dict[str, LockedImage]:
    """The images PATH locks for PLATFORM (Lock.select), by variant; one clear line if it is
    missing or malformed."""
    return read_all(path).select(platform, str(path))


def read_all(path: Path = LOCK_FILE) -> Lock:
    """Every platform's images PATH locks; one clear line if it is missing or malformed."""
    if not os.path.lexists(path):
        raise LabError(f"no {path.name} at {path}: an instructor writes it with `invoke publish`")
    return parse_all(untrusted.regular_file(path, LOCK_LIMIT), str(path))


def class_images(path: Path = LOCK_FILE, platform: str | None = None) -> frozenset[str] | None:
    """The images the class's lock names for PLATFORM (the engine's by default), for a station
    run: None where there is no lock, or one that cannot be read (`invoke doctor` says why),
    and every image is needed."""
    if not os.path.lexists(path):
        return None
    try:
        return frozenset(read(path, platform))
    except LabError:
        return None


def parse(text: str | bytes, source: str, platform: str | None = None) -> dict[str, LockedImage]:
    """The images a lock's TEXT names for PLATFORM (Lock.select), every field checked;
    SOURCE says where it came from, in the one line."""
    return parse_all(text, source).select(platform, source)


def parse_all(text: str | bytes, source: str) -> Lock:
    data = text.encode() if isinstance(text, str) else text
    return lock_from_json(untrusted.json_value(data, source), source)


def from_json(raw: Any, source: str, platform: str | None = None) -> dict[str, LockedImage]:
    """The images of a lock already parsed as JSON (RAW), checked as parse checks them."""
    return lock_from_json(raw, source).select(platform, source)


def lock_from_json(raw: Any, source: str) -> Lock:
    """Every platform's images of a lock parsed as JSON (RAW): format 2, or 1 as one platform."""
    if not isinstance(raw, dict) or not is_format(raw.get("lab_lock")):
        raise LabError(f"{source} is not a lab.lock (format {' or '.join(map(str, FORMATS))})")
    if not isinstance(raw.get("images"), dict):
        raise LabError(f"{source} is not a lab.lock: its images are not a JSON object")
    if not isinstance(raw.get("registry"), (str, type(None))):
        raise LabError(f"{source} is not a lab.lock: its registry is not a string")
    if raw["lab_lock"] == 1:
        one = {name: checked_entry(name, entry, source) for name, entry in raw["images"].items()}
        return Lock.of(one, raw.get("registry"))
    images = {name: checked_variant(name, entry, source) for name, entry in raw["images"].items()}
    return Lock(raw.get("registry"), images)


def is_format(value: Any, formats: tuple[int, ...] = FORMATS) -> bool:
    return type(value) is int and value in formats  # not `true`, which equals 1


VARIANT_FIELDS = {"image", "repository", "index", "platforms"}
PLATFORM_FIELDS = {"digest", "config", "rootfs", "fingerprint"}


def checked_variant(name: str, entry: Any, source: str) -> dict[str, LockedImage]:
    """A format-2 variant: {platform: LockedImage}, each platform's entry checked as a
    format-1 entry is (flattened into one), the index as a digest."""
    check_variant(name, source)
    if not isinstance(entry, dict) or set(entry) != VARIANT_FIELDS:
        raise LabError(
            f"{source}: its {name} entry is not an object of the fields "
            f"{', '.join(sorted(VARIANT_FIELDS))}"
        )
    index, platforms = entry["index"], entry["platforms"]
    if index is not None and not matches(SHA256, index):
        raise LabError(
            f"{source}: {name}'s index is not sha256:<64 hex>: "
            f"{untrusted.text(json.dumps(index)[:100], 80)}"
        )
    if not isinstance(platforms, dict) or not 0 < len(platforms) <= MAX_PLATFORMS:
        raise LabError(f"{source}: {name}'s platforms is not an object of 1 to {MAX_PLATFORMS}")
    found = {}
    for platform, fields in platforms.items():
        if not isinstance(fields, dict) or not set(fields) <= PLATFORM_FIELDS:
            raise LabError(
                f"{source}: {name}'s {untrusted.text(platform, 40)} entry is not "
                f"an object of {', '.join(sorted(PLATFORM_FIELDS))}"
            )
        flat = {
            "image": entry["image"],
            "repository": entry["repository"],
            "platform": platform,
            **fields,
        }
        found[platform] = replace(checked_entry(name, flat, source), index=index)
    return found


def checked_entry(name: str, entry: Any, source: str) -> LockedImage:
    """One image's entry, every field of the right type and form."""
    check_variant(name, source)
    if not isinstance(entry, dict):
        raise LabError(f"{source}: its {name} entry is not a JSON object")
    if not (entry.keys() >= REQUIRED_FIELDS and entry.keys() <= ALLOWED_FIELDS):
        fields = ", ".join(untrusted.text(str(key), 40) for key in sorted(map(str, entry)))
        raise LabError(
            f"{source}: its {name} entry has the fields {fields}, not image, "
            "platform, rootfs, fingerprint[, repository, digest, config]"
        )
    for field, (pattern, form, nullable) in FIELDS.items():
        value = entry.get(field)
        if not (value is None and nullable) and not matches(pattern, value):
            shown = untrusted.text(json.dumps(value)[:100], 80)
            raise LabError(f"{source}: {name}'s {field} is not {form}: {shown}")
    check_fingerprint(entry["fingerprint"], f"{source}: {name}'s fingerprint")
    return LockedImage(variant=name, **entry)


def matches(pattern: re.Pattern, value: Any) -> bool:
    return isinstance(value, str) and len(value) <= 255 and bool(pattern.fullmatch(value))


def check_variant(name: str, source: str) -> None:
    if name not in ALL_VARIANTS:
        raise LabError(
            f"{source} names {untrusted.text(repr(name), 60)}, which is not an "
            f"image of this lab ({', '.join(ALL_VARIANTS)})"
        )


def check_fingerprint(fingerprint: Any, source: str) -> None:
    """What fingerprint.py writes: JSON scalars, and {name: version} in the package fields.
    It is compared and shown, so nothing nested deeper, and only strings as names."""
    if not isinstance(fingerprint, dict):
        raise LabError(f"{source} is not a JSON object")
    for key, value in fingerprint.items():
        if key in PACKAGE_FIELDS and isinstance(value, dict):
            if not all(isinstance(v, str) for v in value.values()):
                raise LabError(f"{source}: {key} holds a version that is not a string")
        elif not isinstance(value, (str, int, float, type(None))):
            shown = untrusted.text(key, 60)
            raise LabError(f"{source}: {shown} is a JSON {type(value).__name__}, not a scalar")


def as_json(images: dict[str, LockedImage], registry: str | None) -> str:
    """A lock of one platform's IMAGES, in format 2."""
    return lock_json(Lock.of(images, registry))


def lock_json(lock: Lock) -> str:
    entries = {}
    for variant, by_platform in lock.images.items():
        first = next(iter(by_platform.values()))  # name, repository and index: the variant's
        platforms = {
            platform: {k: v for k, v in asdict(e).items() if k in PLATFORM_FIELDS}
            for platform, e in sorted(by_platform.items())
        }
        entries[variant] = {
            "image": first.image,
            "repository": first.repository,
            "index": first.index,
            "platforms": platforms,
        }
    raw = {"lab_lock": FORMAT, "registry": lock.registry, "images": entries}
    return json.dumps(raw, indent=2, sort_keys=True)


def merged(old: Lock, new: Lock) -> Lock:
    """OLD with NEW's platforms added or replaced, variant by variant (publish --append)."""
    images = {name: dict(entries) for name, entries in old.images.items()}
    for name, entries in new.images.items():
        images.setdefault(name, {}).update(entries)
    return Lock(new.registry, images)


def write(images: dict[str, LockedImage], registry: str | None, path: Path = LOCK_FILE) -> None:
    write_lock(Lock.of(images, registry), path)


def write_lock(lock: Lock, path: Path = LOCK_FILE) -> None:
    """Write the lock whole or not at all (a temporary file moved into place)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(path, lock_json(lock) + "\n")
