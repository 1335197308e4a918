"""Following a BuildKit build: its steps counted from `--progress plain` output, its whole
log kept in a file, and each image's build time recorded for the next build's estimate.

Compose 2.26 and buildx 0.13 (Debian 12's) print BuildKit's progress as plain lines, each
prefixed with its vertex (a step: a Dockerfile instruction, or loading the context):

    #6 [stock cpython 3/7] RUN ./configure ...   a step starts (and again when its output
    #6 12.34 checking for gcc... yes               resumes after another step's lines)
    #6 DONE 45.6s                                  it ends: DONE, CACHED, ERROR or CANCELED

BuildKit announces a step only when it starts, so the total is the larger of the steps seen
and the count the last build of the same image recorded.
"""

from __future__ import annotations

import contextlib
import json
import re
import time
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TextIO

from lab.config import cache_dir
from lab.errors import LabError
from lab.files import write_atomically
from lab.progress import Estimate, Progress

VERTEX_LINE = re.compile(r"#(\d+) (.*)")
FINISHED = re.compile(r"(DONE [0-9.]+s|CACHED|ERROR\b.*|CANCELED\b.*)")
TAIL_LINES = 20
NOTE_WIDTH = 80  # characters of the step under way in a progress line
TIMES_FILE = "build-times.json"
TIMES_KEPT = 100  # records: a few per image and inputs, for years of rebuilds


def log_path(image: str) -> Path:
    """Where IMAGE's last build log is kept: ~/.cache/lab/builds/lab-cpython-stock.log."""
    return cache_dir() / "builds" / f"{re.sub(r'[^A-Za-z0-9_.-]', '-', image)}.log"


def build_error(line: str) -> str | None:
    """The reason a step gave on a `lab-build-error:` line; not BuildKit's echo of a failed
    step's command, which holds the same words inside an `echo "..."` never run."""
    before, found, reason = line.partition("lab-build-error:")
    if not found or 'echo "' in before:
        return None
    return reason.strip()


@dataclass
class Steps:
    """The vertexes BuildKit announced, the ones that ended, and the one that failed."""

    names: dict[int, str] = field(default_factory=dict)  # vertex -> `[stage 3/7] RUN ...`
    ended: set[int] = field(default_factory=set)
    ran: set[int] = field(default_factory=set)  # RUN steps that ran, not taken from the cache
    failed: int | None = None
    reason: str | None = None  # the first `lab-build-error:` a step printed

    def feed(self, line: str) -> bool:
        """Take one line of output; whether a step started or ended."""
        self.reason = self.reason or build_error(line)
        found = VERTEX_LINE.fullmatch(line.rstrip("\n"))
        if not found or found[1] == "0":  # #0: "building with ... instance", no step
            return False
        vertex, rest = int(found[1]), found[2]
        if vertex not in self.names:
            self.names[vertex] = rest
            return True
        if FINISHED.fullmatch(rest) and vertex not in self.ended:
            self.ended.add(vertex)
            if rest.startswith("ERROR") and self.failed is None:
                self.failed = vertex
            if rest.startswith("DONE") and "] RUN " in self.names[vertex]:
                self.ran.add(vertex)
            return True
        return False

    @property
    def done(self) -> int:
        return len(self.ended)

    def under_way(self) -> str:
        """The name of the latest step that started and has not ended ("" when none)."""
        running = [v for v in self.names if v not in self.ended]
        if not running:
            return ""
        # A RUN's whole script is BuildKit's name for it: one line shows its start.
        name = " ".join(self.names[max(running)].split())
        return name if len(name) <= NOTE_WIDTH else name[: NOTE_WIDTH - 1] + "…"


def watch(lines: Iterable[str], log: TextIO, shown: Progress, recorded_steps: int = 0) -> Steps:
    """Copy LINES to LOG, counting steps onto SHOWN as they start and end."""
    steps = Steps()
    for line in lines:
        log.write(line)
        steps.feed(line)
        seen = len(steps.names)  # every line: a long step's plain lines come from here
        shown.work.total_is_floor = seen >= recorded_steps
        shown.update(steps.done, max(seen, recorded_steps), note=steps.under_way())
    log.flush()
    return steps


def tail(path: Path, count: int = TAIL_LINES) -> list[str]:
    """The last COUNT lines of PATH (read through once: a log may be many MB)."""
    try:
        with open(path, errors="replace") as log:
            return [line.rstrip("\n") for line in deque(log, maxlen=count)]
    except OSError:
        return []


# -- build times: the estimate for the next build ------------------------------------------


def times_path() -> Path:
    return cache_dir() / TIMES_FILE


def read_times() -> list[dict]:
    try:
        records = json.loads(times_path().read_text())
    except (OSError, ValueError):
        return []
    return [r for r in records if isinstance(r, dict)] if isinstance(records, list) else []


@dataclass(frozen=True)
class LastBuild:
    estimate: Estimate  # its seconds, and which build that was
    steps: int  # 0: not recorded


def last_build(image: str, digest: str) -> LastBuild | None:
    """IMAGE's last build of these inputs (DIGEST), else its last build of any inputs."""
    records = [r for r in read_times() if r.get("image") == image]
    same = [r for r in records if r.get("inputs") == digest]
    for chosen, source in (
        (same, "last build of these inputs"),
        (records, "last build, other inputs"),
    ):
        seconds = chosen[-1].get("seconds") if chosen else None
        if isinstance(seconds, (int, float)):
            steps = chosen[-1].get("steps")
            return LastBuild(
                Estimate(float(seconds), source), steps if isinstance(steps, int) else 0
            )
    return None


def record(image: str, digest: str, seconds: float, steps: int) -> None:
    """Add this build to the records; a cache that cannot be written is no error. (A build
    whose every step came from BuildKit's cache is not one: it says nothing of how long a
    build takes.)"""
    entry = {"image": image, "inputs": digest, "seconds": round(seconds, 1), "steps": steps}
    entry["finished"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    records = [*read_times(), entry][-TIMES_KEPT:]
    path = times_path()
    with contextlib.suppress(OSError, LabError):
        path.parent.mkdir(parents=True, exist_ok=True)
        write_atomically(path, json.dumps(records, indent=1))
