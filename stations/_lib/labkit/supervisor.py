"""Run a station's experiments in turn inside one container, each with its own timeout.

Starting a container costs more than most experiments, so the engine on the host starts
one per variant (and set of capabilities) for a whole station run, running

    python3 -m labkit.supervisor            jobs on stdin, one JSON object a line
    python3 -m labkit.supervisor PLAN       or all at once: PLAN is a JSON list of them

where a job is {"argv": [...], "env": {...}, "timeout": seconds}. Jobs run one at a time,
in the order given (an experiment may read what an earlier one saved). Every line written
to stdout is framed, so the host can tell what is whose:

    @ready                      the supervisor runs; jobs may come
    @start I                    job I (counted from 0) begins
    |I TEXT                     a line job I printed (stdout and stderr, raw bytes)
    @end I {"exit_code": N, "seconds": S, "stopped": null|"timeout"|"memory"|"processes", ...}

An experiment's output is prefixed, never passed through, so it cannot forge a frame by
printing one. After each job, every process it left behind is killed: the next starts
clean. The host trusts none of this either (an experiment runs as the same user and could
reach the container's stdout another way): it keeps its own clock and checks each record.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import select
import signal
import subprocess
import sys
import time
from pathlib import Path

MAX_LINE = 8192  # longer lines are cut into pieces: the host never buffers without bound
CGROUP = Path("/sys/fs/cgroup")


def emit(line: bytes) -> None:
    sys.stdout.buffer.write(line + b"\n")
    sys.stdout.buffer.flush()


def cgroup_value(*candidates: str, field: str | None = None) -> int | None:
    """A number from the container's cgroup (v2 or v1 layout), or None where absent."""
    for name in candidates:
        try:
            text = (CGROUP / name).read_text()
        except OSError:
            continue
        if field is None:
            value = text.strip()
            return None if value == "max" else int(value)
        for line in text.splitlines():
            key, _, value = line.partition(" ")
            if key == field:
                return int(value)
    return None


def limit_counters() -> tuple[int, int]:
    """(times the OOM killer struck, forks refused at the pids limit) so far."""
    oom = cgroup_value("memory.events", "memory/memory.oom_control", field="oom_kill")
    pids = cgroup_value("pids.events", "pids/pids.events", field="max")
    return oom or 0, pids or 0


def limits() -> dict:
    memory = cgroup_value("memory.max", "memory/memory.limit_in_bytes")
    processes = cgroup_value("pids.max", "pids/pids.max")
    return {"memory_bytes": memory, "processes": processes}


def become_subreaper() -> None:
    """Orphans of an experiment (daemons, a fork bomb's children) stay in this tree."""
    PR_SET_CHILD_SUBREAPER = 36
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)


def descendants() -> dict[int, tuple[int, str]]:
    """{pid: (parent pid, state)} for every process below this one (nothing else)."""
    table = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
                table[int(entry.name)] = (int(fields[1]), fields[0])
            except (OSError, IndexError, ValueError):
                continue
    below, frontier = {}, {os.getpid()}
    while frontier:
        frontier = {pid for pid, (ppid, _) in table.items() if ppid in frontier} - below.keys()
        below.update({pid: table[pid] for pid in frontier})
    return below


def kill_the_rest(keep: int = 0) -> None:
    """Kill whatever the last experiment left running (a fork bomb's children included),
    and reap what this subreaper inherited. KEEP: the experiment itself, reaped by Popen."""
    for _ in range(500):
        below = descendants()
        alive = [pid for pid, (_, state) in below.items() if state != "Z"]
        for pid, (ppid, state) in below.items():
            if state == "Z" and ppid == os.getpid() and pid != keep:
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(pid, os.WNOHANG)
        if not alive:
            return
        for pid in alive:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.01)


def first_to_go() -> None:
    """In the child: the OOM killer takes the experiment before the supervisor."""
    with contextlib.suppress(OSError):
        Path("/proc/self/oom_score_adj").write_text("1000")


def pump(process: subprocess.Popen, index: int, deadline: float) -> bool:
    """Relay the experiment's output, framed, until it and its pipe are done.

    Returns False when the deadline passed first.
    """
    fd = process.stdout.fileno()
    prefix = b"|%d " % index
    pending = b""
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return False
        ready, _, _ = select.select([fd], [], [], min(left, 0.2))
        if not ready:
            if process.poll() is not None:
                kill_the_rest(process.pid)  # its leftovers may hold the pipe open
            continue
        chunk = os.read(fd, 65536)
        if not chunk:
            break
        pending += chunk
        *lines, pending = pending.split(b"\n")
        for line in lines:
            emit(prefix + line[:MAX_LINE])
        while len(pending) > MAX_LINE:
            emit(prefix + pending[:MAX_LINE])
            pending = pending[MAX_LINE:]
    if pending:
        emit(prefix + pending)
    return True


def run_one(index: int, item: dict) -> dict:
    emit(b"@start %d" % index)
    oom_before, pids_before = limit_counters()
    started = time.monotonic()
    env = {**os.environ, **{str(k): str(v) for k, v in item.get("env", {}).items()}}
    try:
        process = subprocess.Popen(
            [str(a) for a in item["argv"]],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
            preexec_fn=first_to_go,
        )
    except OSError as error:
        return {"exit_code": 127, "seconds": 0.0, "stopped": None, "error": str(error)}
    finished = pump(process, index, started + float(item["timeout"]))
    kill_the_rest(process.pid)
    code = process.wait()
    seconds = time.monotonic() - started
    oom_after, pids_after = limit_counters()
    stopped = None
    if not finished:
        stopped = "timeout"
    elif code and oom_after > oom_before:
        stopped = "memory"
    elif code and pids_after > pids_before:
        stopped = "processes"
    exit_code = 128 - code if code < 0 else code  # killed by signal N: 128 + N, as shells say
    return {"exit_code": exit_code, "seconds": seconds, "stopped": stopped, **limits()}


def main(argv: list[str]) -> int:
    become_subreaper()
    emit(b"@ready")
    jobs = json.loads(argv[1]) if len(argv) > 1 else map(json.loads, sys.stdin)
    for index, item in enumerate(jobs):
        outcome = run_one(index, item)
        emit(b"@end %d " % index + json.dumps(outcome).encode())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
