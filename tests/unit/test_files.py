"""lab/files.py: a file the lab owns is replaced whole or not at all."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from lab import files
from lab.errors import LabError


@pytest.mark.parametrize("content", ["text é\ud800", b"\x00bytes", lambda out: out.write(b"x")])
def test_text_bytes_or_a_writer_replace_the_file(tmp_path: Path, content) -> None:
    path = tmp_path / "page.html"
    path.write_text("old")
    files.write_atomically(path, content)
    assert path.read_bytes() != b"old" and stat.S_IMODE(path.stat().st_mode) == 0o644
    assert sorted(p.name for p in tmp_path.iterdir()) == ["page.html"], "nothing left aside"


def test_a_failed_write_keeps_the_old_file_and_leaves_nothing(tmp_path, monkeypatch) -> None:
    path = tmp_path / "lab.lock"
    path.write_text("old")

    def full_disk(source, target):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(files.os, "replace", full_disk)
    with pytest.raises(LabError, match=r"cannot write .*lab\.lock: No space left on device"):
        files.write_atomically(path, "new")
    assert path.read_text() == "old" and sorted(os.listdir(tmp_path)) == ["lab.lock"]


def test_an_interrupted_writer_leaves_nothing(tmp_path: Path) -> None:
    def interrupted(out) -> None:
        out.write(b"half")
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        files.write_atomically(tmp_path / "hand-in.tar.gz", interrupted)
    assert list(tmp_path.iterdir()) == []


def test_a_link_at_the_path_is_replaced_not_written_through(tmp_path: Path) -> None:
    target = tmp_path / "elsewhere"
    target.write_text("keep")
    (tmp_path / "class.html").symlink_to(target)
    files.write_atomically(tmp_path / "class.html", "page")
    assert target.read_text() == "keep" and not (tmp_path / "class.html").is_symlink()
