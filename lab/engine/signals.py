"""SIGINT, SIGTERM, SIGHUP and SIGQUIT during a run: stop what was started, say so, exit 128+N.

The signal becomes an `Interrupted` exception in the main thread, wherever it is
waiting; the code that started containers and folders removes them on the way out
(`finally`), while further signals are held off (`shielded`), so a second Ctrl-C cannot
cut the clean-up short.
"""

from __future__ import annotations

import contextlib
import signal
from collections.abc import Iterator

HANDLED = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP, signal.SIGQUIT)


class Interrupted(BaseException):
    """A signal arrived. BaseException: no `except Exception` on the way may swallow it."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum
        self.stopped: list[str] = []  # what the clean-up stopped or removed, to say so

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name

    @property
    def exit_code(self) -> int:
        return 128 + self.signum

    def message(self) -> str:
        done = "; ".join(self.stopped) or "nothing had started"
        return f"{self.name}: stopped: {done}"


def _raise(signum: int, frame: object) -> None:
    raise Interrupted(signum)


@contextlib.contextmanager
def interruptible() -> Iterator[None]:
    """Within: the HANDLED signals raise Interrupted. The old handlers come back after."""
    previous = {s: signal.signal(s, _raise) for s in HANDLED}
    try:
        yield
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)


@contextlib.contextmanager
def shielded() -> Iterator[list[int]]:
    """Within: the signals are noted, not raised (clean-up runs to its end).

    Yields the list of signals that arrived meanwhile.
    """
    arrived: list[int] = []
    previous = {s: signal.signal(s, lambda n, _f: arrived.append(n)) for s in HANDLED}
    try:
        yield arrived
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
