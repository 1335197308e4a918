"""What a station run guards on the host: a signal while the report is written, SIGQUIT,
the disk limit, links into the run folder's own mount, root's run folders kept from other
local users, and the memory that runs at once may hold together."""

from __future__ import annotations

import os
import signal
import stat

import pytest

from lab.engine import docker
from lab.engine.signals import Interrupted
from lab.errors import LabError
from lab.run import containers, report, station_run
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


def test_runs_at_once_share_the_memory_budget(monkeypatch, tmp_path, capsys) -> None:
    monkeypatch.setenv("LAB_CACHE", str(tmp_path))
    monkeypatch.setenv("LAB_MEMORY_LIMIT", "8g")
    monkeypatch.setattr(containers, "engine_machine", lambda: (2, 8 * 2**30))  # no `docker info`
    monkeypatch.setattr(containers, "held_by_other_runs", lambda run_id: 0)
    with containers.memory_share("a", 4) as share:
        assert share == 2 * 2**30, "a run alone splits the budget among its containers"
    monkeypatch.setattr(containers, "held_by_other_runs", lambda run_id: 6 * 2**30)
    with containers.memory_share("b", 2) as share:
        assert share == 2**30, "what other runs hold is not given again"
    held = iter([8 * 2**30 - 2**20, 8 * 2**30 - 2**20, 4 * 2**30])  # until one run ends
    monkeypatch.setattr(containers, "held_by_other_runs", lambda run_id: next(held))
    monkeypatch.setattr(containers.time, "sleep", lambda seconds: None)
    with containers.memory_share("c", 1) as share:
        assert share == 4 * 2**30
    waiting = capsys.readouterr().err.splitlines()
    assert waiting == [
        "lab: waiting for other station runs: they hold 8.0 GiB of the lab's memory budget "
        "of 8.0 GiB (LAB_MEMORY_LIMIT)"
    ]


def test_a_run_does_not_wait_for_memory_forever(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("LAB_CACHE", str(tmp_path))
    monkeypatch.setenv("LAB_MEMORY_LIMIT", "8g")
    monkeypatch.setattr(containers, "engine_machine", lambda: (2, 8 * 2**30))  # no `docker info`
    monkeypatch.setattr(containers, "held_by_other_runs", lambda run_id: 8 * 2**30)
    monkeypatch.setattr(containers, "MEMORY_WAIT", 0.0)
    monkeypatch.setattr(containers.time, "sleep", lambda seconds: None)
    with pytest.raises(LabError, match=r"still hold 8\.0 GiB .* after 0 s"):  # noqa: SIM117
        with containers.memory_share("d", 1):
            pass


@pytest.mark.parametrize("text", ["lots", "0", "-1g", "1x", ""])
def test_a_size_that_is_no_size_is_one_line(text) -> None:
    with pytest.raises(LabError, match="is not a size"):
        containers.size_bytes(text, "LAB_DISK_LIMIT")


def test_sizes_read_as_docker_reads_them() -> None:
    assert containers.size_bytes("512m", "X") == 512 * 2**20
    assert containers.size_bytes("1G", "X") == 2**30
    assert containers.size_bytes("1048576", "X") == 2**20


def test_a_signal_while_the_reading_list_resolves_names_its_container(monkeypatch) -> None:
    """The reader's container is removed, and named, like an experiment's."""
    from lab.config import VARIANTS
    from lab.run import runner as lab_runner

    removed: list[list[str]] = []

    class Reader:  # a `docker compose run` that is still resolving when the signal comes
        def __init__(self, *args, **kwargs) -> None:
            self.returncode = None

        def communicate(self, *args, **kwargs):
            raise Interrupted(signal.SIGINT)

        def poll(self):
            return self.returncode

        def kill(self) -> None:
            self.returncode = -9

    monkeypatch.setattr(lab_runner.subprocess, "Popen", Reader)
    monkeypatch.setattr(lab_runner.containers, "run_command", lambda *a, **k: ["true"])
    monkeypatch.setattr(lab_runner.containers, "env", lambda *a: {})
    monkeypatch.setattr(lab_runner.docker, "docker", lambda args, **k: removed.append(args) or "")
    compose = lab_runner.ComposeRunner()
    with pytest.raises(Interrupted):
        compose.resolve_reading(VARIANTS["stock"], [], {"org.lab.run": "abc"})
    assert compose.stop_all() == ["lab-abc-stock-reading"]
    assert removed == [["rm", "-f", "lab-abc-stock-reading"]]
