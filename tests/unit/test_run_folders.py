"""Run folders: distinct under concurrency, locked while alive, swept once their run is dead."""

from __future__ import annotations

import multiprocessing
import os
from pathlib import Path

from lab import run_folders, safe_files


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
