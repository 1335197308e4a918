"""What a station run guards on the host: a signal while the report is written, SIGQUIT,
the disk limit, links into the run folder's own mount, and root's run folders kept from
other local users."""

from __future__ import annotations

import os
import signal
import stat

import pytest

from lab.engine import docker
from lab.engine.signals import Interrupted
from lab.errors import LabError
from lab.run import report, station_run
from lab.run.runner import DISK_STOP, Outcome
from tests.scripted_station import ScriptedRunner, nothing_left, results, run, seen


def test_a_signal_while_the_report_is_written_keeps_nothing(station, monkeypatch) -> None:
    real_write = report.write

    def write_then_signal(*args, **kwargs) -> None:
        real_write(*args, **kwargs)
        os.kill(os.getpid(), signal.SIGTERM)  # held off until the report is whole

    monkeypatch.setattr(station_run, "write", write_then_signal)
    with pytest.raises(Interrupted) as stopped:
        run(station, ScriptedRunner([seen()]))
    assert stopped.value.exit_code == 128 + signal.SIGTERM
    assert nothing_left(station), "the run is not published"


def test_sigquit_stops_the_run_like_the_others(station) -> None:
    runner = ScriptedRunner([seen()], on_run=lambda: os.kill(os.getpid(), signal.SIGQUIT))
    with pytest.raises(Interrupted) as stopped:
        run(station, runner)
    assert stopped.value.exit_code == 131 and runner.stopped and nothing_left(station)


def test_a_disk_stop_keeps_nothing_of_the_run(station) -> None:
    note = f"{DISK_STOP} (1.0 GiB, LAB_DISK_LIMIT)"
    with pytest.raises(LabError, match=r"disk limit .* the run is not kept"):
        run(station, ScriptedRunner([seen()], outcome=Outcome(137, 1.0, note)))
    assert nothing_left(station)


def test_a_run_folder_past_the_disk_limit_is_not_kept(station, monkeypatch) -> None:
    """The supervisor's word is checked: the host measures the folder itself."""
    monkeypatch.setenv("LAB_DISK_LIMIT", "64k")

    def plant(output) -> None:
        with open(output / "big", "wb") as out:
            out.truncate(10**9)  # sparse: its apparent size counts

    with pytest.raises(LabError, match=r"more than the run.s disk limit"):
        run(station, ScriptedRunner([seen()], plant))
    assert nothing_left(station)


def test_an_absolute_link_into_the_run_folders_own_mount_stays_inside(station) -> None:
    def plant(output) -> None:
        (output / "data.txt").write_text("x")
        os.symlink("/lab/output/data.txt", output / "latest")
        os.symlink("/lab/output/../../etc/passwd", output / "sneaky")

    with pytest.raises(LabError, match=r"sneaky -> /lab/output/\.\./\.\./etc/passwd"):
        run(station, ScriptedRunner([seen()], plant))

    def plant_inside(output) -> None:
        (output / "data.txt").write_text("x")
        os.symlink("/lab/output/data.txt", output / "latest")

    _, folder = run(station, ScriptedRunner([seen()], plant_inside))
    assert (folder / "latest").is_symlink()


@pytest.mark.skipif(os.getuid() != 0, reason="only root's runs lend their folder to uid 1000")
def test_roots_station_folder_is_out_of_other_users_reach(station, monkeypatch) -> None:
    monkeypatch.setattr(docker, "hands_back", lambda: True)
    monkeypatch.setattr(docker, "host_ids", lambda: (1000, 1000))
    (results(station) / "station-8").mkdir(parents=True)
    os.chmod(results(station) / "station-8", 0o755)
    _, folder = run(station, ScriptedRunner([seen()]))
    mode = os.stat(folder.parent).st_mode
    assert stat.S_IMODE(mode) == 0o700 and os.stat(folder.parent).st_uid == 0
