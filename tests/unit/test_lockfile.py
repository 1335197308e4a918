"""lab.lock: written whole, read back the same, and refused in one line when it is not one."""

from __future__ import annotations

from pathlib import Path

import pytest

from lab import lockfile
from lab.errors import LabError
from lab.lockfile import LockedImage

ENTRY = LockedImage(
    variant="ft", image="lab-cpython:ft", platform="linux/amd64", rootfs="sha256:" + "1" * 64,
    fingerprint={"python": "3.13.5"}, repository="127.0.0.1:5000/class/lab-cpython",
    digest="sha256:" + "2" * 64,
)  # fmt: skip


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
