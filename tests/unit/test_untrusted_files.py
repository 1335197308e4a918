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
