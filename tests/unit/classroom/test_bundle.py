"""`invoke load`'s checks on real bundle files, built here from a small `docker save`-shaped
tar: every way a bundle can be bad loads nothing and names the part (no engine needed)."""

from __future__ import annotations

import hashlib
import tarfile
from pathlib import Path

import pytest

from lab.classroom import bundle
from lab.errors import LabError
from tests.unit.classroom.bundles import locked, make_bundle, saved_images


def test_a_good_bundle_passes_and_names_each_image_id(tmp_path: Path) -> None:
    path = make_bundle(tmp_path)
    checked = bundle.check(path, "linux/amd64", reference={})
    assert checked.image_ids == {"stock": saved_images()[1]}
    assert [p.name for p in tmp_path.iterdir()] == ["class.tar"], "no scratch files are left"


def test_parts_in_order_with_their_sums(tmp_path: Path) -> None:
    with tarfile.open(make_bundle(tmp_path)) as outer:
        assert outer.getnames() == ["SHA256SUMS", "lab.lock", "images.tar.zst"]
        sums = outer.extractfile("SHA256SUMS").read().decode()
        images = outer.extractfile("images.tar.zst").read()
    assert f"{hashlib.sha256(images).hexdigest()}  images.tar.zst" in sums


def flip_byte_in_images(path: Path) -> None:
    with tarfile.open(path) as outer:
        member = outer.getmember("images.tar.zst")
    data = bytearray(path.read_bytes())
    data[member.offset_data + member.size // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def test_an_altered_image_part_is_named(tmp_path: Path) -> None:
    path = make_bundle(tmp_path)
    flip_byte_in_images(path)
    with pytest.raises(LabError, match=r"images\.tar\.zst"):
        bundle.check(path, "linux/amd64", reference={})


def test_an_altered_lock_is_named(tmp_path: Path) -> None:
    path = make_bundle(tmp_path)
    data = path.read_bytes().replace(b'"3.13.5"', b'"3.13.6"')
    path.write_bytes(data)
    with pytest.raises(LabError, match=r"lab\.lock does not match SHA256SUMS"):
        bundle.check(path, "linux/amd64", reference={})


@pytest.mark.parametrize("cut", ["in the lock", "in the images", "after the images"])
def test_a_truncated_bundle_is_refused(tmp_path: Path, cut: str) -> None:
    path = make_bundle(tmp_path)
    with tarfile.open(path) as outer:
        lock, images = outer.getmember("lab.lock"), outer.getmember("images.tar.zst")
    keep = {
        "in the lock": lock.offset_data + lock.size // 2,
        "in the images": images.offset_data + images.size // 2,
        "after the images": images.offset_data + images.size,  # the end marker is gone
    }[cut]
    path.write_bytes(path.read_bytes()[:keep])
    with pytest.raises(LabError, match=r"truncated|damaged|not a lab bundle"):
        bundle.check(path, "linux/amd64", reference={})


def test_a_bundle_for_another_architecture(tmp_path: Path) -> None:
    path = make_bundle(tmp_path, locked(platform="linux/arm64"), architecture="arm64")
    with pytest.raises(LabError, match=r"holds linux/arm64 images, none for linux/amd64"):
        bundle.check(path, "linux/amd64", reference={})


def test_a_lock_that_does_not_describe_the_images(tmp_path: Path) -> None:
    path = make_bundle(tmp_path, locked(rootfs="sha256:" + "0" * 64))
    with pytest.raises(LabError, match="rootfs is not the one its lock names"):
        bundle.check(path, "linux/amd64", reference={})


def test_a_bundle_other_than_the_class_lock(tmp_path: Path) -> None:
    path = make_bundle(tmp_path)
    with pytest.raises(LabError, match=r"not the image lab\.lock names"):
        bundle.check(path, "linux/amd64", reference=locked(rootfs="sha256:" + "1" * 64))


def test_not_a_bundle(tmp_path: Path) -> None:
    path = tmp_path / "notes.tar"
    with tarfile.open(path, "w") as tar:
        tar.add(__file__, arcname="notes.py")
    with pytest.raises(LabError, match="not a lab bundle"):
        bundle.check(path, "linux/amd64", reference={})
    with pytest.raises(LabError, match="no bundle at"):
        bundle.check(tmp_path / "absent.tar", "linux/amd64", reference={})


def test_bundle_into_a_folder_is_refused(tmp_path: Path) -> None:
    with pytest.raises(LabError, match="is a folder"):
        bundle.write_bundle(tmp_path, locked(), lambda path: "")
