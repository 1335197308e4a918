"""`bundle` and `load` on both image stores. On the containerd store (Docker 29's and Docker
Desktop's default) `docker load` names each image by its manifest's digest, not its config's,
and `docker save` writes an OCI layout (index.json, blobs/sha256/...). load finds what it
loaded from `docker load`'s own lines, checks each image's rootfs and config, and removes what
it loaded when a check fails; bundle checks the file it wrote as load would."""

from __future__ import annotations

import hashlib
import io
import json
from pathlib import Path

import pytest

from lab.classroom import bundle
from lab.errors import LabError
from lab.images.identity import ImageFacts, rootfs_identity
from tests.tars import tar_of
from tests.unit.classroom.bundles import (
    DIFF_ID,
    EVIL,
    GENUINE,
    LAYER,
    PLATFORM,
    bundle_of,
    class_lock,
    digest,
    locked,
    members_with,
    with_config,
)

LAYER_BLOB = "blobs/sha256/" + DIFF_ID.removeprefix("sha256:")
ROOTFS = rootfs_identity([DIFF_ID])


def manifest_of(config_body: bytes) -> bytes:
    return json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {"mediaType": "application/vnd.docker.container.image.v1+json",
                   "digest": digest(config_body), "size": len(config_body)},
        "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar",
                    "digest": DIFF_ID, "size": len(LAYER)}],
    }).encode()  # fmt: skip


def blob(data: bytes) -> str:
    return "blobs/sha256/" + hashlib.sha256(data).hexdigest()


def oci_members(loaded: bytes = GENUINE, listed: bytes = GENUINE, annotations=None) -> list:
    """What Docker 26's containerd store writes for `docker save ID`: an OCI layout whose
    index.json names the manifest of the config LOADED (what that store's `docker load`
    reads), and a manifest.json naming the config LISTED (what the classic store reads)."""
    manifest = manifest_of(loaded)
    descriptor = {"mediaType": "application/vnd.docker.distribution.manifest.v2+json",
                  "digest": digest(manifest), "size": len(manifest)}  # fmt: skip
    if annotations:
        descriptor["annotations"] = annotations
    index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
             "manifests": [descriptor]}  # fmt: skip
    legacy = [{"Config": blob(listed), "RepoTags": None, "Layers": [LAYER_BLOB]}]
    configs = {blob(body): body for body in (loaded, listed)}
    return [
        (LAYER_BLOB, LAYER), *configs.items(), (blob(manifest), manifest),
        ("index.json", json.dumps(index).encode()),
        ("manifest.json", json.dumps(legacy).encode()),
        ("oci-layout", b'{"imageLayoutVersion":"1.0.0"}'),
    ]  # fmt: skip


class Engine:
    """A stand-in engine: what `docker load` printed, the images it holds, what load asked."""

    def __init__(self, monkeypatch, loads: list[str], holds: dict[str, ImageFacts]) -> None:
        self.holds, self.images_before = holds, {"sha256:mine": {"mine:1"}}
        self.calls: list[list[str]] = []
        self.saved_configs: dict[str, str] = {}
        monkeypatch.setattr(bundle.docker, "require_engine", lambda: "26.1")
        monkeypatch.setattr(bundle.identity, "engine_platform", lambda: PLATFORM)
        monkeypatch.setattr(bundle, "engine_tags", dict)
        monkeypatch.setattr(bundle, "docker_load", lambda path, checked: list(loads))
        monkeypatch.setattr(bundle.identity, "inspect", holds.get)
        monkeypatch.setattr(bundle, "engine_images", self.images)
        monkeypatch.setattr(bundle.identity, "config_digest", self.config_digest)
        monkeypatch.setattr(bundle.docker, "docker", lambda args, **kw: self.calls.append(args))

    def images(self) -> dict[str, set[str]]:
        """Before the load: the student's own image; after it, the loaded ones too, untagged."""
        self.asked_images = getattr(self, "asked_images", 0) + 1
        if self.asked_images == 1:
            return dict(self.images_before)
        return {**self.images_before, **{ref: set() for ref in self.holds}}

    def config_digest(self, reference: str) -> str:
        self.saved_configs[reference] = "asked"
        return self.config_digest_answer

    config_digest_answer = digest(GENUINE)

    def tagged(self) -> list[list[str]]:
        return [call for call in self.calls if call[0] == "tag"]

    def removed(self) -> list[str]:
        return [call[-1] for call in self.calls if call[0] == "rmi"]


def facts(image_id: str) -> ImageFacts:
    return ImageFacts(image_id, ROOTFS, PLATFORM, (), {})


def test_docker_loads_lines_name_the_images_it_loaded() -> None:
    said = (
        "Loaded image ID: sha256:" + "a" * 64 + "\n"
        "Loaded image: lab-cpython:stock\n"  # a tag (undone elsewhere): not an ID
        "Loaded image ID: sha256:" + "b" * 64 + "\nsomething else\n"
    )
    assert bundle.loaded_ids(said) == ["sha256:" + "a" * 64, "sha256:" + "b" * 64]


def test_the_containerd_stores_own_save_is_read(tmp_path: Path) -> None:
    path = bundle_of(tmp_path, tar_of(oci_members()), with_config(locked(), digest(GENUINE)))
    checked = bundle.check(path, PLATFORM, reference={})
    assert checked.image_ids == {"stock": digest(GENUINE)}
    assert checked.manifests == {digest(manifest_of(GENUINE)): digest(GENUINE)}


def test_an_index_that_names_the_image_is_still_refused(tmp_path: Path) -> None:
    named = oci_members(annotations={"io.containerd.image.name": "docker.io/library/x:1"})
    path = bundle_of(tmp_path, tar_of(named))
    with pytest.raises(LabError, match="names images, which `docker load` would tag"):
        bundle.check(path, PLATFORM, reference={})


def test_on_the_containerd_store_the_loaded_manifest_is_tagged(tmp_path: Path, monkeypatch) -> None:
    path = bundle_of(tmp_path, tar_of(oci_members()), with_config(locked(), digest(GENUINE)))
    manifest = digest(manifest_of(GENUINE))
    engine = Engine(monkeypatch, loads=[manifest], holds={manifest: facts(manifest)})
    bundle.load(path, class_lock(tmp_path, digest(GENUINE)))
    assert engine.tagged() == [["tag", "--", manifest, "lab-cpython:stock"]]
    assert engine.saved_configs == {}, "its manifest, hashed in the bundle, names the config"
    assert engine.removed() == []


def test_a_manifest_the_engine_loaded_with_another_config_is_removed(
    tmp_path: Path, monkeypatch
) -> None:
    """index.json (what the containerd store loads) leads to another config than manifest.json
    (what the checks read): the engine's image is not the checked one."""
    path = bundle_of(tmp_path, tar_of(oci_members(loaded=EVIL)))
    evil = digest(manifest_of(EVIL))
    engine = Engine(monkeypatch, loads=[evil], holds={evil: facts(evil)})
    with pytest.raises(LabError) as caught:
        bundle.load(path, class_lock(tmp_path, digest(GENUINE)))
    line = str(caught.value)
    assert "\n" not in line and "stock" in line and "config" in line and "removed" in line, line
    assert engine.tagged() == []
    assert engine.removed() == [evil]


@pytest.mark.parametrize("saved", ["genuine", "evil"])
def test_a_manifest_the_engine_made_itself_is_checked_by_its_saved_config(
    tmp_path: Path, monkeypatch, saved: str
) -> None:
    """A classic store's save (no manifest in it) loaded into the containerd store: the engine
    writes a manifest of its own, so its config is read back from the engine."""
    path = bundle_of(tmp_path, tar_of(members_with(GENUINE)))
    made = "sha256:" + "c" * 64
    engine = Engine(monkeypatch, loads=[made], holds={made: facts(made)})
    engine.config_digest_answer = digest(GENUINE if saved == "genuine" else EVIL)
    if saved == "genuine":
        bundle.load(path, class_lock(tmp_path, digest(GENUINE)))
        assert engine.tagged() == [["tag", "--", made, "lab-cpython:stock"]]
        return
    with pytest.raises(LabError, match="config"):
        bundle.load(path, class_lock(tmp_path, digest(GENUINE)))
    assert engine.tagged() == [] and engine.removed() == [made]


def test_on_the_classic_store_the_loaded_config_is_tagged(tmp_path: Path, monkeypatch) -> None:
    path = bundle_of(tmp_path, tar_of(members_with(GENUINE)))
    engine = Engine(
        monkeypatch, loads=[digest(GENUINE)], holds={digest(GENUINE): facts(digest(GENUINE))}
    )
    bundle.load(path, class_lock(tmp_path, digest(GENUINE)))
    assert engine.tagged() == [["tag", "--", digest(GENUINE), "lab-cpython:stock"]]
    assert engine.saved_configs == {}


def test_a_load_that_found_no_locked_image_removes_what_it_loaded(
    tmp_path: Path, monkeypatch
) -> None:
    """The issue's failure: nothing found by the checked ID; the untagged images stayed."""
    path = bundle_of(tmp_path, tar_of(members_with(GENUINE)))
    other = "sha256:" + "d" * 64
    engine = Engine(monkeypatch, loads=[other], holds={other: ImageFacts(
        other, rootfs_identity(["sha256:" + "9" * 64]), PLATFORM, (), {})})  # fmt: skip
    with pytest.raises(LabError) as caught:
        bundle.load(path, class_lock(tmp_path, None))
    assert "stock" in str(caught.value) and "rootfs" in str(caught.value)
    assert engine.removed() == [other], "the student's own image stays"


def test_a_failed_docker_load_removes_what_it_had_loaded(tmp_path: Path, monkeypatch) -> None:
    path = bundle_of(tmp_path, tar_of(members_with(GENUINE)))
    half = "sha256:" + "e" * 64
    engine = Engine(monkeypatch, loads=[], holds={half: facts(half)})

    def full_disk(path, checked):
        raise LabError("`docker load` failed, nothing was tagged: no space left on device")

    monkeypatch.setattr(bundle, "docker_load", full_disk)
    with pytest.raises(LabError, match="no space left"):
        bundle.load(path, class_lock(tmp_path, None))
    assert engine.removed() == [half]


# -- bundle: what it wrote passes load's checks, or there is no file ----------------------


def bundling(monkeypatch, saved: bytes) -> None:
    """`invoke bundle` of stock, where `docker save` writes SAVED."""
    entry = with_config(locked(), digest(GENUINE))["stock"]
    monkeypatch.setattr(bundle.docker, "require_engine", lambda: "26.1")
    monkeypatch.setattr(bundle.identity, "engine_platform", lambda: PLATFORM)
    monkeypatch.setattr(
        bundle,
        "locked_images",
        lambda names, lock, platform, engine: {"stock": bundle.Saved("sha256:x", entry)},
    )
    monkeypatch.setattr(
        bundle, "save_compressed", lambda ids, path: bundle.compress(io.BytesIO(saved), path)
    )


def test_a_save_without_its_layers_writes_no_bundle(tmp_path: Path, monkeypatch, capsys) -> None:
    """The containerd store held the manifests but not the layers: `docker save` wrote 40 KB."""
    layerless = [member for member in oci_members() if member[0] != LAYER_BLOB]
    bundling(monkeypatch, tar_of(layerless))
    with pytest.raises(LabError) as caught:
        bundle.bundle(tmp_path / "class.tar", "stock")
    line = str(caught.value)
    assert "\n" not in line and "layer" in line and "no bundle" in line, line
    assert list(tmp_path.iterdir()) == [], "no bundle, no scratch"
    assert "done" not in capsys.readouterr().out


def test_a_save_of_another_config_writes_no_bundle(tmp_path: Path, monkeypatch) -> None:
    bundling(monkeypatch, tar_of(members_with(EVIL)))
    with pytest.raises(LabError, match="config"):
        bundle.bundle(tmp_path / "class.tar", "stock")
    assert list(tmp_path.iterdir()) == []


def test_a_complete_save_is_bundled(tmp_path: Path, monkeypatch) -> None:
    bundling(monkeypatch, tar_of(oci_members()))
    made = bundle.bundle(tmp_path / "class.tar", "stock")
    assert made["images"] == ["stock"]
    assert [p.name for p in tmp_path.iterdir()] == ["class.tar"]


def test_each_config_is_read_once(monkeypatch) -> None:
    """On the containerd store a config digest costs a `docker save` of the image: bundle
    takes the one built_image read."""
    entry = with_config(locked(), digest(GENUINE))["stock"]
    saves: list[str] = []
    monkeypatch.setattr(bundle.facts, "built_image", lambda variant, name: entry)
    monkeypatch.setattr(bundle.identity, "config_digest", lambda ref: saves.append(ref) or "x")
    monkeypatch.setattr(bundle.identity, "inspect", lambda ref: facts("sha256:" + "f" * 64))
    chosen = bundle.locked_images("stock", Path("/nonexistent/lab.lock"), PLATFORM, PLATFORM)
    assert chosen["stock"].locked.config == digest(GENUINE) and saves == []
    assert chosen["stock"].id == "sha256:" + "f" * 64


def test_an_image_removed_while_it_is_bundled_is_one_line(monkeypatch) -> None:
    """Gone between built_image and the ID's read (`docker rmi` meanwhile): a LabError."""
    entry = with_config(locked(), digest(GENUINE))["stock"]
    monkeypatch.setattr(bundle.facts, "built_image", lambda variant, name: entry)
    monkeypatch.setattr(bundle.identity, "inspect", lambda ref: None)
    with pytest.raises(LabError, match="was removed while the bundle was being made"):
        bundle.locked_images("stock", Path("/nonexistent/lab.lock"), PLATFORM, PLATFORM)
