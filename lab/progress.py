"""Progress of long work (a build, a push, a bundle): a live bar on a terminal, plain lines
everywhere else.

On a terminal the bar redraws itself in place (rich does the drawing). In CI (CI=true), in a
pipe or a log file, a redraw would be a carriage return and a pile of repeated text, so the
same facts come as whole lines instead: one when a step starts or another tenth of the bytes
is through, at most one every PLAIN_EVERY_S, and one at least every HEARTBEAT_S so a long
step never looks hung. Both say the same words, built by `describe`.
"""

from __future__ import annotations

import io
import os
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TextIO

from lab import untrusted

PLAIN_EVERY_S = 5.0  # plain lines: at most one this often, besides the last
HEARTBEAT_S = 60.0  # plain lines: at least one this often while the work runs
PLAIN_BYTES_STEP = 0.10  # plain lines for bytes: one per tenth of the total


def live_terminal(stream: TextIO | None = None) -> bool:
    """Whether STREAM (stdout) is a terminal a bar may redraw on: not in CI, not `dumb`."""
    stream = stream or sys.stdout
    if os.environ.get("CI", "").lower() in ("true", "1", "yes"):
        return False
    if os.environ.get("TERM") == "dumb":
        return False
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # a closed or stand-in stream
        return False


def clock_text(seconds: float) -> str:
    """72.4 -> `1:12`; 3725 -> `1:02:05`."""
    whole = max(0, round(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def size_text(count: float) -> str:
    """Bytes in decimal units, as docker prints them: 1.23 GB, 45.6 MB, 789 kB."""
    for unit, scale in (("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if count >= scale:
            return f"{count / scale:.{2 if unit == 'GB' else 1}f} {unit}"
    return f"{int(count)} B"


@dataclass(frozen=True)
class Estimate:
    """How long the same work took last time, and what that last time was."""

    seconds: float
    source: str  # "last build of these inputs"


@dataclass
class Work:
    """What is known of one piece of work at a moment: the facts both displays show."""

    label: str
    unit: str  # "steps" or "bytes"
    done: float = 0
    total: float | None = None  # None: not known (yet)
    total_is_floor: bool = False  # steps: more may come than have been announced
    note: str = ""  # the step under way
    estimate: Estimate | None = None


def describe(work: Work, elapsed: float) -> str:
    """The status in words, e.g. `step 12/31, 3:02 elapsed, about 6:38 left (last build of
    these inputs: 9:40): [lab 3/8] RUN make`."""
    if work.unit == "steps":
        total = "" if work.total is None else f"/{int(work.total)}"
        floor = " so far" if work.total_is_floor and work.total is not None else ""
        parts = [f"step {int(work.done)}{total}{floor}", f"{clock_text(elapsed)} elapsed"]
        if work.estimate is not None:
            parts.append(remaining_text(work.estimate, elapsed))
    else:
        of = f" of {size_text(work.total)}" if work.total else ""
        share = f" ({min(work.done / work.total, 1):.0%})" if work.total else ""
        rate = work.done / elapsed if elapsed > 0 else 0
        parts = [f"{size_text(work.done)}{of}{share}", f"{size_text(rate)}/s"]
        parts.append(f"{clock_text(elapsed)} elapsed")
    text = ", ".join(parts)
    return f"{text}: {work.note}" if work.note else text


def describe_end(work: Work, elapsed: float) -> str:
    """The last line's words: how far it got, in how long (and how long it took last time)."""
    if work.unit == "bytes":
        rate = work.done / elapsed if elapsed > 0 else 0
        return f"{size_text(work.done)} in {clock_text(elapsed)}, {size_text(rate)}/s"
    text = f"{int(work.done)} steps in {clock_text(elapsed)}"
    if work.estimate is not None:
        text += f" ({work.estimate.source}: {clock_text(work.estimate.seconds)})"
    return text


def remaining_text(estimate: Estimate, elapsed: float) -> str:
    took = clock_text(estimate.seconds)
    left = estimate.seconds - elapsed
    if left >= 0:
        return f"about {clock_text(left)} left ({estimate.source}: {took})"
    return f"past the expected {took} ({estimate.source})"


class Progress:
    """One piece of long work, shown as it goes: `update` or `advance`, then `finish`.

    As a context manager it finishes on the way out (and says `failed` on an exception)."""

    def __init__(
        self,
        work: Work,
        *,
        prefix: str,
        out: TextIO | None = None,
        live: bool | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.work, self.prefix = work, prefix
        self.out = out if out is not None else sys.stdout
        self.clock = clock
        self.started = clock()
        self.finished = False
        live = live_terminal(self.out) if live is None else live
        self.shown: _Display = _LiveBar(self) if live else _PlainLines(self)

    def elapsed(self) -> float:
        return self.clock() - self.started

    def status(self) -> str:
        """The status line, as one printable line (a step's name comes from a Dockerfile)."""
        return untrusted.text(describe(self.work, self.elapsed()))

    def update(self, done: float, total: float | None = None, note: str | None = None) -> None:
        self.work.done = done
        if total is not None:
            self.work.total = total
        if note is not None:
            self.work.note = note
        self.shown.changed()

    def advance(self, count: float) -> None:
        self.update(self.work.done + count)

    def finish(self, outcome: str = "done") -> None:
        """The last word: the bar stops, and one line says how it ended (once)."""
        if self.finished:
            return
        self.finished = True
        if outcome == "done":  # what the work came to, not what was expected of it
            self.work.total, self.work.total_is_floor = self.work.done, False
        self.work.note = ""
        summary = describe_end(self.work, self.elapsed())
        self.shown.close(f"[{self.prefix}] {self.work.label}: {outcome}, {summary}")

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, kind: type | None, error: object, trace: object) -> None:
        self.finish("failed" if kind else "done")


class CountingReader(io.RawIOBase):
    """A binary stream read through, telling ON_BYTES how many bytes each read brought."""

    def __init__(self, inner: io.BufferedIOBase, on_bytes: Callable[[int], None]) -> None:
        self.inner, self.on_bytes = inner, on_bytes

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        count = self.inner.readinto(buffer)
        self.on_bytes(count or 0)
        return count


class _Display:
    def changed(self) -> None: ...

    def close(self, last_line: str) -> None: ...


class _PlainLines(_Display):
    """Whole lines, never a carriage return: for CI, pipes and log files. A step that
    prints nothing for minutes (CPython's `make`, its output in a file) still gets a line
    every HEARTBEAT_S, from a ticker thread, so a log never goes quiet while work runs."""

    def __init__(self, progress: Progress) -> None:
        self.progress = progress
        self.last_line_at: float | None = None
        self.last_mark: tuple = ()
        self.lock = threading.Lock()  # the ticker's lines and the work's, one at a time
        self.stopped = threading.Event()
        threading.Thread(target=self.tick, daemon=True).start()

    def tick(self) -> None:
        while not self.stopped.wait(HEARTBEAT_S):
            try:
                self.changed()
            except (OSError, ValueError):  # the output went away (a closed pipe or file)
                return

    def mark(self) -> tuple:
        """What counts as news: another step, or another tenth of the bytes."""
        work = self.progress.work
        if work.unit == "steps":
            return (int(work.done), work.note)
        if not work.total:
            return ()
        return (int(min(work.done / work.total, 1) / PLAIN_BYTES_STEP),)

    def changed(self) -> None:
        with self.lock:
            if self.stopped.is_set():
                return
            now = self.progress.elapsed()
            mark = self.mark()
            if self.last_line_at is None:
                due = True
            else:
                quiet = now - self.last_line_at
                due = (mark != self.last_mark and quiet >= PLAIN_EVERY_S) or quiet >= HEARTBEAT_S
            if due:
                self.last_line_at, self.last_mark = now, mark
                work = self.progress.work
                self.say(f"[{self.progress.prefix}] {work.label}: {self.progress.status()}")

    def say(self, line: str) -> None:
        print(untrusted.text(line), file=self.progress.out, flush=True)

    def close(self, last_line: str) -> None:
        with self.lock:
            self.stopped.set()
            self.say(last_line)


class _LiveBar(_Display):
    """rich's progress bar, redrawn in place a few times a second (the clock ticks on
    between updates: the status is asked for at each redraw)."""

    def __init__(self, progress: Progress) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, ProgressColumn, SpinnerColumn, TextColumn
        from rich.progress import Progress as RichProgress
        from rich.text import Text

        class StatusColumn(ProgressColumn):
            def render(self, task: Any) -> Text:
                return Text(progress.status(), overflow="ellipsis", no_wrap=True)

        self.progress = progress
        self.console = Console(file=progress.out)
        self.bar = RichProgress(
            SpinnerColumn(),
            TextColumn("{task.description}", style="bold", markup=False),
            BarColumn(bar_width=24),
            StatusColumn(),
            console=self.console,
            transient=True,  # the last line, printed by close, is what stays
        )
        self.task = self.bar.add_task(progress.work.label, total=progress.work.total)
        self.bar.start()

    def changed(self) -> None:
        work = self.progress.work
        self.bar.update(self.task, completed=work.done, total=work.total)

    def close(self, last_line: str) -> None:
        self.bar.stop()
        self.console.print(last_line, markup=False, highlight=False, soft_wrap=True)
