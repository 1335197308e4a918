"""lab.lock: written whole, read back the same, and refused in one line when it is not one."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from lab.classroom import lockfile
from lab.classroom.lockfile import LockedImage
from lab.errors import LabError
from tests.unit.classroom.bundles import ENTRY


def test_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "lab.lock"
    lockfile.write({"ft": ENTRY}, "127.0.0.1:5000/class", path)
    assert lockfile.read(path) == {"ft": ENTRY}
    assert ENTRY.reference == f"127.0.0.1:5000/class/lab-cpython@sha256:{'2' * 64}"
    assert [p.name for p in tmp_path.iterdir()] == ["lab.lock"], "no temporary file is left"


def test_an_entry_never_pushed_has_no_reference() -> None:
    unpushed = LockedImage(**{**ENTRY.__dict__, "repository": None, "digest": None})
    with pytest.raises(LabError, match="never published"):
        _ = unpushed.reference


@pytest.mark.parametrize(
    "text", ["", "{", '{"lab_lock": 3, "images": {}}', '{"lab_lock": 1, "images": {"ft": 3}}']
)
def test_not_a_lock(tmp_path: Path, text: str) -> None:
    (tmp_path / "lab.lock").write_text(text)
    with pytest.raises(LabError, match=r"lab\.lock"):
        lockfile.read(tmp_path / "lab.lock")


def test_no_lock(tmp_path: Path) -> None:
    with pytest.raises(LabError, match="invoke publish"):
        lockfile.read(tmp_path / "lab.lock")


def lock_text(**fields) -> str:
    """A lock of ENTRY, with FIELDS of its entry replaced (None: removed)."""
    entry = {k: v for k, v in ENTRY.__dict__.items() if k != "variant"}
    entry.update(fields)
    entry = {k: v for k, v in entry.items() if v is not None or k in ("repository", "digest")}
    return json.dumps({"lab_lock": 1, "registry": None, "images": {"ft": entry}})


@pytest.mark.parametrize(
    ("fields", "says"),
    [
        ({"platform": 5}, "platform"),
        ({"platform": "linux"}, "platform"),
        ({"rootfs": "sha256:xyz"}, "rootfs"),
        ({"repository": "--help"}, "repository"),
        ({"repository": "-x/lab-cpython"}, "repository"),
        ({"repository": "127.0.0.1:5000/Class/lab"}, "repository"),
        ({"repository": "host/a b"}, "repository"),
        ({"digest": "sha256:" + "2" * 63}, "digest"),
        ({"digest": ["sha256:" + "2" * 64]}, "digest"),
        ({"config": "sha256:" + "3" * 63}, "config is not sha256"),
        ({"config": "sha256:" + "A" * 64}, "config is not sha256"),
        ({"config": 3}, "config is not sha256"),
        ({"config": "3" * 64}, "config is not sha256"),
        ({"image": 7}, "image"),
        ({"fingerprint": []}, "fingerprint"),
        ({"fingerprint": {"python": ["3.13"]}}, "fingerprint"),
        ({"fingerprint": {"packages": {"numpy": 2}}}, "fingerprint"),
        ({"fingerprint": None}, "fingerprint"),
        ({"extra": 1}, "ft"),
    ],
)
def test_every_field_is_checked(fields: dict, says: str) -> None:
    with pytest.raises(LabError, match=f"{says}") as caught:
        lockfile.parse(lock_text(**fields), "lab.lock")
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize("name", ["../../x", "nope", "\x1b]52;c;aGk=\x07"])
def test_a_variant_this_lab_lacks(name: str) -> None:
    text = lock_text().replace('"ft"', json.dumps(name))
    with pytest.raises(LabError, match="not an image of this lab") as caught:
        lockfile.parse(text, "lab.lock")
    assert "\x1b" not in str(caught.value) and "\x07" not in str(caught.value)


@pytest.mark.parametrize(
    "text",
    ['{"lab_lock": 1, "images": []}', '{"lab_lock": true, "images": {}}',
     '{"lab_lock": 1, "registry": 5, "images": {}}', "[" * 100_000, '{"lab_lock": NaN}'],
)  # fmt: skip
def test_a_lock_of_the_wrong_shape_is_one_line(text: str) -> None:
    with pytest.raises(LabError, match=r"lab\.lock"):
        lockfile.parse(text, "lab.lock")


def test_a_lock_made_before_configs_were_locked_still_reads() -> None:
    old = json.loads(lock_text())
    del old["images"]["ft"]["config"]
    assert lockfile.parse(json.dumps(old), "lab.lock")["ft"].config is None


def test_a_good_lock_with_a_null_fingerprint_field_passes() -> None:
    text = lock_text(fingerprint={"python": "3.13.5", "optimize": None, "Py_DEBUG": 0})
    assert lockfile.parse(text, "lab.lock")["ft"].fingerprint["optimize"] is None


def test_a_lock_that_is_not_a_regular_file(tmp_path: Path) -> None:
    with pytest.raises(LabError, match="not a regular file"):
        lockfile.read(Path("/dev/zero"))
    with pytest.raises(LabError, match="not a regular file"):
        lockfile.read(tmp_path)


def test_the_class_images_a_station_may_go_without(tmp_path: Path) -> None:
    """A station run reads which images the class's lock names: none (no lock, or one that
    does not read: doctor says why) asks for every image."""
    path = tmp_path / "lab.lock"
    assert lockfile.class_images(path) is None
    lockfile.write({"ft": ENTRY}, None, path)
    assert lockfile.class_images(path) == frozenset({"ft"})
    path.write_text("{not json")
    assert lockfile.class_images(path) is None


# -- format 2: one lock, several platforms ---------------------------------------------------

ARM = LockedImage(**{**ENTRY.__dict__, "platform": "linux/arm64", "digest": "sha256:" + "5" * 64,
                     "rootfs": "sha256:" + "6" * 64, "index": "sha256:" + "4" * 64})  # fmt: skip
AMD = LockedImage(**{**ENTRY.__dict__, "index": ARM.index})
TWO = lockfile.Lock("127.0.0.1:5000/class", {"ft": {"linux/amd64": AMD, "linux/arm64": ARM}})


def test_two_platforms_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "lab.lock"
    lockfile.write_lock(TWO, path)
    written = json.loads(path.read_text())
    assert written["lab_lock"] == 2
    assert written["images"]["ft"]["index"] == ARM.index
    assert set(written["images"]["ft"]["platforms"]["linux/arm64"]) == lockfile.PLATFORM_FIELDS
    assert lockfile.read_all(path) == TWO
    assert lockfile.read(path, "linux/arm64") == {"ft": ARM}
    assert lockfile.read(path, "linux/amd64") == {"ft": AMD}


def test_a_lock_of_several_platforms_reads_the_engines_own(tmp_path, monkeypatch) -> None:
    from lab.images import identity

    lockfile.write_lock(TWO, tmp_path / "lab.lock")
    monkeypatch.setattr(identity, "engine_platform", lambda: "linux/arm64")
    assert lockfile.read(tmp_path / "lab.lock") == {"ft": ARM}


def test_a_lock_of_one_platform_asks_no_engine(tmp_path, monkeypatch) -> None:
    from lab.images import identity

    lockfile.write({"ft": ENTRY}, None, tmp_path / "lab.lock")
    monkeypatch.setattr(identity, "engine_platform", lambda: pytest.fail("asked the engine"))
    assert lockfile.read(tmp_path / "lab.lock") == {"ft": ENTRY}


def test_a_platform_the_lock_lacks_is_one_line_naming_those_it_has(tmp_path: Path) -> None:
    lockfile.write_lock(TWO, tmp_path / "lab.lock")
    with pytest.raises(LabError) as caught:
        lockfile.read(tmp_path / "lab.lock", "linux/riscv64")
    said = str(caught.value)
    assert said.endswith("has no linux/riscv64 images: it locks linux/amd64, linux/arm64")


def test_a_format_1_lock_reads_as_one_platform() -> None:
    lock = lockfile.parse_all(lock_text(), "lab.lock")
    assert lock.platforms() == ["linux/amd64"] and lock.registry is None
    assert lockfile.parse(lock_text(), "lab.lock", "linux/amd64") == {"ft": ENTRY}


def test_append_adds_a_platform_and_replaces_its_own() -> None:
    old = lockfile.Lock.of({"ft": ENTRY}, "r")
    newer_amd = LockedImage(**{**ENTRY.__dict__, "rootfs": "sha256:" + "7" * 64})
    both = lockfile.merged(old, lockfile.Lock("r", {"ft": {"linux/arm64": ARM}}))
    assert both.images["ft"] == {"linux/amd64": ENTRY, "linux/arm64": ARM}
    again = lockfile.merged(both, lockfile.Lock.of({"ft": newer_amd}, "r"))
    assert again.images["ft"] == {"linux/amd64": newer_amd, "linux/arm64": ARM}
    assert old.images["ft"] == {"linux/amd64": ENTRY}, "the old lock is left as it was"


def format_2(**changes) -> str:
    """TWO as text, its ft entry's fields CHANGED."""
    raw = json.loads(lockfile.lock_json(TWO))
    raw["images"]["ft"].update(changes)
    return json.dumps(raw)


@pytest.mark.parametrize(
    ("changes", "says"),
    [
        ({"index": "sha256:xyz"}, "ft's index is not sha256"),
        ({"index": ["sha256:" + "4" * 64]}, "ft's index"),
        ({"platforms": {}}, "ft's platforms is not an object of 1 to 8"),
        ({"platforms": [1]}, "ft's platforms"),
        ({"platforms": {f"linux/a{i}": {} for i in range(9)}}, "1 to 8"),
        ({"platforms": {"linux": {"rootfs": "sha256:" + "1" * 64, "fingerprint": {}}}},
         "ft's platform is not OS/ARCH"),
        ({"platforms": {"--help/x": {"rootfs": "sha256:" + "1" * 64, "fingerprint": {}}}},
         "ft's platform is not OS/ARCH"),
        ({"platforms": {"linux/amd64": {"rootfs": "sha256:1", "fingerprint": {}}}}, "rootfs"),
        ({"platforms": {"linux/amd64": {"fingerprint": {}}}}, "its ft entry has the fields"),
        ({"platforms": {"linux/amd64": {"rootfs": "sha256:" + "1" * 64, "fingerprint": {},
                                        "platform": "linux/arm64"}}}, "linux/amd64 entry"),
        ({"platforms": {"linux/amd64": "x"}}, "linux/amd64 entry is not an object"),
        ({"repository": "--help"}, "repository"),
        ({"image": "lab-cpython"}, "image is not NAME:TAG"),
        ({"extra": 1}, "ft entry is not an object of the fields"),
    ],
)  # fmt: skip
def test_every_format_2_field_is_checked(changes: dict, says: str) -> None:
    with pytest.raises(LabError, match=re.escape(says)) as caught:
        lockfile.parse_all(format_2(**changes), "lab.lock")
    assert "\n" not in str(caught.value)


def test_a_hostile_platform_name_is_shown_as_text() -> None:
    text = format_2(platforms={"\x1b]52;c;aGk=\x07": {"rootfs": "sha256:" + "1" * 64}})
    with pytest.raises(LabError) as caught:
        lockfile.parse_all(text, "lab.lock")
    assert "\x1b" not in str(caught.value) and "\x07" not in str(caught.value)
