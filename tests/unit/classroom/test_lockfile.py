"""lab.lock: written whole, read back the same, and refused in one line when it is not one."""

from __future__ import annotations

import json
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
    "text", ["", "{", '{"lab_lock": 2, "images": {}}', '{"lab_lock": 1, "images": {"ft": 3}}']
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
