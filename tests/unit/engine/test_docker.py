"""The Docker CLI's failures become one line: the one that says what went wrong."""

from __future__ import annotations

from lab.engine.docker import telling_line


def test_the_error_line_wins_over_the_last() -> None:
    stderr = "Error response from daemon: No such image: lab-cpython:nope\nSee 'docker --help'.\n"
    assert telling_line(stderr) == "Error response from daemon: No such image: lab-cpython:nope"


def test_otherwise_the_last_line() -> None:
    assert telling_line("pulling\nstill pulling\n") == "still pulling"
    assert telling_line("") == "(no message)"
