"""The reading list's resolution, cached per image ID: the trees never change inside an image.

Resolving starts a container and reads the source trees (about a second); the answer is
the same until the image, the list or the resolver changes, and all three are in the key.
The cache lives outside results/ (no container ever sees it), one JSON file per key.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
from collections.abc import Callable
from pathlib import Path

from lab import untrusted
from lab.config import cache_dir
from lab.errors import LabError
from lab.files import write_atomically
from lab.run.stations import stations_dir


def key(image_id: str, entries: list[dict]) -> str:
    digest = hashlib.sha256(image_id.encode())
    digest.update(json.dumps(entries, sort_keys=True).encode())
    digest.update((stations_dir() / "_lib" / "labkit" / "reading.py").read_bytes())
    return digest.hexdigest()[:32]


def cached(image_id: str, entries: list[dict], resolve: Callable[[], list[dict]]) -> list[dict]:
    """RESOLVE()'s answer for ENTRIES in the image IMAGE_ID, from the cache when it has it."""
    if not image_id:
        return resolve()
    path = cache_dir() / "reading" / f"{key(image_id, entries)}.json"
    try:
        return untrusted.reading(entries, path.read_bytes())  # checked like a fresh answer
    except (OSError, LabError):
        pass
    resolved = resolve()
    _store(path, resolved)
    return resolved


def _store(path: Path, resolved: list[dict]) -> None:
    """Write PATH whole or not at all; a cache that cannot be written is no error."""
    with contextlib.suppress(OSError, LabError):
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(path, json.dumps(resolved))
