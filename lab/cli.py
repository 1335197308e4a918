"""The command line's manners, for tasks.py: one line per error, never a traceback; a
closed pipe ends quietly; Ctrl-C says what it cleaned up; what containers print reaches
the terminal without its escape sequences. The top floor: nothing in lab/ imports it."""

from __future__ import annotations

import contextlib
import functools
import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator
from typing import Any, TextIO, TypeVar

from invoke import Exit

from lab import untrusted
from lab.config import ROOT
from lab.engine import signals
from lab.errors import LabError

SHOWN_CHARS = 2 * untrusted.MAX_TEXT  # a line cut at MAX_TEXT, and what it is prefixed with
HELP_FLAGS = {"--help", "-h"}

Task = TypeVar("Task", bound=Callable[..., Any])


def one_line_errors(body: Task) -> Task:
    """Turn a LabError into its one line and a non-zero exit, never a traceback; and show
    the task's help where Invoke passed `--help` in as an argument's value."""

    @functools.wraps(body)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        values = {value for value in (*args[1:], *kwargs.values()) if isinstance(value, str)}
        if values & HELP_FLAGS:
            # `invoke publish --help` fills the task's first positional argument with
            # "--help" (Invoke 2 and 3): never run a task on that, show its help.
            task_name = body.__name__.replace("_", "-")
            shown = subprocess.run([sys.executable, "-m", "invoke", "--help", task_name], cwd=ROOT)
            raise Exit(code=shown.returncode)
        try:
            return body(*args, **kwargs)
        except LabError as error:
            # It may name what a container made (a link's name): no escape reaches the terminal.
            message = untrusted.text(str(error), SHOWN_CHARS)
            raise Exit(f"lab: {message}", code=error.exit_code) from None

    return wrapper  # type: ignore[return-value]  # the same signature, wrapped


def quiet_when_stdout_closes(body: Task) -> Task:
    """A reader that went away (`invoke station 1 | head -3`) ends the task quietly with
    128+SIGPIPE, as a shell's own commands do; the run has cleaned up on the way out."""

    @functools.wraps(body)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return body(*args, **kwargs)
        except BrokenPipeError:
            # What is still buffered must not fail again at exit (Python's note on SIGPIPE).
            devnull = os.open(os.devnull, os.O_WRONLY)
            with contextlib.suppress(OSError, ValueError):  # stdout may have no descriptor
                os.dup2(devnull, sys.stdout.fileno())
            os.close(devnull)
            raise Exit(code=128 + signal.SIGPIPE) from None

    return wrapper  # type: ignore[return-value]


@contextlib.contextmanager
def told_when_interrupted() -> Iterator[None]:
    """Ctrl-C or SIGTERM, once the work under it has removed what it made: the line that
    says so, and 128+N, as a shell would exit."""
    try:
        yield
    except signals.Interrupted as stop:
        raise Exit(f"lab: {stop.message()}", code=stop.exit_code) from None


@contextlib.contextmanager
def interruptible() -> Iterator[None]:
    """signals.interruptible() (the work cleans up on Ctrl-C or SIGTERM), then told."""
    with told_when_interrupted(), signals.interruptible():
        yield


def printer(stream: TextIO) -> Callable[[str], None]:
    """A `say` for STREAM: each line through untrusted.text, so that what a station or its
    containers printed reaches the terminal without its escape sequences."""

    def say(line: str) -> None:
        shown = "\n".join(untrusted.text(part, SHOWN_CHARS) for part in line.split("\n"))
        print(shown, file=stream, flush=True)

    return say
