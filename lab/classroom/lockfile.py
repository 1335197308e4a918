"""lab.lock: which exact images a classroom runs, written by `invoke publish`.

For each variant: the registry repository and manifest digest it was pushed as, its
config digest, its platform, its rootfs identity (lab/images/identity.py) and its fingerprint.
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
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from lab import untrusted
from lab.config import ALL_VARIANTS, ROOT
from lab.errors import LabError
from lab.files import write_atomically

LOCK_FILE = ROOT / "lab.lock"
FORMAT = 1
LOCK_LIMIT = 4 << 20  # bytes: four images' fingerprints take about 100 KB

# A lock is untrusted (it came with a bundle, or in a pull request): every field is checked
# whole before anything reads it. An image reference as docker's grammar has it, so that no
# value can reach `docker pull` as an option or as a path.
_DOMAIN = r"[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*"
_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
REPOSITORY = re.compile(rf"(?:{_DOMAIN}(?::[0-9]{{1,5}})?/)?{_COMPONENT}(?:/{_COMPONENT})*")
SHA256 = re.compile(r"sha256:[0-9a-f]{64}")
FIELDS = {  # field: (pattern, what it must be, whether it may be null)
    "image": (re.compile(rf"{REPOSITORY.pattern}:[A-Za-z0-9_][A-Za-z0-9_.-]{{0,127}}"),
              "NAME:TAG", False),
    "platform": (re.compile(r"[a-z0-9]+/[a-z0-9_]+(?:/[a-z0-9]+)?"), "OS/ARCH[/VARIANT]", False),
    "rootfs": (SHA256, "sha256:<64 hex>", False),
    "repository": (REPOSITORY, "an image repository (HOST[:PORT]/PATH)", True),
    "digest": (SHA256, "sha256:<64 hex>", True),
    "config": (SHA256, "sha256:<64 hex>", True),  # null or absent: locked before configs were
}  # fmt: skip
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

    @property
    def reference(self) -> str:
        """repository@digest: what `docker pull` fetches, and nothing else."""
        if not (self.repository and self.digest):
            raise LabError(f"lab.lock's {self.variant} was never published to a registry")
        return f"{self.repository}@{self.digest}"


def read(path: Path = LOCK_FILE) -> dict[str, LockedImage]:
    """The images PATH locks, by variant; one clear line if it is missing or malformed."""
    if not os.path.lexists(path):
        raise LabError(f"no {path.name} at {path}: an instructor writes it with `invoke publish`")
    return parse(untrusted.regular_file(path, LOCK_LIMIT), str(path))


def parse(text: str | bytes, source: str) -> dict[str, LockedImage]:
    """The images a lock's TEXT names, every field checked; SOURCE says where it came
    from, in the one line."""
    data = text.encode() if isinstance(text, str) else text
    return from_json(untrusted.json_value(data, source), source)


def from_json(raw: Any, source: str) -> dict[str, LockedImage]:
    """The images of a lock already parsed as JSON (RAW), checked as parse checks them."""
    if not isinstance(raw, dict) or not is_format(raw.get("lab_lock")):
        raise LabError(f"{source} is not a lab.lock (format {FORMAT} expected)")
    if not isinstance(raw.get("images"), dict):
        raise LabError(f"{source} is not a lab.lock: its images are not a JSON object")
    if not isinstance(raw.get("registry"), (str, type(None))):
        raise LabError(f"{source} is not a lab.lock: its registry is not a string")
    return {name: checked_entry(name, entry, source) for name, entry in raw["images"].items()}


def is_format(value: Any) -> bool:
    return type(value) is int and value == FORMAT  # not `true`, which equals 1


def checked_entry(name: str, entry: Any, source: str) -> LockedImage:
    """One image's entry, every field of the right type and form."""
    check_variant(name, source)
    if not isinstance(entry, dict):
        raise LabError(f"{source}: its {name} entry is not a JSON object")
    if not (entry.keys() >= REQUIRED_FIELDS and entry.keys() <= ALLOWED_FIELDS):
        fields = ", ".join(untrusted.text(str(key), 40) for key in sorted(map(str, entry)))
        raise LabError(f"{source}: its {name} entry has the fields {fields}, not image, "
                       "platform, rootfs, fingerprint[, repository, digest, config]")  # fmt: skip
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
        raise LabError(f"{source} names {untrusted.text(repr(name), 60)}, which is not an "
                       f"image of this lab ({', '.join(ALL_VARIANTS)})")  # fmt: skip


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
    entries = {}
    for variant, locked in images.items():
        entry = asdict(locked)
        del entry["variant"]  # the key says it
        entries[variant] = entry
    return json.dumps(
        {"lab_lock": FORMAT, "registry": registry, "images": entries}, indent=2, sort_keys=True
    )


def write(images: dict[str, LockedImage], registry: str | None, path: Path = LOCK_FILE) -> None:
    """Write the lock whole or not at all (a temporary file moved into place)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    write_atomically(path, as_json(images, registry) + "\n")
