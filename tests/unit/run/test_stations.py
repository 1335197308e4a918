"""Station folders: discovery, validation, and how a learner names one."""

from __future__ import annotations

import shutil

import pytest

from lab.config import STATIONS_DIR
from lab.errors import LabError
from lab.run import stations
from tests.cli import assert_one_clear_line, invoke


def test_every_station_folder_loads() -> None:
    loaded = stations.all_stations()
    assert [s.number for s in loaded] == sorted(s.number for s in loaded)
    for station in loaded:
        assert station.experiments and station.questions and station.checks_file.is_file()


def test_adding_a_station_is_adding_a_folder(tmp_path) -> None:
    shutil.copytree(STATIONS_DIR / "01-frames", tmp_path / "09-new")
    toml = tmp_path / "09-new" / "station.toml"
    toml.write_text(toml.read_text().replace("number = 1", "number = 9", 1))
    assert stations.find("9", root=tmp_path).folder.name == "09-new"


def test_a_broken_station_is_one_clear_error_and_breaks_no_other(tmp_path) -> None:
    shutil.copytree(STATIONS_DIR / "01-frames", tmp_path / "01-frames")
    (tmp_path / "03-x").mkdir()
    (tmp_path / "03-x" / "station.toml").write_text("number = 3\n")
    with pytest.raises(LabError, match=r"03-x/station\.toml: not a valid station"):
        stations.find("3", root=tmp_path)
    assert stations.find("1", root=tmp_path).number == 1
    assert [s.number for s in stations.all_stations(tmp_path)] == [1]
    listing = stations.listing(tmp_path)
    assert listing[-1].split()[0] == "broken" and "`title` is missing" in listing[-1]


@pytest.mark.parametrize("wanted", ["0", "9", "abc"])
def test_unknown_station(wanted: str) -> None:
    with pytest.raises(LabError, match=f"unknown station '{wanted}'"):
        stations.find(wanted)


@pytest.mark.parametrize("wanted", ["0", "9", "abc"])
def test_unknown_station_on_the_command_line(wanted: str) -> None:
    assert_one_clear_line(invoke("station", wanted), f"unknown station '{wanted}'")


def test_station_without_engine(tmp_path) -> None:
    result = invoke(
        "station",
        "1",
        env={"DOCKER_HOST": "unix:///nonexistent.sock", "LAB_RESULTS": str(tmp_path)},
    )
    # With the CLI, DOCKER_HOST's socket is named (not "install Docker"); with no CLI at all
    # (a fresh machine), the install.
    if shutil.which("docker"):
        assert_one_clear_line(result, "DOCKER_HOST=unix:///nonexistent.sock", "unset DOCKER_HOST")
    else:
        assert_one_clear_line(result, "no `docker` command", "install-docker.sh")
    assert not list(tmp_path.iterdir()), "nothing is written when nothing could run"


def test_a_broken_station_on_the_command_line_is_one_line_and_others_run(tmp_path) -> None:
    shutil.copytree(STATIONS_DIR / "_lib", tmp_path / "_lib")
    (tmp_path / "03-broken").mkdir()
    (tmp_path / "03-broken" / "station.toml").write_text("number = 'three'\n")
    result = invoke("station", "3", env={"LAB_STATIONS": str(tmp_path)})
    assert_one_clear_line(result, "03-broken/station.toml: not a valid station", "`number`")
    assert any(line.startswith("   broken") for line in stations.listing(tmp_path))


def test_optional_must_be_true_or_false(tmp_path) -> None:
    folder = tmp_path / "09-x"
    folder.mkdir()
    (folder / "x.py").write_text("")
    (folder / "station.toml").write_text(
        'number = 9\ntitle = "x"\nminutes = 1\n'
        '[[run]]\nscript = "x.py"\ntitle = "x"\nvariants = ["cuda"]\noptional = "yes"\n'
    )
    with pytest.raises(LabError, match="`optional` must be a bool"):
        stations.load(folder)
    (folder / "station.toml").write_text(
        (folder / "station.toml").read_text().replace('optional = "yes"', "optional = true")
    )
    assert stations.load(folder).optional_variants == ("cuda",)
