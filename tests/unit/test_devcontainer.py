"""The dev container (.devcontainer/): built from the lab's own base image with nothing
fetched from a registry, the host's engine through its socket, and the mounts invoke asks
for given as the host's paths (LAB_HOST_ROOT), since that engine resolves them there."""

from __future__ import annotations

import json
import re
from pathlib import Path

from lab import containers, docker
from lab.config import ALL_VARIANTS, ROOT

DEVCONTAINER = ROOT / ".devcontainer"


def config() -> dict:
    return json.loads((DEVCONTAINER / "devcontainer.json").read_text())


def pin(dockerfile: Path) -> str:
    return re.search(r"^ARG BASE_IMAGE=(\S+)$", dockerfile.read_text(), re.M).group(1)


def test_built_from_the_labs_own_base_with_no_features() -> None:
    assert pin(DEVCONTAINER / "Dockerfile") == pin(ROOT / "images" / "cpython" / "Dockerfile")
    assert "features" not in config() and "image" not in config()
    assert config()["build"]["dockerfile"] == "Dockerfile"


def test_the_hosts_engine_and_paths() -> None:
    cfg = config()
    assert "source=/var/run/docker.sock,target=/var/run/docker.sock,type=bind" in cfg["mounts"]
    assert cfg["containerEnv"]["LAB_HOST_ROOT"] == "${localWorkspaceFolder}"
    assert cfg["postCreateCommand"] == "scripts/setup.sh --no-engine"
    assert "LAB_VENV=/opt/lab-venv" in (DEVCONTAINER / "Dockerfile").read_text()


def test_engine_path_moves_the_labs_folders_to_the_host_root(monkeypatch) -> None:
    monkeypatch.setenv("LAB_HOST_ROOT", "/home/me/lab")
    assert docker.engine_path(ROOT / "results" / "station-1") == "/home/me/lab/results/station-1"
    assert docker.engine_path(ROOT) == "/home/me/lab"
    assert docker.engine_path(Path("/tmp/elsewhere")) == "/tmp/elsewhere"


def test_engine_path_without_host_root_is_the_path(monkeypatch) -> None:
    monkeypatch.delenv("LAB_HOST_ROOT", raising=False)
    assert docker.engine_path(ROOT / "results") == str(ROOT / "results")


def test_compose_gets_host_paths_for_every_mount(monkeypatch) -> None:
    monkeypatch.setenv("LAB_HOST_ROOT", "/home/me/lab")
    monkeypatch.delenv("LAB_RESULTS", raising=False)
    monkeypatch.delenv("LAB_STATIONS", raising=False)
    monkeypatch.setattr(containers, "engine_machine", lambda: (2, 8 * 2**30))
    output = ROOT / "results" / "station-1" / "x.partial"
    argv = containers.run_command(ALL_VARIANTS["stock"], ["true"], volumes=[(output, "/o", "rw")])
    assert "/home/me/lab/results/station-1/x.partial:/o:rw" in argv
    env = containers.env()
    assert env["LAB_RESULTS"] == "/home/me/lab/results"
    assert env["LAB_STATIONS"] == "/home/me/lab/stations"
