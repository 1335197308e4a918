"""Hostile bundles: whatever one holds, `invoke load` refuses it in one line before `docker
load` sees a byte, keeps little in memory, and a tag the load changed anyway is undone."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
import tracemalloc
from pathlib import Path

import pytest

from lab.classroom import bundle
from lab.errors import LabError
from lab.images.identity import ImageFacts, rootfs_identity
from tests.tars import sparse_header, tar_of
from tests.unit.classroom.bundles import (
    DIFF_ID,
    EVIL,
    GENUINE,
    LAYER,
    PLATFORM,
    bundle_of,
    class_lock,
    config,
    digest,
    locked,
    members_with,
    with_config,
)


def image_members(repo_tags=None, extra_images: int = 0) -> list[tuple[str, bytes]]:
    """A `docker save` of one image (plus EXTRA_IMAGES other ones), RepoTags as given."""
    members, manifest = [("l1/layer.tar", LAYER)], []
    for n in range(1 + extra_images):
        body = config([DIFF_ID] + [f"sha256:{n:064x}"] * (n > 0))
        name = hashlib.sha256(body).hexdigest() + ".json"
        members.append((name, body))
        manifest.append({"Config": name, "RepoTags": repo_tags, "Layers": ["l1/layer.tar"]})
    return [*members, ("manifest.json", json.dumps(manifest).encode())]


def refused(path: Path, *fragments: str) -> str:
    with pytest.raises(LabError) as caught:
        bundle.check(path, PLATFORM, reference={})
    line = str(caught.value)
    assert "\n" not in line
    for fragment in fragments:
        assert fragment in line, line
    return line


# -- tags: a bundle tags nothing ----------------------------------------------------------


def test_repo_tags_are_refused(tmp_path: Path) -> None:
    inner = tar_of(image_members(repo_tags=["debian:trixie-20251020-slim", "lab-cpython:ft"]))
    refused(bundle_of(tmp_path, inner), "RepoTags", "debian:trixie-20251020-slim")


def test_empty_repo_tags_pass(tmp_path: Path) -> None:
    checked = bundle.check(bundle_of(tmp_path, tar_of(image_members([]))), PLATFORM, {})
    assert list(checked.image_ids) == ["stock"]


def test_a_repositories_member_is_refused(tmp_path: Path) -> None:
    legacy = ("repositories", b'{"debian": {"trixie-20251020-slim": "0123"}}')
    refused(bundle_of(tmp_path, tar_of([*image_members(), legacy])), "repositories")


def test_an_index_that_names_images_is_refused(tmp_path: Path) -> None:
    named = {"annotations": {"io.containerd.image.name": "docker.io/library/debian:trixie"},
             "mediaType": "application/vnd.oci.image.manifest.v1+json"}  # fmt: skip
    index = ("index.json", json.dumps({"schemaVersion": 2, "manifests": [named]}).encode())
    refused(bundle_of(tmp_path, tar_of([*image_members(), index])), "index.json", "names")


def test_an_empty_lock_is_refused(tmp_path: Path) -> None:
    refused(bundle_of(tmp_path, tar_of(image_members()), lock={}), "no image")


def test_an_image_the_lock_does_not_name_is_refused(tmp_path: Path) -> None:
    inner = tar_of(image_members(extra_images=1))
    refused(bundle_of(tmp_path, inner), "an image its lock does not name")


def test_two_images_with_one_rootfs_are_refused(tmp_path: Path) -> None:
    members = image_members()
    other = config([DIFF_ID]).replace(b'"os"', b'"User": "root", "os"')
    other_name = hashlib.sha256(other).hexdigest() + ".json"
    manifest = [*json.loads(members[-1][1]), {"Config": other_name, "Layers": ["l1/layer.tar"]}]
    inner = tar_of(
        [*members[:-1], (other_name, other), ("manifest.json", json.dumps(manifest).encode())]
    )
    refused(bundle_of(tmp_path, inner), "two images")


def test_a_second_manifest_is_refused(tmp_path: Path) -> None:
    members = image_members()
    tagged = image_members(repo_tags=["debian:trixie"])[-1]
    refused(bundle_of(tmp_path, tar_of([*members, tagged])), "manifest.json", "twice")


def test_a_manifest_that_is_a_link_is_refused(tmp_path: Path) -> None:
    link = tarfile.TarInfo("manifest.json")
    link.type, link.linkname = tarfile.SYMTYPE, "evil.json"
    refused(bundle_of(tmp_path, tar_of([*image_members()[:-1], link])), "manifest.json")


@pytest.mark.parametrize(
    "manifest",
    ['{"Config": 1}', "[1]", '[{"Config": ["x"]}]', '[{"Config": "a.json", "Layers": 3}]', "[[[["],
)
def test_a_malformed_manifest_is_one_line(tmp_path: Path, manifest: str) -> None:
    members = [*image_members()[:-1], ("manifest.json", manifest.encode())]
    refused(bundle_of(tmp_path, tar_of(members)), "images.tar.zst")


# -- the bundle's lock is checked whole, before anything -----------------------------------


@pytest.mark.parametrize(
    ("field", "value", "says"),
    [
        ("platform", 5, "platform"),
        ("rootfs", "../x", "rootfs"),
        ("repository", "--help", "repository"),
    ],
)
def test_a_bad_lock_entry_in_a_bundle(tmp_path: Path, field: str, value, says: str) -> None:
    path = bundle_of(tmp_path, tar_of(image_members()))
    lock_text = json.dumps({"lab_lock": 1, "registry": None, "images": {"stock": {
        "image": "lab-cpython:stock", "platform": PLATFORM, "rootfs": rootfs_identity([DIFF_ID]),
        "fingerprint": {"python": "3.13.5"}, field: value}}}).encode()  # fmt: skip
    rewrite_lock(path, lock_text)
    refused(path, "lab.lock", says)


def test_a_variant_that_is_a_path_is_refused(tmp_path: Path) -> None:
    path = bundle_of(tmp_path, tar_of(image_members()))
    lock = json.loads(read_member(path, "lab.lock"))
    lock["images"]["../../x"] = lock["images"].pop("stock")
    rewrite_lock(path, json.dumps(lock).encode())
    refused(path, "../../x", "not an image of this lab")


def read_member(path: Path, name: str) -> bytes:
    with tarfile.open(path) as outer:
        return outer.extractfile(name).read()


def rewrite_lock(path: Path, lock_text: bytes) -> None:
    """PATH with another lock, and sums that match it (an attacker can write both)."""
    images = read_member(path, "images.tar.zst")
    sums = (f"{hashlib.sha256(lock_text).hexdigest()}  lab.lock\n"
            f"{hashlib.sha256(images).hexdigest()}  images.tar.zst\n").encode()  # fmt: skip
    write_outer(path, [("SHA256SUMS", sums), ("lab.lock", lock_text), ("images.tar.zst", images)])


def write_outer(path: Path, parts: list[tuple[str, bytes] | tarfile.TarInfo]) -> None:
    path.write_bytes(tar_of(parts))


# -- the parts: plain files, of a bounded size ---------------------------------------------


def member(name: str, kind: bytes, linkname: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, linkname
    return info


@pytest.mark.parametrize(
    "kind",
    [tarfile.DIRTYPE, tarfile.FIFOTYPE, tarfile.CHRTYPE, tarfile.BLKTYPE, tarfile.SYMTYPE,
     tarfile.LNKTYPE],
)  # fmt: skip
def test_sums_that_are_not_a_plain_file(tmp_path: Path, kind: bytes) -> None:
    good = bundle_of(tmp_path, tar_of(image_members()))
    lock, images = read_member(good, "lab.lock"), read_member(good, "images.tar.zst")
    path = tmp_path / "odd.tar"
    sums = member("SHA256SUMS", kind, linkname="lab.lock")
    write_outer(path, [sums, ("lab.lock", lock), ("images.tar.zst", images)])
    refused(path, "SHA256SUMS", "not a plain file")


def test_sparse_sums_are_refused_without_reading_them(tmp_path: Path) -> None:
    good = bundle_of(tmp_path, tar_of(image_members()))
    rest = tar_of([("lab.lock", read_member(good, "lab.lock")),
                   ("images.tar.zst", read_member(good, "images.tar.zst"))])  # fmt: skip
    path = tmp_path / "sparse.tar"
    path.write_bytes(sparse_header("SHA256SUMS", 256 << 20) + rest)
    assert peak_bytes(lambda: refused(path, "SHA256SUMS")) < 8 << 20


def test_an_oversized_lock_is_named(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(bundle, "LOCK_LIMIT", 100)
    refused(bundle_of(tmp_path, tar_of(image_members())), "lab.lock", "over")


def peak_bytes(action) -> int:
    tracemalloc.start()
    try:
        action()
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_a_zstd_bomb_of_small_members_keeps_little(tmp_path: Path) -> None:
    zeros = b"\0" * (1 << 20)
    bomb = [(f"blobs/sha256/{n:064x}", zeros) for n in range(64)]
    path = bundle_of(tmp_path, tar_of([*bomb, *image_members()]))
    del bomb, zeros
    assert peak_bytes(lambda: bundle.check(path, PLATFORM, {})) < 16 << 20


def test_a_huge_header_record_is_refused(tmp_path: Path) -> None:
    info = tarfile.TarInfo("notes")
    info.pax_headers = {"comment": "x" * (8 << 20)}
    refused(bundle_of(tmp_path, tar_of([(info, b""), *image_members()])), "header")


def test_too_many_members_are_refused(tmp_path: Path) -> None:
    empty = [(f"e/{n}", b"") for n in range(bundle.MAX_MEMBERS + 1)]
    refused(bundle_of(tmp_path, tar_of([*image_members(), *empty])), "members")


# -- load: nothing reaches the engine before every check, a changed tag is undone ---------


def test_load_refuses_before_docker_load(tmp_path: Path, monkeypatch) -> None:
    loads = []
    monkeypatch.setattr(bundle.docker, "require_engine", lambda: "20.10")
    monkeypatch.setattr(bundle.identity, "engine_platform", lambda: PLATFORM)
    monkeypatch.setattr(bundle, "docker_load", lambda path, checked: loads.append(path))
    path = bundle_of(tmp_path, tar_of(image_members(repo_tags=["debian:trixie"])))
    with pytest.raises(LabError, match="RepoTags"):
        bundle.load(path, tmp_path / "no.lock")
    assert loads == []


@pytest.mark.parametrize("where", ["/tmp", "", "/dev/null"])
def test_load_of_what_is_not_a_file(where: str) -> None:
    with pytest.raises(LabError, match="not a file"):
        bundle.load(Path(where), Path("/nonexistent/lab.lock"))


@pytest.mark.parametrize("kind", [tarfile.DIRTYPE, tarfile.LNKTYPE])
def test_images_no_longer_a_plain_file_at_docker_load_feed_nothing(
    tmp_path: Path, kind: bytes
) -> None:
    """`docker load` reads the bundle again, after the check: where its images.tar.zst has
    become a folder, or a link to another member, nothing is fed; one line, no traceback."""
    good = bundle_of(tmp_path, tar_of(image_members()))
    sums, lock = read_member(good, "SHA256SUMS"), read_member(good, "lab.lock")
    path = tmp_path / "changed.tar"
    images = member("images.tar.zst", kind, linkname="lab.lock")
    write_outer(path, [("SHA256SUMS", sums), ("lab.lock", lock), images])
    sink = io.BytesIO()
    with pytest.raises(LabError, match=r"changed since it was checked \(.*not a plain file"):
        bundle.feed(path, sink)
    assert sink.getvalue() == b""


def test_engine_tags_are_read_without_dangling_images(monkeypatch) -> None:
    listing = ("debian:trixie sha256:aa\n<none>:<none> sha256:bb\n"
               "lab-cpython:stock sha256:cc\n")  # fmt: skip
    monkeypatch.setattr(bundle.docker, "docker", lambda args, **kw: listing)
    assert bundle.engine_tags() == {"debian:trixie": "sha256:aa", "lab-cpython:stock": "sha256:cc"}


def test_a_tag_the_load_changed_is_undone(monkeypatch, tmp_path: Path) -> None:
    before = {"debian:trixie": "sha256:aa", "mine:1": "sha256:cc"}
    after = {"debian:trixie": "sha256:bb", "mine:1": "sha256:cc", "evil:\x1b[2J": "sha256:bb"}
    snapshots, calls = iter([before, after, before]), []
    monkeypatch.setattr(bundle, "engine_tags", lambda: next(snapshots))
    monkeypatch.setattr(bundle, "docker_load", lambda path, checked: None)
    monkeypatch.setattr(bundle.docker, "docker", lambda args, **kw: calls.append(args) or "")
    with pytest.raises(LabError) as caught:
        bundle.load_untagged(tmp_path / "b.tar", checked=None)
    assert "debian:trixie" in str(caught.value) and "\x1b" not in str(caught.value)
    assert ["tag", "--", "sha256:aa", "debian:trixie"] in calls
    assert ["rmi", "--", "evil:\x1b[2J"] in calls
    assert not any("mine:1" in call for call in calls)


def test_a_load_that_changes_no_tag_passes(monkeypatch, tmp_path: Path) -> None:
    same = {"debian:trixie": "sha256:aa"}
    monkeypatch.setattr(bundle, "engine_tags", lambda: dict(same))
    monkeypatch.setattr(bundle, "docker_load", lambda path, checked: None)
    bundle.load_untagged(tmp_path / "b.tar", checked=None)


# -- the config: the locked layers under another entrypoint are another image ---------------


def engine_stub(monkeypatch, facts: ImageFacts | None = None) -> dict[str, list]:
    """An engine that loads nothing: what load asked of it, by kind."""
    asked: dict[str, list] = {"load": [], "docker": []}
    monkeypatch.setattr(bundle.docker, "require_engine", lambda: "20.10")
    monkeypatch.setattr(bundle.identity, "engine_platform", lambda: PLATFORM)
    monkeypatch.setattr(bundle, "engine_tags", dict)
    monkeypatch.setattr(bundle, "engine_images", dict)
    # A classic store's engine that prints no IDs: load looks up the configs it checked.
    monkeypatch.setattr(
        bundle, "docker_load", lambda path, checked: asked["load"].append(path) or []
    )
    monkeypatch.setattr(bundle.identity, "inspect", lambda ref: facts)
    monkeypatch.setattr(bundle.identity, "config_digest", lambda ref: ref)  # the classic ID
    monkeypatch.setattr(bundle.docker, "docker", lambda args, **kw: asked["docker"].append(args))
    return asked


@pytest.mark.parametrize("claimed", [None, "genuine", "evil"], ids=lambda c: f"its-lock-says-{c}")
def test_a_changed_entrypoint_on_the_locked_layers_is_refused_before_docker_load(
    tmp_path: Path, monkeypatch, claimed: str | None
) -> None:
    says = {None: None, "genuine": digest(GENUINE), "evil": digest(EVIL)}[claimed]
    path = bundle_of(tmp_path, tar_of(members_with(EVIL)), with_config(locked(), says))
    asked = engine_stub(monkeypatch)
    with pytest.raises(LabError) as caught:
        bundle.load(path, class_lock(tmp_path, digest(GENUINE)))
    line = str(caught.value)
    assert "\n" not in line and "stock image's config is" in line, line
    assert asked == {"load": [], "docker": []}, "the engine saw nothing of it"


def test_a_bundle_whose_own_lock_misstates_the_config_is_refused(tmp_path: Path) -> None:
    path = bundle_of(tmp_path, tar_of(members_with(EVIL)), with_config(locked(), digest(GENUINE)))
    refused(path, "stock image's config is", digest(EVIL)[:19])


def test_the_locked_config_loads_and_is_tagged(tmp_path: Path, monkeypatch, capsys) -> None:
    path = bundle_of(tmp_path, tar_of(members_with(GENUINE)), with_config(locked(), None))
    loaded = ImageFacts(digest(GENUINE), rootfs_identity([DIFF_ID]), PLATFORM, (), {})
    asked = engine_stub(monkeypatch, loaded)
    bundle.load(path, class_lock(tmp_path, digest(GENUINE)))
    assert asked["docker"] == [["tag", "--", digest(GENUINE), "lab-cpython:stock"]]
    assert "note" not in capsys.readouterr().out


def test_a_lock_from_before_configs_were_locked_loads_with_a_note(
    tmp_path: Path, monkeypatch, capsys
) -> None:
    path = bundle_of(tmp_path, tar_of(members_with(GENUINE)))
    loaded = ImageFacts(digest(GENUINE), rootfs_identity([DIFF_ID]), PLATFORM, (), {})
    asked = engine_stub(monkeypatch, loaded)
    bundle.load(path, class_lock(tmp_path, None))
    assert asked["docker"] == [["tag", "--", digest(GENUINE), "lab-cpython:stock"]]
    notes = [line for line in capsys.readouterr().out.splitlines() if "note" in line]
    assert len(notes) == 1 and "stock" in notes[0] and "config" in notes[0], notes


def test_a_loaded_image_that_is_not_the_locked_config_is_not_tagged(
    tmp_path: Path, monkeypatch
) -> None:
    path = bundle_of(tmp_path, tar_of(members_with(GENUINE)))
    other = ImageFacts(digest(EVIL), rootfs_identity([DIFF_ID]), PLATFORM, (), {})
    asked = engine_stub(monkeypatch, other)
    with pytest.raises(LabError, match="stock") as caught:
        bundle.load(path, class_lock(tmp_path, digest(GENUINE)))
    assert "config" in str(caught.value) and "\n" not in str(caught.value)
    assert not any(args[0] == "tag" for args in asked["docker"])
