"""A run's folder in results/station-N/: made `.partial`, renamed when the run finishes.

Each run holds a lock (`.<name>.lock`, flock'ed, beside its folder, where containers
cannot write) for as long as it lives. A `.partial` folder whose lock is gone or free
belongs to a run that died (SIGKILL, a power cut): the next run sweeps it, and the
containers that run left (found by label).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import secrets
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from lab.engine import docker
from lab.engine import labels as lab_labels
from lab.errors import LabError
from lab.run import safe_files

PARTIAL = ".partial"
NAME = re.compile(r"\d{8}-\d{6}(-\d+)?")


@dataclass
class RunFolder:
    station_dir: Path  # results/station-N
    station_fd: int  # ... opened without following links
    name: str  # <time>, or <time>-2 when two runs start in one second
    run_id: str  # a random token: the run's containers carry it as a label
    lock_fd: int
    fd: int = -1  # the .partial folder

    @property
    def partial(self) -> Path:
        return self.station_dir / f"{self.name}{PARTIAL}"

    @property
    def final(self) -> Path:
        return self.station_dir / self.name

    @property
    def lock_name(self) -> str:
        return f".{self.name}.lock"


def _take_lock(station_fd: int, name: str, run_id: str) -> int | None:
    """Lock `.<name>.lock`, made visible only once locked (a sweeper never sees it free).

    The scratch file is briefly unlocked between its creation and the flock: another run's
    sweep may take it for a dead run's and remove it then. That only costs another try.
    """
    scratch = f".{name}.{run_id}.new"
    for _ in range(100):
        fd = os.open(
            scratch,
            os.O_RDWR | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC,
            0o644,
            dir_fd=station_fd,
        )
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.write(fd, json.dumps({"run": run_id, "pid": os.getpid()}).encode())
        try:
            os.link(scratch, f".{name}.lock", src_dir_fd=station_fd, dst_dir_fd=station_fd)
            return fd
        except FileExistsError:
            os.close(fd)
            return None
        except FileNotFoundError:  # swept away before the flock: make it again
            os.close(fd)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(scratch, dir_fd=station_fd)
    raise LabError(f"could not lock a run folder in {scratch}: other runs keep removing it")


def new(station_dir: Path, station_fd: int) -> RunFolder:
    """A fresh `<time>.partial` folder, locked for this run."""
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    run_id = secrets.token_hex(6)
    for attempt in range(1, 100):  # two runs in one second get -2, -3, ...
        name = stamp if attempt == 1 else f"{stamp}-{attempt}"
        lock_fd = _take_lock(station_fd, name, run_id)
        if lock_fd is None:
            continue  # another run holds this name
        # Checked under the lock: a run that held it published before letting go.
        if _exists(station_fd, name) or not _made(station_fd, name + PARTIAL):
            _drop_lock(station_fd, f".{name}.lock", lock_fd)
            continue
        run = RunFolder(station_dir, station_fd, name, run_id, lock_fd)
        run.fd = os.open(name + PARTIAL, safe_files.DIR_FLAGS, dir_fd=station_fd)
        return run
    raise LabError(f"could not make a new run folder in {station_dir}")


def _made(dir_fd: int, name: str) -> bool:
    try:
        os.mkdir(name, 0o755, dir_fd=dir_fd)
        return True
    except FileExistsError:
        return False


def _exists(dir_fd: int, name: str) -> bool:
    try:
        os.stat(name, dir_fd=dir_fd, follow_symlinks=False)
        return True
    except FileNotFoundError:
        return False


def _drop_lock(station_fd: int, lock_name: str, lock_fd: int) -> None:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(lock_name, dir_fd=station_fd)
    os.close(lock_fd)


def publish(run: RunFolder) -> Path:
    """Rename `.partial` to its final name: the report appears whole or not at all."""
    os.rename(run.name + PARTIAL, run.name, src_dir_fd=run.station_fd, dst_dir_fd=run.station_fd)
    release(run)
    return run.final


def discard(run: RunFolder) -> None:
    """Remove the `.partial` folder and the lock: nothing of the run is left."""
    safe_files.remove_tree(run.partial)
    release(run)


def release(run: RunFolder) -> None:
    """Close the folder and drop the lock (once: a second call does nothing)."""
    if run.fd >= 0:
        os.close(run.fd)
        run.fd = -1
    if run.lock_fd >= 0:
        _drop_lock(run.station_fd, run.lock_name, run.lock_fd)
        run.lock_fd = -1


def _stale(station_fd: int, lock_name: str) -> tuple[str, int] | None:
    """(the run ID in LOCK_NAME, its descriptor, locked by us) when no live run holds it;
    ("", -1) when there is no lock; None while a run (or another sweep) holds it."""
    try:
        fd = os.open(lock_name, os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC, dir_fd=station_fd)
    except FileNotFoundError:
        return "", -1
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        os.close(fd)
        return None
    try:
        record = json.loads(os.read(fd, 4096) or b"{}")
        run_id = str(record.get("run", "")) if isinstance(record, dict) else ""
    except ValueError:
        run_id = ""
    return run_id, fd


def sweep(results: Path, remove_containers: Callable[[str], None]) -> list[str]:
    """Remove what dead runs left under RESULTS: `.partial` folders, locks, containers.

    Returns what was removed, for one line to say so. A dead run's lock is held while its
    folder goes, so two runs sweeping at once do not both remove (and name) it.
    """
    swept = []
    for station_dir in sorted(results.glob("station-*")):
        if station_dir.is_symlink() or not station_dir.is_dir():
            continue
        with _opened(station_dir) as station_fd:
            for name, lock_fd in _dead_runs(station_fd, remove_containers):
                try:
                    partial = station_dir / f"{name}{PARTIAL}"
                    if os.path.lexists(partial):
                        safe_files.remove_tree(partial)
                        swept.append(f"{station_dir.name}/{name}{PARTIAL}")
                    with contextlib.suppress(FileNotFoundError):
                        os.unlink(f".{name}.lock", dir_fd=station_fd)
                finally:
                    if lock_fd >= 0:
                        os.close(lock_fd)
    return swept


def _dead_runs(
    station_fd: int, remove_containers: Callable[[str], None]
) -> Iterator[tuple[str, int]]:
    names = set()
    for entry in os.listdir(station_fd):
        if entry.endswith(PARTIAL) and NAME.fullmatch(entry[: -len(PARTIAL)]):
            names.add(entry[: -len(PARTIAL)])
        elif entry.startswith(".") and entry.endswith(".lock") and NAME.fullmatch(entry[1:-5]):
            names.add(entry[1:-5])
    for entry in os.listdir(station_fd):  # a lock file a run died making
        if entry.startswith(".") and entry.endswith(".new"):
            stale = _stale(station_fd, entry)
            if stale is not None and stale[1] >= 0:
                with contextlib.suppress(FileNotFoundError):
                    os.unlink(entry, dir_fd=station_fd)
                os.close(stale[1])
    for name in sorted(names):
        stale = _stale(station_fd, f".{name}.lock")
        if stale is None:
            continue  # a live run
        run_id, lock_fd = stale
        if run_id:
            remove_containers(run_id)  # first: a container of it may still be writing
        yield name, lock_fd


@contextlib.contextmanager
def _opened(folder: Path) -> Iterator[int]:
    fd = os.open(folder, safe_files.DIR_FLAGS)
    try:
        yield fd
    finally:
        os.close(fd)


def remove_run_containers(run_id: str) -> None:
    """Remove every container labelled with RUN_ID (a dead run's)."""
    docker.remove(*docker.labelled(lab_labels.RUN, run_id, timeout=30))
