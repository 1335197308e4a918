"""Fetch pinned source distributions and verify their SHA-256.

Why not `pip download --no-binary`: pip prepares metadata for an sdist before it saves
it, and for a meson-built package (NumPy) that means compiling the whole thing. The
stations only *read* these trees, so fetch the files as they are.

The index is pip's own (PIP_INDEX_URL, else pip's default), so no host is written here.

    fetch_sdist.py LOCK DEST        fetch each `name==version --hash=sha256:H` of LOCK
                                    into DEST/name (unpacked); exit 1 on a wrong hash
    fetch_sdist.py --pin NAME==VER  print the lock line for that sdist (refreshing a pin)
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import sys
import tarfile
import tempfile
import urllib.request
from pathlib import Path

ACCEPT = "application/vnd.pypi.simple.v1+json"


def index_url() -> str:
    if os.environ.get("PIP_INDEX_URL"):
        return os.environ["PIP_INDEX_URL"].rstrip("/")
    from pip._internal.models.index import PyPI  # pip's default, not a literal here

    return PyPI.simple_url.rstrip("/")


def sdist_entry(name: str, version: str) -> dict:
    """The index's file entry for NAME-VERSION.tar.gz (PEP 691 JSON)."""
    normalized = re.sub(r"[-_.]+", "-", name).lower()
    request = urllib.request.Request(f"{index_url()}/{normalized}/", headers={"Accept": ACCEPT})
    with urllib.request.urlopen(request, timeout=60) as response:
        files = json.load(response)["files"]
    wanted = {f"{name}-{version}.tar.gz", f"{normalized.replace('-', '_')}-{version}.tar.gz"}
    for entry in files:
        if entry["filename"] in wanted:
            return entry
    raise SystemExit(f"fetch_sdist: no sdist {name}-{version}.tar.gz on the index")


def read_lock(path: Path) -> list[tuple[str, str, str]]:
    pins = []
    for line in path.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        match = re.fullmatch(r"([A-Za-z0-9_.-]+)==(\S+)\s+--hash=sha256:([0-9a-f]{64})", line)
        if not match:
            raise SystemExit(f"fetch_sdist: {path}: not `name==version --hash=sha256:H`: {line}")
        pins.append(match.groups())
    return pins


def fetch(name: str, version: str, sha256: str, dest: Path) -> None:
    entry = sdist_entry(name, version)
    with tempfile.TemporaryDirectory() as scratch:
        archive = Path(scratch) / entry["filename"]
        urllib.request.urlretrieve(entry["url"], archive)
        actual = hashlib.sha256(archive.read_bytes()).hexdigest()
        if actual != sha256:
            raise SystemExit(
                f"fetch_sdist: {entry['filename']}: sha256 {actual} is not the pinned {sha256}"
            )
        with tarfile.open(archive) as tar:
            tar.extractall(scratch, filter="data")
        (Path(scratch) / f"{entry['filename'][: -len('.tar.gz')]}").rename(dest / name)
    print(f"fetch_sdist: {name} {version} verified, unpacked in {dest / name}")


def main(argv: list[str]) -> None:
    if len(argv) == 2 and argv[0] == "--pin":
        name, version = argv[1].split("==")
        digest = sdist_entry(name, version)["hashes"]["sha256"]
        print(f"{name}=={version} --hash=sha256:{digest}")
        return
    if len(argv) != 2:
        raise SystemExit(__doc__)
    dest = Path(argv[1])
    dest.mkdir(parents=True, exist_ok=True)
    for name, version, sha256 in read_lock(Path(argv[0])):
        fetch(name, version, sha256, dest)


if __name__ == "__main__":
    main(sys.argv[1:])
