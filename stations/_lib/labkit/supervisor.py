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
printing one; nor can it reach this process's stdout another way. In a station's container
the supervisor is PID 1 (compose.yaml: no init) and not dumpable, so an experiment running
as the same user can neither open /proc/1/fd/1 nor ptrace it, and signals from inside the
container do not reach it. After each job every process it left behind is killed, and its
HOME and temp folder are wiped: the next job starts clean, so nothing of an earlier one can
write into the next one's pipe. A job is stopped, with a reason, when it passes its
timeout, hits the process limit (at once: a fork bomb does not run on to its timeout) or
writes more than its disk limit into the run folder or /tmp. The host still keeps its own
clock and checks each record.
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import os
import resource
import select
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# Longer lines are cut into pieces: the host never buffers without bound. 512 KiB holds an
# observation line whole at the host's limit (100,000 characters, 4 bytes each at most).
MAX_LINE = 2**19
CGROUP = Path("/sys/fs/cgroup")
TICK = 0.2  # seconds between looks at the clock and the process limit while a job runs
DISK_TICK = 0.02  # ... and at the disk, where its walk is quick
# Only as a container's PID 1 does this process own every process and all of /tmp: there it
# may kill everything but itself and wipe the temp folders. Anywhere else (a plain host, in
# the unit tests and bench/station_direct.py) it touches only its own jobs.
SOLE_OWNER = os.getpid() == 1
SCRATCH = ("/tmp", "/dev/shm")  # a container's writable places besides the run folder


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


def seal() -> None:
    """Out of the experiments' reach, though they run as the same user: not dumpable (no
    /proc/self/fd for them to open, no ptrace), and, as PID 1, deaf to their signals (the
    kernel drops a signal to a namespace's init that has no handler for it)."""
    PR_SET_DUMPABLE = 4
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(PR_SET_DUMPABLE, 0, 0, 0, 0)
    if SOLE_OWNER:
        signal.signal(signal.SIGINT, signal.SIG_DFL)  # Python's own handler would take it


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
        if SOLE_OWNER:  # every process but this one, in one call: faster than a fork bomb
            with contextlib.suppress(OSError):
                os.kill(-1, signal.SIGKILL)
        for pid in alive:
            with contextlib.suppress(OSError):
                os.kill(pid, signal.SIGKILL)
        time.sleep(0.01)


def job_limits(disk_bytes: int | None) -> None:
    """In the child: the OOM killer takes the experiment before the supervisor, and no one
    file it writes may pass the disk limit (Python sees EFBIG; it ignores SIGXFSZ)."""
    with contextlib.suppress(OSError):
        Path("/proc/self/oom_score_adj").write_text("1000")
    if disk_bytes:
        resource.setrlimit(resource.RLIMIT_FSIZE, (disk_bytes, disk_bytes))


def used_bytes(folder: str, stop_at: int) -> int:
    """What FOLDER holds: apparent sizes, plus a block for each entry (so a million empty
    files count too). Stops counting past STOP_AT."""
    total, pending = 0, [folder]
    while pending and total <= stop_at:
        try:
            entries = list(os.scandir(pending.pop()))
        except OSError:
            continue
        for entry in entries:
            with contextlib.suppress(OSError):
                total += 4096 + entry.stat(follow_symlinks=False).st_size
                if entry.is_dir(follow_symlinks=False):
                    pending.append(entry.path)
    return total


def tmp_full() -> bool:
    """Whether the container's /tmp (a tmpfs of the disk limit's size) is full."""
    try:
        stats = os.statvfs("/tmp")
    except OSError:
        return False
    return stats.f_bavail * stats.f_frsize < 1 << 20


class Watch:
    """One job's limits: a reason to stop it, or None. The clock and the process limit
    are looked at every TICK; the disk as often as its walk allows (a writer fills a disk
    at gigabytes a second), at most a tenth of the time."""

    def __init__(self, item: dict) -> None:
        self.deadline = time.monotonic() + float(item["timeout"])
        self.disk = item.get("disk_bytes")
        self.output = item.get("env", {}).get("LAB_OUTPUT")
        self.forks_refused = limit_counters()[1]
        self.disk_due = 0.0

    def reason(self) -> str | None:
        if time.monotonic() >= self.deadline:
            return "timeout"
        if limit_counters()[1] > self.forks_refused:
            return "processes"  # a fork was refused: a bomb does not get to run on
        return self.disk_reason(now=True)

    def disk_reason(self, now: bool = False) -> str | None:
        started = time.monotonic()
        if not self.disk or (started < self.disk_due and not now):
            return None
        over = bool(self.output) and used_bytes(self.output, self.disk) > self.disk
        over = over or (SOLE_OWNER and tmp_full())
        self.disk_due = time.monotonic() + max(DISK_TICK, 9 * (time.monotonic() - started))
        return "disk" if over else None


def pump(process: subprocess.Popen, index: int, watch: Watch) -> str | None:
    """Relay the experiment's output, framed, until it and its pipe are done.

    Returns why it was stopped early (timeout, processes, disk), or None.
    """
    fd = process.stdout.fileno()
    prefix = b"|%d " % index
    pending = b""
    next_look = 0.0
    while True:
        if time.monotonic() >= next_look:
            stop = watch.reason()
            if stop:
                return stop
            next_look = time.monotonic() + TICK
        elif watch.disk_reason():
            return "disk"
        ready, _, _ = select.select([fd], [], [], DISK_TICK if watch.disk else TICK)
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
    return None


def fresh_home(index: int) -> str:
    """A HOME and temp folder of the job's own (no user site or cache of an earlier job)."""
    return tempfile.mkdtemp(prefix=f"lab-job{index}-")


def wipe(home: str) -> None:
    """Remove what the job wrote outside the run folder: its HOME, and as PID 1 all of the
    container's /tmp and /dev/shm (what a job leaves there could steer the next)."""
    remove(home)
    if not SOLE_OWNER:
        return
    for folder in SCRATCH:
        with contextlib.suppress(OSError), os.scandir(folder) as entries:
            for entry in list(entries):
                remove(entry.path)


def remove(path: str) -> None:
    """PATH and all under it, a link itself; a folder the job made unreadable is opened."""
    if not os.path.isdir(path) or os.path.islink(path):
        with contextlib.suppress(OSError):
            os.unlink(path)
        return

    def open_up(function, failed: str, error) -> None:
        with contextlib.suppress(OSError):  # the job's own folder: it may have taken its modes
            os.chmod(failed, 0o700)

    handler = {"onexc": open_up} if sys.version_info >= (3, 12) else {"onerror": open_up}
    for _ in range(10):  # a level a pass where folders of mode 0 nest
        shutil.rmtree(path, **handler)
        if not os.path.lexists(path):
            return


def run_one(index: int, item: dict) -> dict:
    emit(b"@start %d" % index)
    oom_before = limit_counters()[0]
    started = time.monotonic()
    home = fresh_home(index)
    extra = {str(k): str(v) for k, v in item.get("env", {}).items()}
    env = {**os.environ, "HOME": home, "TMPDIR": home, **extra}
    watch = Watch(item)
    try:
        process = subprocess.Popen(
            [str(a) for a in item["argv"]],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            env=env,
            start_new_session=True,
            preexec_fn=lambda: job_limits(watch.disk),
        )
    except OSError as error:
        wipe(home)
        return {"exit_code": 127, "seconds": 0.0, "stopped": None, "error": str(error)}
    stopped = pump(process, index, watch)
    kill_the_rest(process.pid)
    code = process.wait()
    seconds = time.monotonic() - started
    if stopped is None and code:  # it ended by itself, perhaps at a limit
        late = watch.reason()
        if limit_counters()[0] > oom_before:
            stopped = "memory"
        elif late in ("processes", "disk"):
            stopped = late
    wipe(home)
    exit_code = 128 - code if code < 0 else code  # killed by signal N: 128 + N, as shells say
    return {
        "exit_code": exit_code, "seconds": seconds, "stopped": stopped,
        "disk_bytes": watch.disk, **limits(),
    }  # fmt: skip


def main(argv: list[str]) -> int:
    seal()
    become_subreaper()
    emit(b"@ready")
    jobs = json.loads(argv[1]) if len(argv) > 1 else map(json.loads, sys.stdin)
    for index, item in enumerate(jobs):
        outcome = run_one(index, item)
        emit(b"@end %d " % index + json.dumps(outcome).encode())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
