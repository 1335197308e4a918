"""lab.progress: the words a display says, and the plain lines CI and pipes get."""

from __future__ import annotations

import io
import time

import pytest

from lab import progress
from lab.progress import Estimate, Progress, Work


class Clock:
    """A clock the test moves."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def plain(work: Work, clock: Clock) -> tuple[Progress, io.StringIO]:
    out = io.StringIO()
    return Progress(work, prefix="bundle", out=out, live=False, clock=clock), out


def test_a_transfer_says_bytes_of_the_total_and_the_rate() -> None:
    work = Work("lab-cpython:stock", "bytes", done=1.5e9, total=3e9)
    assert progress.describe(work, 10) == "1.50 GB of 3.00 GB (50%), 150.0 MB/s, 0:10 elapsed"


def test_a_build_says_its_step_the_time_and_the_estimate() -> None:
    work = Work("lab-cpython:stock", "steps", done=12, total=31, note="[lab 3/8] RUN make")
    work.estimate = Estimate(580, "last build of these inputs")
    assert progress.describe(work, 182) == (
        "step 12/31, 3:02 elapsed, about 6:38 left (last build of these inputs: 9:40)"
        ": [lab 3/8] RUN make"
    )
    assert "past the expected 9:40 (last build of these inputs)" in progress.describe(work, 700)


def test_plain_lines_never_carry_a_carriage_return() -> None:
    """What CI and a pipe get: whole lines, however the note and the bytes move."""
    clock = Clock()
    shown, out = plain(Work("lab-cpython:stock", "bytes", total=1e9), clock)
    for _ in range(400):
        clock.now += 0.25
        shown.update(shown.work.done + 2.5e6, note="layer\r 3")
    shown.finish()
    written = out.getvalue()
    assert "\r" not in written
    assert "\x1b" not in written, "no escape sequence either"
    lines = written.splitlines()
    assert lines[-1] == "[bundle] lab-cpython:stock: done, 1.00 GB in 1:40, 10.0 MB/s"
    # One line per tenth, at most one per PLAIN_EVERY_S: ten or eleven, never 400.
    assert 10 <= len(lines) <= 12, lines


def test_plain_lines_are_spaced_and_a_long_quiet_step_still_speaks() -> None:
    clock = Clock()
    shown, out = plain(Work("lab-cpython:stock", "steps"), clock)
    for step in range(1, 6):  # five steps in one second: cached ones
        clock.now += 0.2
        shown.update(step, 31, note=f"step {step}")
    for _ in range(300):  # then one step of five minutes, printing a line a second
        clock.now += 1
        shown.update(5, 31, note="step 5")
    lines = out.getvalue().splitlines()
    assert len(lines) == 1 + 300 // int(progress.HEARTBEAT_S), lines
    assert all(line.startswith("[bundle] lab-cpython:stock: step ") for line in lines)


def test_a_step_that_prints_nothing_still_gets_its_line(monkeypatch) -> None:
    """CPython's `make` prints nothing to BuildKit for minutes: the ticker speaks anyway,
    and falls silent once the work is finished."""
    monkeypatch.setattr(progress, "HEARTBEAT_S", 0.02)
    clock = Clock()
    shown, out = plain(Work("lab-cpython:stock", "steps"), clock)
    shown.update(15, 16, note="[stock cpython 4/4] RUN make")
    clock.now += 180  # three minutes of silence, and no update
    deadline = time.monotonic() + 5
    while len(out.getvalue().splitlines()) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert "step 15/16, 3:00 elapsed" in out.getvalue().splitlines()[1]
    shown.finish()
    finished = out.getvalue()
    clock.now += 180
    time.sleep(0.1)
    assert out.getvalue() == finished, "nothing after the last line"


def test_ci_gets_plain_lines_even_on_a_terminal(monkeypatch) -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setenv("TERM", "xterm")
    assert progress.live_terminal(Terminal())
    assert not progress.live_terminal(io.StringIO()), "a pipe or a file"
    monkeypatch.setenv("CI", "true")
    assert not progress.live_terminal(Terminal())


def test_a_failure_is_said_once(monkeypatch) -> None:
    clock = Clock()
    shown, out = plain(Work("lab-cpython:stock", "steps"), clock)
    with pytest.raises(RuntimeError), shown:
        shown.update(3, 10)
        raise RuntimeError
    assert out.getvalue().splitlines()[-1].startswith("[bundle] lab-cpython:stock: failed, ")
    shown.finish()
    assert sum("failed" in line for line in out.getvalue().splitlines()) == 1


@pytest.mark.parametrize(
    ("count", "text"), [(999, "999 B"), (12_345, "12.3 kB"), (4.5e6, "4.5 MB"), (3.9e9, "3.90 GB")]
)
def test_sizes_in_decimal_units_as_docker_prints_them(count: float, text: str) -> None:
    assert progress.size_text(count) == text


def test_the_live_bar_ends_with_the_same_last_line() -> None:
    """rich draws the bar (here into a file, so nothing is redrawn); the line that stays is
    the one plain mode ends with."""
    clock = Clock()
    out = io.StringIO()
    with Progress(Work("[lab]", "steps"), prefix="images", out=out, live=True, clock=clock) as bar:
        clock.now += 62
        bar.update(3, 3, note="[lab 3/3] RUN make")
    assert out.getvalue().splitlines()[-1] == "[images] [lab]: done, 3 steps in 1:02"
