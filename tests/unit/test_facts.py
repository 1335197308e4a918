"""`invoke doctor --compare`: every difference named, image by image and field by field."""

from __future__ import annotations

import copy
import json
from pathlib import Path

import pytest

from lab import facts, lockfile
from lab.errors import LabError
from lab.identity import platform_of, rootfs_identity, runs_on
from lab.lockfile import LockedImage

FINGERPRINT = {
    "python": "3.13.5",
    "compiler": "gcc (Debian 14.2.0-19) 14.2.0",
    "packages": {"numpy": "2.3.5", "pytest": "8.4.2"},
    "debian_packages": {"libc6": "2.41-12", "libssl3t64": "3.5.1-1"},
    "debian_packages_digest": "aaaa",
    "digest": "bbbb",
}
ENTRY = {
    "image": "lab-cpython:stock",
    "platform": "linux/amd64",
    "rootfs": "sha256:" + "1" * 64,
    "fingerprint": FINGERPRINT,
}


def changed(**fields) -> dict:
    entry = copy.deepcopy(ENTRY)
    for key, value in fields.items():
        entry["fingerprint" if key in FINGERPRINT else key] = value
    return entry


def test_identical_images_have_no_differences() -> None:
    assert facts.differences({"stock": ENTRY}, {"stock": copy.deepcopy(ENTRY)}) == []


def test_each_kind_of_difference_is_named() -> None:
    theirs = copy.deepcopy(ENTRY)
    theirs["rootfs"] = "sha256:" + "2" * 64
    theirs["fingerprint"]["python"] = "3.13.4"
    theirs["fingerprint"]["packages"]["numpy"] = "2.3.4"
    theirs["fingerprint"]["debian_packages"]["libssl3t64"] = "3.5.0-1"
    del theirs["fingerprint"]["packages"]["pytest"]
    lines = facts.differences({"stock": ENTRY}, {"stock": theirs})
    assert lines == [
        f"stock: rootfs: {ENTRY['rootfs']} here, {theirs['rootfs']} there",
        "stock: Debian package libssl3t64: 3.5.1-1 here, 3.5.0-1 there",
        "stock: package numpy: 2.3.5 here, 2.3.4 there",
        "stock: package pytest: 8.4.2 here, not installed there",
        "stock: python: 3.13.5 here, 3.13.4 there",
    ]


def test_a_missing_image_on_either_side() -> None:
    assert facts.differences({"stock": None}, {"stock": ENTRY}) == ["stock: image missing here"]
    assert facts.differences({"stock": ENTRY}, {"stock": None}) == ["stock: image missing there"]
    assert facts.differences({"stock": None}, {"stock": None}) == []


def test_only_the_variants_the_reference_names_are_compared() -> None:
    """A lock of the three CPU images says nothing of a CUDA image built here."""
    here = {"stock": ENTRY, "cuda": changed(image="lab-cuda:stock")}
    assert facts.differences(here, {"stock": ENTRY}) == []


def test_a_field_one_side_never_recorded() -> None:
    older = copy.deepcopy(ENTRY)
    del older["fingerprint"]["compiler"]
    assert facts.differences({"stock": older}, {"stock": ENTRY}) == [
        "stock: compiler: not recorded here (an image built before the lab recorded it)"
    ]


def test_a_lock_and_a_facts_file_are_both_references(tmp_path: Path) -> None:
    entry = LockedImage(variant="stock", **ENTRY, repository="127.0.0.1:5000/lab-cpython",
                        digest="sha256:" + "3" * 64)  # fmt: skip
    lockfile.write({"stock": entry}, "127.0.0.1:5000", tmp_path / "lab.lock")
    assert facts.read_reference(tmp_path / "lab.lock")["stock"]["rootfs"] == ENTRY["rootfs"]
    (tmp_path / "facts.json").write_text(json.dumps({"lab_facts": 1, "images": {"ft": None}}))
    assert facts.read_reference(tmp_path / "facts.json") == {"ft": None}


@pytest.mark.parametrize("text", ["not json", "[1, 2]", '{"images": {}}', '{"lab_lock": 7}'])
def test_anything_else_is_one_line(tmp_path: Path, text: str) -> None:
    (tmp_path / "other.json").write_text(text)
    with pytest.raises(LabError, match=r"other\.json"):
        facts.read_reference(tmp_path / "other.json")


def test_rootfs_identity_is_over_the_ordered_diff_ids() -> None:
    a, b = "sha256:" + "a" * 64, "sha256:" + "b" * 64
    assert rootfs_identity([a, b]) != rootfs_identity([b, a])
    assert rootfs_identity([a, b]).startswith("sha256:")
    assert platform_of("linux", "arm64", "v8") == "linux/arm64/v8"
    assert platform_of("linux", "amd64") == "linux/amd64"
    assert runs_on("linux/arm64/v8", "linux/arm64")
    assert not runs_on("linux/arm64/v8", "linux/amd64")
