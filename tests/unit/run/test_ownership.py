"""Who owns what containers write, on each platform's engine: Linux rootful (as root or
not), rootless Docker, rootless Podman, Docker Desktop on macOS and Windows (where Python
has no os.getuid). Recorded `docker info` answers decide; no chown is attempted where the
engine maps ownership itself, and the results stay the user's to read and delete."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from lab.engine import docker
from lab.run import containers
from tests.scripted_station import ScriptedRunner, run, seen

MACHINES = Path(__file__).parents[1] / "machines"


def recorded(name: str) -> dict:
    return json.loads((MACHINES / name).read_text())


@pytest.mark.parametrize(
    ("machine", "ownership"),
    [
        ("docker-info-debian12.json", docker.HOST_IDS),
        ("docker-info-ubuntu-nvidia-runtime.json", docker.HOST_IDS),
        ("docker-info-rootless.json", docker.ROOTLESS),
        ("docker-info-podman-rootless.json", docker.ROOTLESS),
        ("docker-info-desktop-macos.json", docker.MAPPED),
        ("docker-info-desktop-windows.json", docker.MAPPED),
    ],
)
def test_file_ownership_from_docker_info(machine: str, ownership: str) -> None:
    assert docker.file_ownership(recorded(machine)) == ownership


def test_no_answer_keeps_the_rootful_rules() -> None:
    assert docker.file_ownership({}) == docker.HOST_IDS
    assert docker.file_ownership({"SecurityOptions": None, "OperatingSystem": 3}) == docker.HOST_IDS


@pytest.mark.parametrize(
    ("ownership", "invoker", "ids"),
    [
        (docker.HOST_IDS, (1001, 1002), (1001, 1002)),  # Linux, a user: their own ids
        (docker.HOST_IDS, (0, 0), (1000, 1000)),  # Linux, root: never root inside
        (docker.ROOTLESS, (1001, 1002), (0, 0)),  # the namespace's root is the user
        (docker.MAPPED, (501, 20), (501, 20)),  # macOS: the user's ids, Desktop maps them
        (docker.MAPPED, None, (1000, 1000)),  # Windows: no uid at all
    ],
)
def test_container_ids(ownership, invoker, ids) -> None:
    assert docker.container_ids(ownership, invoker) == ids


@pytest.fixture
def windows(monkeypatch) -> None:
    """This process as on Windows: os has no getuid or getgid; the engine is Desktop's."""
    monkeypatch.delattr(os, "getuid")
    monkeypatch.delattr(os, "getgid")
    monkeypatch.setattr(docker, "engine_ownership", lambda: docker.MAPPED)


@pytest.mark.usefixtures("windows")
def test_windows_has_no_invoker_ids_and_runs_containers_as_1000() -> None:
    assert docker.invoker_ids() is None
    assert not docker.hands_back()
    env = docker.compose_env()
    assert (env["LAB_UID"], env["LAB_GID"]) == ("1000", "1000")


def test_windows_shell_results_are_neither_lent_nor_handed_back(
    tmp_path, monkeypatch, windows
) -> None:
    monkeypatch.setenv("LAB_RESULTS", str(tmp_path / "results"))
    with containers.writable_results() as folder:
        (folder / "mine.txt").write_text("x")
    assert (tmp_path / "results" / "mine.txt").read_text() == "x"


@pytest.mark.parametrize(
    ("ownership", "uid", "hands_back"),
    [
        (docker.HOST_IDS, 0, True),
        (docker.HOST_IDS, 1001, False),
        (docker.ROOTLESS, 0, False),
        (docker.MAPPED, 0, False),
    ],
)
def test_hands_back_only_as_root_on_a_rootful_engine(monkeypatch, ownership, uid, hands_back):
    monkeypatch.setattr(docker, "engine_ownership", lambda: ownership)
    monkeypatch.setattr(docker, "invoker_ids", lambda: (uid, uid))
    assert docker.hands_back() is hands_back


def refuse_chown(monkeypatch) -> list[str]:
    """Every chown fails as on a file-sharing mount, and is recorded."""
    tried: list[str] = []

    def refused(name):
        def call(*args, **kwargs):
            tried.append(name)
            raise PermissionError(1, "Operation not permitted")

        return call

    for name in ("chown", "lchown", "fchown"):
        monkeypatch.setattr(os, name, refused(name))
    return tried


@pytest.mark.parametrize("ownership", [docker.MAPPED, docker.ROOTLESS])
def test_station_run_where_the_engine_maps_ownership_never_chowns(
    station, monkeypatch, ownership
) -> None:
    """As root too (Desktop on a root shell, a root user pointed at a rootless socket)."""
    monkeypatch.setattr(docker, "engine_ownership", lambda: ownership)
    monkeypatch.setattr(docker, "invoker_ids", lambda: (0, 0))
    tried = refuse_chown(monkeypatch)

    def plant(output: Path) -> None:  # an experiment that locked its folder
        (output / "sub").mkdir()
        (output / "sub" / "data.txt").write_text("x")
        output.chmod(0o500)

    report, folder = run(station, ScriptedRunner([seen()], plant))
    assert tried == [], "no chown where the engine maps ownership"
    assert report["passed"] and (folder / "sub" / "data.txt").read_text() == "x"
    shutil.rmtree(folder)  # deletable by the user: the folder's mode was restored
    assert not folder.exists()


def test_station_run_without_os_getuid(station, monkeypatch, windows) -> None:
    """station (and pytest's tmp_path) first: they ask for the user's name, which Windows'
    Python finds another way."""
    tried = refuse_chown(monkeypatch)
    report, folder = run(station, ScriptedRunner([seen()]))
    assert tried == [] and report["passed"]
    assert (folder / "report.json").is_file()
