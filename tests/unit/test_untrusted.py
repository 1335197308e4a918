"""untrusted.py's readers of files and commands: bounded, regular files only, one line."""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path

import pytest

from lab import untrusted
from lab.errors import LabError


def test_json_file_reads_a_regular_file(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_text('{"a": [1, 2]}')
    assert untrusted.json_file(tmp_path / "a.json", 100) == {"a": [1, 2]}


@pytest.mark.parametrize(
    ("text", "says"),
    [("[" * 100_000, "nests"), ('{"a": NaN}', "not JSON"), ("{", "not JSON"), ("x" * 101, "over")],
)
def test_json_file_refuses_in_one_line(tmp_path: Path, text: str, says: str) -> None:
    (tmp_path / "a.json").write_text(text)
    with pytest.raises(LabError, match=says) as caught:
        untrusted.json_file(tmp_path / "a.json", 100 if says == "over" else 1 << 20)
    assert "\n" not in str(caught.value) and "a.json" in str(caught.value)


def test_json_file_refuses_what_is_not_a_regular_file(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "fifo")  # no writer: a read would block for ever
    for path in (Path("/dev/zero"), tmp_path, tmp_path / "fifo"):
        with pytest.raises(LabError, match="not a regular file"):
            untrusted.json_file(path, 1 << 20)
    with pytest.raises(LabError, match="cannot read"):
        untrusted.json_file(tmp_path / "absent.json", 1 << 20)


def test_json_file_refuses_text_that_is_not_utf8(tmp_path: Path) -> None:
    (tmp_path / "a.json").write_bytes(b'"\xff"')
    with pytest.raises(LabError, match="UTF-8"):
        untrusted.json_file(tmp_path / "a.json", 100)


def test_read_regular_refuses_a_link_unless_told_to_follow(tmp_path: Path) -> None:
    (tmp_path / "real").write_bytes(b"data")
    (tmp_path / "link").symlink_to(tmp_path / "real")
    with pytest.raises(LabError, match=r"^a link, not followed$"):
        untrusted.read_regular(tmp_path / "link", 100)
    assert untrusted.read_regular(tmp_path / "link", 100, follow_links=True) == b"data"
    # regular_file: a lock or a weights file is where its owner put it
    assert untrusted.regular_file(tmp_path / "link", 100) == b"data"


def test_read_regular_in_a_folder_by_descriptor(tmp_path: Path) -> None:
    (tmp_path / "a").write_bytes(b"12345")
    (tmp_path / "b").hardlink_to(tmp_path / "a")
    folder = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        assert untrusted.read_regular("a", 5, dir_fd=folder) == b"12345"
        with pytest.raises(LabError, match=r"^over 4 bytes$"):
            untrusted.read_regular("a", 4, dir_fd=folder)
        with pytest.raises(LabError, match=r"^a hard link \(2 names\)"):
            untrusted.read_regular("a", 5, dir_fd=folder, one_name=True)
    finally:
        os.close(folder)


def test_open_regular_refuses_a_fifo_without_blocking(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "fifo")  # no writer: an open without O_NONBLOCK would wait for one
    with pytest.raises(LabError, match=r"^not a regular file$"):
        untrusted.open_regular(tmp_path / "fifo")
    (tmp_path / "file").write_bytes(b"x")
    with untrusted.open_regular(tmp_path / "file") as file:
        assert file.read() == b"x"


def test_run_bounded_returns_output_and_code() -> None:
    code, out, err = untrusted.run_bounded(
        [sys.executable, "-c", "import sys; print('hi'); sys.exit(3)"], 100, 30, "a test"
    )
    assert (code, out, err) == (3, b"hi\n", b"")


def test_run_bounded_stops_an_endless_output() -> None:
    started = time.monotonic()
    with pytest.raises(LabError, match="over 1000 bytes"):
        untrusted.run_bounded(["yes"], 1000, 30, "yes")
    assert time.monotonic() - started < 10


def test_run_bounded_keeps_little_of_an_endless_stderr() -> None:
    argv = [sys.executable, "-c", "import sys\nfor _ in range(20000): sys.stderr.write('e' * 1000)"]
    code, _, err = untrusted.run_bounded(argv, 100, 60, "noise")
    assert code == 0 and 0 < len(err) <= 64 * 1024


def test_run_bounded_times_out() -> None:
    with pytest.raises(LabError, match="took over 1 s"):
        untrusted.run_bounded(["sleep", "30"], 100, 1, "sleep")
