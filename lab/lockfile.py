"""lab.lock: which exact images a classroom runs, written by `invoke publish`.

For each variant: the registry repository and manifest digest it was pushed as, its
platform, its rootfs identity (lab/identity.py) and its fingerprint. `invoke pull` fetches
exactly those digests, `invoke load` checks a bundle against it, and `invoke doctor
--compare lab.lock` names every way a machine differs from it. It is JSON, so a diff of
two locks in a pull request reads field by field.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import asdict, dataclass
from pathlib import Path

from lab.config import ROOT
from lab.errors import LabError

LOCK_FILE = ROOT / "lab.lock"
FORMAT = 1


@dataclass(frozen=True)
class LockedImage:
    variant: str
    image: str  # the local name compose.yaml runs: lab-cpython:stock
    platform: str  # linux/amd64
    rootfs: str  # sha256 over the layer diff IDs
    fingerprint: dict
    repository: str | None = None  # 127.0.0.1:5000/class/lab-cpython (None: never pushed)
    digest: str | None = None  # the manifest digest it was pushed as

    @property
    def reference(self) -> str:
        """repository@digest: what `docker pull` fetches, and nothing else."""
        if not (self.repository and self.digest):
            raise LabError(f"lab.lock's {self.variant} was never published to a registry")
        return f"{self.repository}@{self.digest}"


def read(path: Path = LOCK_FILE) -> dict[str, LockedImage]:
    """The images PATH locks, by variant; one clear line if it is missing or malformed."""
    try:
        text = path.read_text()
    except FileNotFoundError:
        raise LabError(
            f"no {path.name} at {path}: an instructor writes it with `invoke publish`"
        ) from None
    except (OSError, UnicodeDecodeError) as error:
        raise LabError(f"{path} is not a lab.lock ({error})") from None
    return parse(text, str(path))


def parse(text: str, source: str) -> dict[str, LockedImage]:
    """The images a lock's TEXT names; SOURCE says where it came from, in the one line."""
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as error:
        raise LabError(f"{source} is not a lab.lock ({error})") from None
    if not isinstance(raw, dict) or raw.get("lab_lock") != FORMAT:
        raise LabError(f"{source} is not a lab.lock (format {FORMAT} expected)")
    try:
        return {
            variant: LockedImage(variant=variant, **entry)
            for variant, entry in raw["images"].items()
        }
    except (KeyError, TypeError, AttributeError) as error:
        raise LabError(f"{source}: a malformed image entry ({error})") from None


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
    text = as_json(images, registry) + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "w") as out:
            out.write(text)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
