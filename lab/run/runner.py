"""Run experiments and the reading resolver in containers, streaming their output.

Starting a container costs more than most experiments, so a station run keeps one
container per variant (and set of capabilities) and runs its experiments there in turn
under labkit.supervisor, each with its own timeout and output, in the station's order.
The engine talks to a runner; `ComposeRunner` is what `invoke station` uses (compose.yaml's
services), and the tests substitute one built on testcontainers. Both read a container's
output through `Frames`, which takes nothing it prints on trust.
"""

from __future__ import annotations

import contextlib
import json
import os
import selectors
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from lab import untrusted
from lab.config import Variant
from lab.engine import docker
from lab.engine import labels as lab_labels
from lab.errors import LabError
from lab.run import containers

# Inside every container: stations mounted here, the run's own folder here.
STATIONS_MOUNT = "/lab/stations"
OUTPUT_MOUNT = "/lab/output"
START_GRACE = 120.0  # seconds for a container to start and read its plan
STOP_GRACE = 15.0  # beyond an experiment's timeout, before the host stops the container
DISK_STOP = "stopped: it wrote more than the run's disk limit"
MAX_FRAME = 2**20  # a line without end is cut here: above the supervisor's 512 KiB pieces
NOISE_KEPT = 20  # lines of docker's own output kept: why a container did not start


@dataclass
class Job:
    """One experiment on one variant."""

    name: str
    argv: list[str]
    env: dict[str, str]
    timeout: float
    disk_bytes: int | None = None  # what the run folder (and /tmp) may hold


@dataclass
class Outcome:
    exit_code: int
    seconds: float
    note: str = ""  # why it stopped, when it was stopped: a timeout, a limit, the container


class Runner(Protocol):
    def prepare(
        self, groups: Sequence[tuple[Variant, Sequence[str]]], output: Path, labels: dict[str, str]
    ) -> None:
        """Start what the run's experiments need: a variant and its capabilities each."""
        ...

    def run(
        self,
        variant: Variant,
        job: Job,
        *,
        capabilities: Sequence[str],
        output: Path,
        labels: dict[str, str],
        on_line: Callable[[str], None],
    ) -> Outcome: ...

    def resolve_reading(
        self, variant: Variant, entries: list[dict], labels: dict[str, str]
    ) -> list[dict]: ...

    def stop_all(self) -> list[str]:
        """Remove every container still running; their names."""
        ...

    def close(self) -> None:
        """The experiments are done: let the containers end."""
        ...


def as_record(job: Job) -> dict:
    """What the supervisor reads of a job."""
    return {"argv": job.argv, "env": job.env, "timeout": job.timeout, "disk_bytes": job.disk_bytes}


def plan(jobs: Sequence[Job]) -> str:
    return json.dumps([as_record(job) for job in jobs])


def supervisor_argv(jobs: Sequence[Job]) -> list[str]:
    return ["python3", "-m", "labkit.supervisor", plan(jobs)]


def size(count: object) -> str:
    if not isinstance(count, int) or isinstance(count, bool) or count <= 0:
        return "unknown"  # a supervisor's record is checked, not trusted
    return f"{count / 2**30:.1f} GiB" if count >= 2**30 else f"{count / 2**20:.0f} MiB"


def why_stopped(record: dict, timeout: float) -> str:
    """The supervisor's reason, in words (validated: anything else is no reason)."""
    stopped = record.get("stopped")
    if stopped == "timeout":
        return f"timed out after {timeout:g} s"
    if stopped == "memory":
        limit = size(record.get("memory_bytes"))
        return f"killed: out of memory (the container's limit is {limit})"
    if stopped == "processes":
        processes = record.get("processes")
        return f"hit the limit of {processes if isinstance(processes, int) else '?'} processes"
    if stopped == "disk":
        return f"{DISK_STOP} ({size(record.get('disk_bytes'))}, LAB_DISK_LIMIT)"
    if isinstance(record.get("error"), str):
        return untrusted.text(record["error"], 200)
    return ""


@dataclass
class Frames:
    """One job's frames from a supervisor, parsed; a frame out of place is shown, not obeyed."""

    index: int  # the job's number in its container
    timeout: float
    on_line: Callable[[str], None]
    started: bool = False
    outcome: Outcome | None = None
    noise: list[str] = field(default_factory=list)  # the last lines that were no frame

    def parse(self, line: bytes) -> None:
        if line == b"@ready":
            return
        if line == b"@start %d" % self.index:
            self.started = True
        elif line.startswith(b"|%d " % self.index) and self.started:
            self.on_line(untrusted.text(line.partition(b" ")[2], untrusted.MAX_LINE_CHARS))
        elif line.startswith(b"@end %d " % self.index) and self.started:
            self.outcome = self._outcome(line.split(b" ", 2)[2])
            if self.outcome is None:
                self.on_line(untrusted.text(line))
        else:
            shown = untrusted.text(line)
            if shown.strip():
                self.noise = [*self.noise[1 - NOISE_KEPT :], shown]
                self.on_line(shown)

    def _outcome(self, payload: bytes) -> Outcome | None:
        # Checked with `if`, not `assert`: python -O would drop an assert, and take any frame.
        try:
            record = json.loads(payload)
            code, seconds = record["exit_code"], float(record["seconds"])
        except (ValueError, KeyError, TypeError):
            return None  # not a frame the supervisor writes: the host's clock decides
        if type(code) is not int or not 0 <= code < 1000 or not 0 <= seconds < 1e6:
            return None
        return Outcome(code, seconds, why_stopped(record, self.timeout))


class Lines:
    """Bytes from a pipe, cut into lines; a line without end is cut at MAX_FRAME."""

    def __init__(self) -> None:
        self.pending = b""

    def feed(self, data: bytes) -> list[bytes]:
        self.pending += data
        *lines, self.pending = self.pending.split(b"\n")
        if len(self.pending) > MAX_FRAME:
            lines.append(self.pending)
            self.pending = b""
        return lines


class Box:
    """One container (a variant, a set of capabilities) and the supervisor in it."""

    def __init__(self, name: str, command: list[str], limits: dict[str, str]) -> None:
        self.name, self.jobs, self.broken = name, 0, False
        self.lines = Lines()
        self.process = subprocess.Popen(
            command,
            env=containers.env(limits),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # a Ctrl-C reaches invoke, which stops the container itself
        )
        assert self.process.stdin is not None and self.process.stdout is not None  # PIPEs
        self.stdin, self.stdout = self.process.stdin, self.process.stdout
        self.selector = selectors.DefaultSelector()
        self.selector.register(self.stdout.fileno(), selectors.EVENT_READ)

    def run(self, job: Job, on_line: Callable[[str], None]) -> tuple[Outcome | None, Frames]:
        """Send JOB, relay its lines; its outcome, or None when the container failed it."""
        frames = Frames(self.jobs, job.timeout, on_line)
        self.jobs += 1
        try:
            self.stdin.write(json.dumps(as_record(job)).encode() + b"\n")
            self.stdin.flush()
        except OSError:
            return None, frames  # the container is gone
        started = time.monotonic()
        while frames.outcome is None:
            limit = job.timeout + STOP_GRACE + (START_GRACE if frames.index == 0 else 0)
            left = started + limit - time.monotonic()
            if left <= 0:  # the supervisor missed its own deadline: the host's clock decides
                self.broken = True
                seconds = time.monotonic() - started
                return Outcome(137, seconds, f"timed out after {job.timeout:g} s"), frames
            if self.selector.select(min(left, 1.0)):
                chunk = os.read(self.stdout.fileno(), 65536)
                if not chunk:
                    return None, frames
                for line in self.lines.feed(chunk):
                    frames.parse(line)
        return frames.outcome, frames

    def finish(self) -> None:
        """No more jobs: the supervisor exits, the container ends (and is auto-removed)."""
        with contextlib.suppress(OSError):
            self.stdin.close()
        with contextlib.suppress(subprocess.TimeoutExpired):
            self.process.wait(timeout=10)

    def stop(self) -> None:
        """Remove the container (if it runs) and reap its compose client."""
        if self.process.poll() is None:
            with contextlib.suppress(OSError):
                self.stdin.close()
            docker.remove(self.name)
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.selector.close()
        for stream in (self.stdin, self.stdout):
            with contextlib.suppress(OSError):
                stream.close()


BoxKey = tuple[str, tuple[str, ...]]  # a box's variant and its capabilities, sorted


class ComposeRunner:
    """compose.yaml's services: one `docker compose run` per variant and capabilities."""

    def __init__(self) -> None:
        self.boxes: dict[BoxKey, Box] = {}
        self.readers: dict[str, subprocess.Popen[bytes]] = {}
        self.memory: int | None = None  # each container's share of the lab's memory budget

    def prepare(
        self, groups: Sequence[tuple[Variant, Sequence[str]]], output: Path, labels: dict[str, str]
    ) -> None:
        run_id = labels.get(lab_labels.RUN, "")
        with containers.memory_share(run_id, len(groups)) as self.memory:
            for variant, capabilities in groups:
                key = (variant.name, tuple(sorted(capabilities)))
                if key not in self.boxes:
                    self._start(variant, capabilities, output, labels, key)
            self._await_containers(run_id)  # counted by the next run, before the lock goes

    def _await_containers(self, run_id: str) -> None:
        """Until every box's container exists (or its start failed), a few seconds."""
        until = time.monotonic() + 30
        while time.monotonic() < until:
            made = docker.labelled(lab_labels.RUN, run_id)
            failed = sum(box.process.poll() is not None for box in self.boxes.values())
            if len(made) + failed >= len(self.boxes):
                return
            time.sleep(0.1)

    def run(
        self,
        variant: Variant,
        job: Job,
        *,
        capabilities: Sequence[str],
        output: Path,
        labels: dict[str, str],
        on_line: Callable[[str], None],
    ) -> Outcome:
        key = (variant.name, tuple(sorted(capabilities)))
        box = self.boxes.get(key) or self._start(variant, capabilities, output, labels, key)
        outcome, frames = box.run(job, on_line)
        if outcome is not None and not box.broken:
            return outcome
        del self.boxes[key]  # timed out or gone: the next job here gets a new container
        box.stop()
        if outcome is not None:
            return outcome
        code = box.process.returncode
        if box.jobs == 1 and not frames.started and code:  # docker's own lines say why
            why = docker.start_failure(docker.telling_line("\n".join(frames.noise)))
            raise LabError(f"the engine could not run {variant.image}: {why}")
        return Outcome(code or 137, 0.0, f"the container stopped (exit {code})")

    def _start(
        self,
        variant: Variant,
        capabilities: Sequence[str],
        output: Path,
        labels: dict[str, str],
        key: BoxKey,
    ) -> Box:
        purpose = "-".join(["run", *sorted(c.lower() for c in capabilities)])
        name = containers.container_name(labels, variant, purpose)
        command = containers.run_command(
            variant,
            ["python3", "-m", "labkit.supervisor"],
            capabilities=capabilities,
            tty=False,
            name=name,
            labels=labels,
            volumes=[(output, OUTPUT_MOUNT, "rw")],
        )
        memory = {"LAB_MEMORY_LIMIT": str(self.memory)} if self.memory else {}
        self.boxes[key] = Box(name, command, memory)
        return self.boxes[key]

    def close(self) -> None:
        """The run is over: each supervisor ends (stdin closed) and its container goes."""
        for box in self.boxes.values():  # all at once: each container ends as its stdin closes
            with contextlib.suppress(OSError):
                box.stdin.close()
        for box in self.boxes.values():
            box.finish()
        self.stop_all()

    def stop_all(self) -> list[str]:
        stopped = []
        for key, box in list(self.boxes.items()):
            del self.boxes[key]
            if box.process.poll() is None:
                stopped.append(box.name)
            box.stop()
        for name, process in list(self.readers.items()):
            del self.readers[name]
            if process.poll() is None:
                docker.remove(name)
                process.kill()
                stopped.append(name)
        return stopped

    def resolve_reading(
        self, variant: Variant, entries: list[dict], labels: dict[str, str]
    ) -> list[dict]:
        name = containers.container_name(labels, variant, "reading")
        command = containers.run_command(
            variant, ["python3", "-m", "labkit.reading"], tty=False, name=name, labels=labels
        )
        process = subprocess.Popen(
            command,
            env=containers.env(),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        self.readers[name] = process  # until it answers: a signal meanwhile, stop_all removes it
        try:
            out, err = process.communicate(json.dumps(entries).encode(), timeout=START_GRACE)
        except subprocess.TimeoutExpired:
            docker.remove(name)
            process.kill()
            out, _ = process.communicate()
            err = b"it did not answer in time"  # what it said before is not why it stopped
        del self.readers[name]
        if process.returncode != 0:  # where docker's line names the engine, what to do
            why = docker.start_failure(docker.error_line(err))
            raise LabError(f"resolving the reading list in {variant.image} failed: {why}")
        return untrusted.reading(entries, out)
