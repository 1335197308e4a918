"""`invoke doctor --compare`: every difference named, image by image and field by field."""

from __future__ import annotations

import copy
import itertools
import json
import os
from pathlib import Path

import pytest

from lab.classroom import facts, lockfile
from lab.classroom.lockfile import LockedImage
from lab.errors import LabError
from lab.images.identity import platform_of, rootfs_identity, runs_on

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


def test_every_variant_that_differs_is_named() -> None:
    """A difference in one variant once replaced the two sides by its strings, and the next
    variant's crashed (doctor --compare, the class page)."""
    theirs = {name: {**ENTRY, "rootfs": "sha256:" + "2" * 64} for name in ("stock", "ft")}
    lines = facts.differences({"stock": ENTRY, "ft": ENTRY}, theirs)
    assert [line.split(":")[0] for line in lines] == ["stock", "ft"]


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


# -- another machine's JSON is untrusted ---------------------------------------------------


def facts_file(tmp_path: Path, images) -> Path:
    path = tmp_path / "theirs.json"
    path.write_text(json.dumps({"lab_facts": 1, "images": images}))
    return path


@pytest.mark.parametrize(
    "images",
    [
        [],
        {"stock": []},
        {"stock": {**ENTRY, "image": 5}},
        {"stock": {**ENTRY, "rootfs": 12}},
        {"stock": {**ENTRY, "platform": ["linux"]}},
        {"stock": {**ENTRY, "fingerprint": "x"}},
        {"stock": {**ENTRY, "fingerprint": {**FINGERPRINT, "packages": ["numpy"]}}},
        {"stock": {**ENTRY, "fingerprint": {**FINGERPRINT, "packages": {"numpy": 2}}}},
        {"stock": {**ENTRY, "fingerprint": {**FINGERPRINT, "python": {"a": 1}}}},
        {"../../x": ENTRY},
    ],
)
def test_wrong_types_are_one_line(tmp_path: Path, images) -> None:
    with pytest.raises(LabError, match=r"theirs\.json") as caught:
        facts.read_reference(facts_file(tmp_path, images))
    assert "\n" not in str(caught.value)


def test_deep_json_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "deep.json").write_text("[" * 100_000)
    with pytest.raises(LabError, match=r"deep\.json"):
        facts.read_reference(tmp_path / "deep.json")


@pytest.mark.parametrize("where", ["/dev/zero", "folder", "fifo"])
def test_what_is_not_a_regular_file_is_not_read(tmp_path: Path, where: str) -> None:
    (tmp_path / "folder").mkdir()
    os.mkfifo(tmp_path / "fifo")
    path = Path(where) if where.startswith("/") else tmp_path / where
    with pytest.raises(LabError, match="not a regular file"):
        facts.read_reference(path)


def test_a_file_over_the_limit_is_not_read(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(facts, "REFERENCE_LIMIT", 100)
    path = facts_file(tmp_path, {"stock": ENTRY})
    with pytest.raises(LabError, match="over"):
        facts.read_reference(path)


ESCAPES = "\x1b]52;c;cm0gLXJmIH4=\x07\x1b[2J\x9b"


def test_the_other_machines_strings_reach_no_terminal_raw(tmp_path: Path) -> None:
    theirs = copy.deepcopy(ENTRY)
    theirs["fingerprint"]["python"] = ESCAPES
    theirs["fingerprint"]["packages"][ESCAPES] = ESCAPES
    theirs["fingerprint"]["debian_packages"]["libc6"] = ESCAPES
    theirs["fingerprint"][ESCAPES] = ESCAPES
    there = facts.read_reference(facts_file(tmp_path, {"stock": theirs}))
    lines = facts.differences({"stock": ENTRY}, there)
    assert len(lines) == 4
    for line in lines:
        assert not any(ch in line for ch in "\x1b\x07\x9b"), repr(line)


def test_a_good_facts_file_still_compares(tmp_path: Path) -> None:
    there = facts.read_reference(facts_file(tmp_path, {"stock": ENTRY, "ft": None}))
    assert facts.differences({"stock": ENTRY, "ft": None}, there) == []


# -- the fingerprint read: a station's kind of container, its output bounded ---------------


def test_the_fingerprint_is_read_in_a_locked_down_container(monkeypatch) -> None:
    runs = []

    def run(argv, limit, timeout, what):
        runs.append(argv)
        return 0, json.dumps(FINGERPRINT).encode(), b""

    monkeypatch.setattr(facts.docker, "run_bounded", run)
    monkeypatch.setattr(facts.docker, "host_ids", lambda: (1234, 1234))
    assert facts.fingerprint("lab-cpython:stock") == FINGERPRINT
    argv = runs[0]
    assert argv[:2] == ["run", "--rm"], "`docker`'s arguments: lab.engine adds its name"
    pairs = set(itertools.pairwise(argv))
    for pair in [("--user", "1234:1234"), ("--cap-drop", "ALL"), ("--network", "none"),
                 ("--security-opt", "no-new-privileges"), ("--entrypoint", "cat")]:  # fmt: skip
        assert pair in pairs, pair
    assert {"--read-only", "--memory", "--pids-limit"} <= set(argv)
    assert argv[-2:] == ["lab-cpython:stock", facts.FINGERPRINT_FILE]


@pytest.mark.parametrize(
    "printed", [b"[1]", b"[" * 100_000, b"\xff\xfe", b'{"python": {"x": [1]}}', b"{}" + b" " * 10]
)
def test_what_an_image_prints_as_its_fingerprint_is_checked(monkeypatch, printed: bytes) -> None:
    monkeypatch.setattr(facts.docker, "run_bounded", lambda *a, **k: (0, printed, b""))
    monkeypatch.setattr(facts.docker, "host_ids", lambda: (1000, 1000))
    if printed.startswith(b"{}"):
        assert facts.fingerprint("img") == {}
        return
    with pytest.raises(LabError, match="fingerprint"):
        facts.fingerprint("img")


def test_a_failed_fingerprint_read_is_one_clean_line(monkeypatch) -> None:
    err = b"cat: /etc/lab/fingerprint.json: \x1b[2JNo such file\n"
    monkeypatch.setattr(facts.docker, "run_bounded", lambda *a, **k: (1, b"", err))
    monkeypatch.setattr(facts.docker, "host_ids", lambda: (1000, 1000))
    removed = []
    monkeypatch.setattr(facts.docker, "docker", lambda args, **kw: removed.append(args) or "")
    with pytest.raises(LabError, match="No such file") as caught:
        facts.fingerprint("img")
    assert "\x1b" not in str(caught.value)
    assert removed and removed[0][:2] == ["rm", "-f"], "its container is removed"


def test_doctor_shows_an_images_fingerprint_as_clean_text() -> None:
    from lab import doctor
    from lab.config import ALL_VARIANTS

    odd = {"python": ESCAPES, "digest": ESCAPES, "packages": {"torch": ESCAPES}}
    for fingerprint in (odd, {}):  # {}: an image that recorded none of them
        found = LockedImage(
            "stock", "lab-cpython:stock", "linux/amd64", ENTRY["rootfs"], fingerprint
        )
        row = doctor.image_row(ALL_VARIANTS["stock"], found, "linux/amd64")
        assert row.status == doctor.OK
        assert not any(ch in row.detail for ch in "\x1b\x07\x9b"), repr(row.detail)


def test_a_config_that_differs_is_named() -> None:
    mine, theirs = (
        dict(ENTRY, config="sha256:" + "a" * 64),
        dict(ENTRY, config="sha256:" + "b" * 64),
    )
    assert facts.differences({"stock": mine}, {"stock": theirs}) == [
        f"stock: config: sha256:{'a' * 64} here, sha256:{'b' * 64} there"
    ]
    assert facts.differences({"stock": mine}, {"stock": dict(ENTRY, config=None)}) == []


def test_the_machine_facts_record_the_engines_kind(monkeypatch) -> None:
    """A hand-in's doctor.json says which engine ran its images: Podman's answers, as
    Debian 12's 4.3.1 gives them through the Docker API."""
    from lab.engine import docker
    from lab.images import identity

    server = {"Version": "4.3.1", "Components": [{"Name": "Podman Engine", "Version": "4.3.1"}]}
    monkeypatch.setattr(docker, "require_engine", lambda: "4.3.1")
    monkeypatch.setattr(docker, "engine_server", lambda: server)
    monkeypatch.setattr(docker, "engine_info", lambda: {"SecurityOptions": []})
    monkeypatch.setattr(identity, "engine_platform", lambda: "linux/amd64")
    monkeypatch.setattr(facts, "local_images", lambda: {"stock": None})
    machine = facts.machine_facts()
    assert machine["engine"] == {"version": "4.3.1", "kind": "Podman", "platform": "linux/amd64"}
    assert machine["images"] == {"stock": None}
