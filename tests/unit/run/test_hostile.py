"""Hostile or broken station content: one line each, never a traceback, nothing half-written.

A scripted runner plays the container: it prints what a hostile experiment would print
and plants what it would plant in its run folder.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
from pathlib import Path

import pytest
from labkit.protocol import MARKER

from lab.engine.signals import Interrupted
from lab.errors import LabError
from lab.run import stations
from lab.run.observations import Observations, run_check
from lab.run.station_run import Options, run_station
from lab.untrusted import Malformed, observation
from tests.scripted_station import ScriptedRunner, nothing_left, results, run, seen


# -- what an experiment prints -----------------------------------------------------------
@pytest.mark.parametrize(
    ("payload", "why"),
    [
        ("{not json", "not JSON"),
        ("[1, 2]", "a JSON list"),
        ('{"name": "x"}', "keys"),
        ('{"name": "x", "value": 1, "extra": 2}', "keys"),
        ('{"name": "../../x y", "value": 1}', "short word"),
        ('{"name": "x", "value": NaN}', "NaN"),
        ('{"name": "x", "value": [1, Infinity]}', "Infinity"),
        ('{"name": "x", "value": 1e999}', "inf"),
        ('{"name": "x", "value": 1, "unit": 5}', "unit"),
        ('{"name": "x", "value": ' + "9" * 5000 + "}", "not JSON"),
        ("[" * 100000, "not JSON"),
    ],
)
def test_malformed_observations_are_refused_with_the_reason(payload: str, why: str) -> None:
    with pytest.raises(Malformed, match=why):
        observation(payload)


def test_malformed_observations_leave_a_valid_report(station) -> None:
    said: list[str] = []
    lines = [MARKER + "{bad", MARKER + '{"name": "nan", "value": NaN}', seen(), "plain \x1b[31m"]
    report, folder = run(station, ScriptedRunner(lines), said)
    assert report["passed"]
    strict = json.loads((folder / "report.json").read_text(), parse_constant=_no_nan)
    assert [o["name"] for o in strict["observations"]] == ["seen"]
    assert sum("malformed observation" in line for line in said) == 2
    assert any("plain ?[31m" in line for line in said)


def _no_nan(name: str):
    raise AssertionError(f"{name} in report.json")


def test_an_endless_stream_of_observations_is_capped(station) -> None:
    said: list[str] = []
    report, _ = run(station, ScriptedRunner([seen()] * 2500), said)
    assert len(report["observations"]) == 2000
    assert any("500 were ignored" in line for line in said)


# -- what an experiment plants in its folder ----------------------------------------------
@pytest.mark.parametrize("name", ["report.md", "report.json"])
def test_a_planted_link_is_never_written_through(station, tmp_path, name: str) -> None:
    target = tmp_path / "host-file"
    target.write_text("the host's own\n")

    def plant(output: Path) -> None:
        (output / name).symlink_to(target)

    with pytest.raises(LabError, match="link out of its run folder"):
        run(station, ScriptedRunner([seen()], plant))
    assert target.read_text() == "the host's own\n"
    assert nothing_left(station)


def test_a_link_to_where_nothing_is_yet_is_refused_too(station, tmp_path) -> None:
    target = tmp_path / "would-be-created"
    with pytest.raises(LabError, match="link out of its run folder"):
        run(station, ScriptedRunner([seen()], lambda out: (out / "x").symlink_to(target)))
    assert not target.exists() and nothing_left(station)


def test_a_planted_report_file_is_refused(station) -> None:
    with pytest.raises(LabError, match="already there"):
        run(station, ScriptedRunner([seen()], lambda out: (out / "report.md").write_text("x")))
    assert nothing_left(station)


def test_a_link_that_stays_inside_is_kept(station) -> None:
    def plant(output: Path) -> None:
        (output / "plot.png").write_text("png")
        (output / "latest.png").symlink_to("plot.png")

    report, folder = run(station, ScriptedRunner([seen()], plant))
    assert report["files"] == ["latest.png", "plot.png"]
    assert (folder / "report.md").is_file() and not (folder / "report.md").is_symlink()


@pytest.mark.skipif(os.getuid() != 0, reason="handing back happens only as root")
def test_hand_back_changes_links_never_their_targets(station, tmp_path) -> None:
    target = tmp_path / "owned-by-1000"
    target.write_text("")
    os.chown(target, 1000, 1000)

    def plant(output: Path) -> None:
        (output / "sub").mkdir()
        (output / "sub" / "inner").symlink_to("../data")
        (output / "data").write_text("")

    _, folder = run(station, ScriptedRunner([seen()], plant))
    assert all(p.lstat().st_uid == 0 for p in [folder, *folder.rglob("*")])
    assert target.stat().st_uid == 1000


# -- broken station content ----------------------------------------------------------------
def test_a_check_returning_an_unknown_status_fails_alone() -> None:
    def check_odd(obs):
        """returns a word"""
        return "yes", "detail"

    def check_one(obs):
        """returns 1"""
        return 1, "detail"

    def check_bare(obs):
        """returns a bool alone"""
        return True

    for check in (check_odd, check_one, check_bare):
        result = run_check(check, Observations())
        assert result.status == "fail" and "not (True, False or None, detail)" in result.detail


def test_a_check_that_raises_or_exits_fails_with_one_line() -> None:
    def check_boom(obs):
        raise SystemExit(3)

    result = run_check(check_boom, Observations())
    assert result.status == "fail" and "SystemExit" in result.detail and "\n" not in result.detail


@pytest.mark.parametrize(
    "source", ["def check_x(:\n", "import no_such_module\n", "raise SystemExit(1)\n"]
)
def test_checks_that_do_not_import_are_one_line_before_anything_runs(station, source) -> None:
    station.checks_file.write_text(source)
    runner = ScriptedRunner([seen()])
    with pytest.raises(LabError, match=r"checks.py does not load: \w+"):
        run(station, runner)
    assert runner.stopped == 0 and nothing_left(station)


@pytest.mark.parametrize(
    ("edit", "why"),
    [
        (("minutes = 1", 'minutes = "1"'), "`minutes` must be a int"),
        (("number = 8", "number = true"), "`number` must be a int"),
        (('variants = ["stock"]', 'variants = "stock"'), "`variants` must be a list"),
        (('variants = ["stock"]', 'variants = ["py2"]'), "variants must name"),
        (('script = "exp.py"', 'script = "../../etc/passwd"'), "not a .py file"),
        (('title = "an experiment"', 'title = "x"\ncapabilities = ["SYS_ADMIN"]'), "SYS_PTRACE"),
        (('title = "an experiment"', 'title = "x"\ntimeout = -1'), "timeout must be"),
        (("minutes = 1", 'minutes = 1\naliases = ["../../x"]'), "aliases must be words"),
        (("minutes = 1", "minutes = 1\n[oops"), "not a valid station"),
    ],
)
def test_station_toml_types_and_names_are_checked(station, edit, why) -> None:
    toml = station.folder / "station.toml"
    toml.write_text(toml.read_text().replace(*edit))
    with pytest.raises(LabError, match=why):
        stations.load(station.folder)


def test_a_station_toml_that_is_not_utf8_is_one_line(station) -> None:
    (station.folder / "station.toml").write_bytes(b"number = \xff\n")
    with pytest.raises(LabError, match="not a valid station"):
        stations.load(station.folder)


# -- options and the results folder ---------------------------------------------------------
def test_a_variant_the_station_does_not_use_runs_nothing(station) -> None:
    with pytest.raises(LabError, match="station 8 runs on stock, not on ft"):
        run_station(station, Options(variant="ft"), runner=ScriptedRunner())
    assert not results(station).exists()


def test_read_only_and_skip_reading_together_is_one_line(station) -> None:
    with pytest.raises(LabError, match="leave nothing to do"):
        run_station(station, Options(read=False, run=False), runner=ScriptedRunner())


@pytest.mark.parametrize("kind", ["file", "link"])
def test_a_station_results_folder_that_is_not_a_folder(station, tmp_path, kind) -> None:
    results(station).mkdir()
    blocker = results(station) / "station-8"
    if kind == "file":
        blocker.write_text("")
    else:
        (tmp_path / "elsewhere").mkdir()
        blocker.symlink_to(tmp_path / "elsewhere")
    with pytest.raises(LabError, match="station-8 is not a folder"):
        run(station, ScriptedRunner([seen()]))
    assert not list((tmp_path / "elsewhere").iterdir()) if kind == "link" else True


@pytest.mark.skipif(os.getuid() == 0, reason="root writes anywhere")
def test_a_station_results_folder_that_is_not_writable(station) -> None:
    (results(station) / "station-8").mkdir(parents=True)
    (results(station) / "station-8").chmod(0o555)
    with pytest.raises(LabError, match="not writable"):
        run(station, ScriptedRunner([seen()]))


# -- signals -------------------------------------------------------------------------------
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM, signal.SIGHUP])
def test_a_signal_stops_the_containers_and_removes_the_partial_folder(station, signum) -> None:
    runner = ScriptedRunner([seen()], on_run=lambda: os.kill(os.getpid(), signum))
    with pytest.raises(Interrupted) as stopped:
        run(station, runner)
    assert stopped.value.exit_code == 128 + signum
    message = stopped.value.message()
    assert message.startswith(signal.Signals(signum).name) and "lab-test-container" in message
    assert ".partial" in message and runner.stopped and nothing_left(station)
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL, "handlers are put back"


def test_a_station_folder_that_is_copied_elsewhere_still_loads(tmp_path) -> None:
    shutil.copytree(stations.STATIONS_DIR / "02-memory", tmp_path / "02-memory")
    assert stations.load(tmp_path / "02-memory").number == 2


def test_folders_nested_past_the_recursion_limit_are_one_line(station) -> None:
    def plant(output: Path) -> None:
        fd = os.open(output, os.O_RDONLY)
        for _ in range(1500):
            os.mkdir("d", dir_fd=fd)
            inner = os.open("d", os.O_RDONLY, dir_fd=fd)
            os.close(fd)
            fd = inner
        os.close(fd)

    with pytest.raises(LabError, match="nested folders too deep"):
        run(station, ScriptedRunner([seen()], plant))
    assert nothing_left(station)


def test_a_flood_of_files_is_listed_in_part(station) -> None:
    def plant(output: Path) -> None:
        for i in range(600):
            (output / f"f{i:03}").write_text("")

    report, folder = run(station, ScriptedRunner([seen()], plant))
    assert len(report["files"]) == 501 and report["files"][-1] == "... and 100 more"
    assert (folder / "report.md").is_file()


def test_a_check_that_loops_fails_alone_after_its_time() -> None:
    def check_forever(obs):
        """never returns"""
        while True:
            pass

    result = run_check(check_forever, Observations(), timeout=0.5)
    assert result.status == "fail" and "took longer than 0.5 s" in result.detail
