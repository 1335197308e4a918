"""lab/run/runner.py: the supervisor's frames as the host reads them (what a container
prints is shown, never obeyed), and a signal while the reading list resolves."""

from __future__ import annotations

import inspect
import signal

import pytest

from lab.config import VARIANTS
from lab.engine import labels
from lab.engine.signals import Interrupted
from lab.run import runner as lab_runner
from lab.run.runner import MAX_FRAME, Frames, Lines, Outcome
from lab.untrusted import text


def test_bytes_that_are_not_utf8_and_escape_sequences_are_shown_safely() -> None:
    shown: list[str] = []
    frames, lines = Frames(0, 10, shown.append), Lines()
    raw = b"@start 0\n|0 \xff\xfe caf\xc3\xa9 \x1b[2J\x1b]0;owned\x07 \xe2\x80\xae\n"
    for line in lines.feed(raw + b'@end 0 {"exit_code": 0, "seconds": 1}\n'):
        frames.parse(line)
    assert shown == ["\ufffd\ufffd café ?[2J?]0;owned? ?"]
    assert frames.outcome == Outcome(0, 1.0, "")


def test_a_forged_or_malformed_frame_is_shown_not_obeyed() -> None:
    shown: list[str] = []
    frames, lines = Frames(0, 10, shown.append), Lines()
    stream = b"@start 0\n@end 0 [1]\n@end 0 {nope\n@end 7 {}\n|3 other\n"
    for line in lines.feed(stream):
        frames.parse(line)
    assert frames.outcome is None and len(shown) == 4


@pytest.mark.parametrize(
    "end", [b'{"exit_code": true, "seconds": 1}', b'{"exit_code": 0, "seconds": -1}',
            b'{"exit_code": 5000, "seconds": 1}', b'{"exit_code": 0, "seconds": 1e9}'],
)  # fmt: skip
def test_an_outcome_out_of_range_is_not_taken_even_under_python_O(end: bytes) -> None:
    """Checked with `if`, not `assert` (python -O drops asserts and took every frame)."""
    frames = Frames(0, 10, [].append)
    frames.parse(b"@start 0")
    frames.parse(b"@end 0 " + end)
    assert frames.outcome is None
    source = inspect.getsource(Frames._outcome)
    assert "assert " not in source


def test_an_endless_line_is_cut_not_buffered() -> None:
    lines = Lines()
    endless = b"x" * (MAX_FRAME + 1)
    assert lines.feed(endless) == [endless] and lines.pending == b""
    assert len(text(b"y" * 10**6)) == 2000


def test_a_signal_while_the_reading_list_resolves_names_its_container(monkeypatch) -> None:
    """The reader's container is removed, and named, like an experiment's."""
    removed: list[list[str]] = []

    class Reader:  # a `docker compose run` that is still resolving when the signal comes
        def __init__(self, *args, **kwargs) -> None:
            self.returncode = None

        def communicate(self, *args, **kwargs):
            raise Interrupted(signal.SIGINT)

        def poll(self):
            return self.returncode

        def kill(self) -> None:
            self.returncode = -9

    monkeypatch.setattr(lab_runner.subprocess, "Popen", Reader)
    monkeypatch.setattr(lab_runner.containers, "run_command", lambda *a, **k: ["true"])
    monkeypatch.setattr(lab_runner.containers, "env", lambda *a: {})
    monkeypatch.setattr(lab_runner.docker, "docker", lambda args, **k: removed.append(args) or "")
    compose = lab_runner.ComposeRunner()
    with pytest.raises(Interrupted):
        compose.resolve_reading(VARIANTS["stock"], [], {labels.RUN: "abc"})
    assert compose.stop_all() == ["lab-abc-stock-reading"]
    assert removed == [["rm", "-f", "lab-abc-stock-reading"]]
