"""An image's config digest: the image ID on the classic store, the hash of the config blob
in `docker save` on the containerd store (where the ID is the manifest's digest)."""

from __future__ import annotations

import hashlib
import io
import json

import pytest

from lab.errors import LabError
from lab.images import identity
from tests.tars import tar_of

DIFF_ID = "sha256:" + "d" * 64
ROOTFS = identity.rootfs_identity([DIFF_ID])


def config(diff_ids: list[str], **more) -> bytes:
    return json.dumps({"architecture": "amd64", "os": "linux", **more,
                       "rootfs": {"type": "layers", "diff_ids": diff_ids}}).encode()  # fmt: skip


def facts(image_id: str) -> identity.ImageFacts:
    return identity.ImageFacts(image_id, ROOTFS, "linux/amd64", (), {})


@pytest.mark.parametrize(
    ("driver_status", "containerd"),
    [([["driver-type", "io.containerd.snapshotter.v1"]], True),
     ([["Backing Filesystem", "extfs"], ["Supports d_type", "true"]], False), (None, False)],
)  # fmt: skip
def test_the_image_store_is_told_by_docker_info(driver_status, containerd: bool) -> None:
    assert identity.containerd_store({"DriverStatus": driver_status}) is containerd


def test_on_the_classic_store_the_config_digest_is_the_image_id(monkeypatch) -> None:
    monkeypatch.setattr(identity, "inspect", lambda ref: facts("sha256:" + "c" * 64))
    monkeypatch.setattr(identity.docker, "engine_info", lambda: {"DriverStatus": []})
    monkeypatch.setattr(identity, "saved_config", lambda *a: pytest.fail("saved"))
    assert identity.config_digest("lab-cpython:stock") == "sha256:" + "c" * 64


def test_on_the_containerd_store_the_config_blob_is_hashed(monkeypatch) -> None:
    monkeypatch.setattr(identity, "inspect", lambda ref: facts("sha256:" + "e" * 64))
    monkeypatch.setattr(identity.docker, "engine_info", lambda: {"DriverStatus": [
        ["driver-type", "io.containerd.snapshotter.v1"]]})  # fmt: skip
    monkeypatch.setattr(identity, "saved_config", lambda ref, rootfs: f"saved {ref} {rootfs}")
    assert identity.config_digest("lab-cpython:stock") == f"saved lab-cpython:stock {ROOTFS}"


def test_the_config_in_a_save_is_found_by_its_rootfs_and_hashed() -> None:
    body = config([DIFF_ID], config={"Entrypoint": ["/bin/true"]})
    attestation = config(["sha256:" + "a" * 64], architecture="unknown")
    members = [
        ("blobs/sha256/" + "0" * 64, attestation),  # named as no hash of it: names are not read
        ("blobs/sha256/" + "1" * 64, b"\x1f\x8b layer bytes" * 1000),
        ("blobs/sha256/" + "2" * 64, body),
        ("index.json", b'{"schemaVersion": 2, "manifests": []}'),
    ]
    found = identity.config_in_save(io.BytesIO(tar_of(members)), ROOTFS, "lab-cpython:stock")
    assert found == "sha256:" + hashlib.sha256(body).hexdigest()


def test_a_save_without_the_config_is_one_line() -> None:
    with pytest.raises(LabError, match="lab-cpython:stock") as caught:
        identity.config_in_save(io.BytesIO(tar_of([("x", b"{}")])), ROOTFS, "lab-cpython:stock")
    assert "\n" not in str(caught.value)
