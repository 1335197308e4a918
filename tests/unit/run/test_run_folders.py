"""Run folders: distinct under concurrency, locked while alive, swept once their run is dead."""

from __future__ import annotations

import multiprocessing
import os
import shutil
import tempfile
from pathlib import Path

from lab.run import run_folders, safe_files

NOBODY = 65534


def open_station(path: Path) -> int:
    root = safe_files.open_root(path.parent)
    try:
        return safe_files.open_folder(root, path.name, create=True, shown=path)
    finally:
        os.close(root)


def make_and_publish(path: str, queue) -> None:
    fd = open_station(Path(path))
    run = run_folders.new(Path(path), fd)
    safe_files.write_new(run.fd, "report.json", run.name, shown=run.partial)
    queue.put(run_folders.publish(run).name)


def test_runs_started_at_once_get_distinct_folders(tmp_path) -> None:
    station = tmp_path / "station-1"
    queue = multiprocessing.get_context("fork").Queue()
    workers = [
        multiprocessing.get_context("fork").Process(
            target=make_and_publish, args=(str(station), queue)
        )
        for _ in range(8)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    names = sorted(queue.get(timeout=5) for _ in workers)
    assert len(set(names)) == 8
    assert sorted(p.name for p in station.iterdir()) == names, "no lock or .partial is left"
    for name in names:
        assert (station / name / "report.json").read_text() == name


def test_a_live_run_is_not_swept_and_a_dead_one_is(tmp_path) -> None:
    station = tmp_path / "station-2"
    fd = open_station(station)
    live = run_folders.new(station, fd)
    dead = station / "20200101-000000.partial"  # a run killed by SIGKILL: no live lock
    (dead / "sub").mkdir(parents=True)
    (station / ".20200101-000000.lock").write_text('{"run": "deadbeef"}')
    orphan = station / "20200101-000001.partial"  # older than locks: no lock at all
    orphan.mkdir()
    (station / ".20200101-000002.abc.new").write_text('{"run": "abc"}')  # died making its lock
    removed: list[str] = []
    swept = run_folders.sweep(tmp_path, removed.append)
    assert sorted(swept) == [
        "station-2/20200101-000000.partial",
        "station-2/20200101-000001.partial",
    ]
    assert removed == ["deadbeef"], "the dead run's containers are removed by its label"
    assert live.partial.is_dir() and not dead.exists() and not orphan.exists()
    run_folders.discard(live)
    assert not list(station.iterdir())


def test_sweeping_never_follows_a_link(tmp_path) -> None:
    station = tmp_path / "station-3"
    station.mkdir()
    elsewhere = tmp_path / "elsewhere"
    (elsewhere / "keep").mkdir(parents=True)
    (station / "20200101-000000.partial").symlink_to(elsewhere)
    run_folders.sweep(tmp_path, lambda run_id: None)
    assert (elsewhere / "keep").is_dir()


def test_a_sweep_that_removes_the_scratch_lock_before_its_flock_costs_a_retry(
    tmp_path, monkeypatch
) -> None:
    """Another run's sweep may find the scratch file in the moment between its O_EXCL
    create and its flock, take it for a dead run's, and unlink it: the run tries again."""
    station = tmp_path / "station-3"
    fd = open_station(station)
    real_flock, swept = run_folders.fcntl.flock, []

    def sweep_first(lock_fd: int, operation: int) -> None:
        if not swept:  # the first flock: the scratch file is there, unlocked
            swept.append("done")
            monkeypatch.setattr(run_folders.fcntl, "flock", real_flock)
            run_folders.sweep(tmp_path, lambda run_id: None)
        real_flock(lock_fd, operation)

    monkeypatch.setattr(run_folders.fcntl, "flock", sweep_first)
    run = run_folders.new(station, fd)
    monkeypatch.undo()
    assert swept == ["done"] and run.partial.is_dir()
    assert sorted(p.name for p in station.iterdir()) == [f".{run.name}.lock", run.partial.name]
    run_folders.discard(run)


def test_a_folder_an_experiment_made_unreadable_is_removed() -> None:
    """As a normal user (root reads any folder, so the test drops to nobody where it can):
    a container running as that user may leave a mode-0 folder, nested, in its run folder."""
    top = Path(tempfile.mkdtemp(prefix="lab-mode0-"))
    try:
        pid = os.fork()
        if pid == 0:  # the child: the user, making and removing the tree
            code = 1
            try:
                if os.getuid() == 0:
                    os.chown(top, NOBODY, NOBODY)
                    os.setgid(NOBODY)
                    os.setuid(NOBODY)
                run = top / "20200101-000000.partial"
                (run / "a" / "b").mkdir(parents=True)
                (run / "a" / "b" / "f").write_text("x")
                os.chmod(run / "a" / "b", 0)
                os.chmod(run / "a", 0)
                safe_files.remove_tree(run)
                code = 0 if not run.exists() else 2
            finally:
                os._exit(code)
        assert os.waitpid(pid, 0)[1] == 0
    finally:
        shutil.rmtree(top)


def test_a_dead_run_being_swept_is_left_to_that_sweep(tmp_path, monkeypatch) -> None:
    """Two runs sweeping at once: the first removes and names the dead run; the second,
    sweeping while the first removes it, neither removes nor names it."""
    station = tmp_path / "station-4"
    (station / "20200101-000000.partial").mkdir(parents=True)
    (station / ".20200101-000000.lock").write_text('{"run": "deadbeef"}')
    real_remove, second = safe_files.remove_tree, []

    def remove_while_another_sweeps(path) -> None:
        second.extend(run_folders.sweep(tmp_path, lambda run_id: None))
        real_remove(path)

    monkeypatch.setattr(safe_files, "remove_tree", remove_while_another_sweeps)
    first = run_folders.sweep(tmp_path, lambda run_id: None)
    assert first == ["station-4/20200101-000000.partial"] and second == []
    assert sorted(p.name for p in station.iterdir()) == []
