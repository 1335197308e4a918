"""The unit tests' shared fixtures: an engine that is never asked (its images stand in), and a
hostile station written into a temporary folder."""

from __future__ import annotations

import pytest

from lab.config import ALL_VARIANTS
from lab.images import builder
from lab.run import containers, stations
from tests.scripted_station import CHECKS, STATION_TOML


@pytest.fixture
def no_docker(monkeypatch, tmp_path):
    """Every image is there, native, with a made-up ID, on a made-up 2-core 8 GiB engine;
    results and cache under tmp_path."""
    monkeypatch.setattr(
        containers, "image_ids", lambda variants: {v.name: "0123456789ab" for v in variants}
    )
    monkeypatch.setattr(containers, "emulated", lambda variants: {})
    # The PyTorch image a station names by role: the CUDA build, as on a GPU machine.
    monkeypatch.setattr(builder, "torch_image", lambda built_only=False: ALL_VARIANTS["cuda"])
    # The machine the engine runs on, fixed: no `docker info` (with no CLI it would raise).
    monkeypatch.setattr(containers, "engine_machine", lambda: (2, 8 * 2**30))
    monkeypatch.setenv("LAB_RESULTS", str(tmp_path / "results"))
    monkeypatch.setenv("LAB_CACHE", str(tmp_path / "cache"))
    return tmp_path / "results"


@pytest.fixture
def station(tmp_path, no_docker) -> stations.Station:
    folder = tmp_path / "stations" / "08-hostile"
    folder.mkdir(parents=True)
    (folder / "station.toml").write_text(STATION_TOML)
    (folder / "exp.py").write_text("")
    (folder / "checks.py").write_text(CHECKS)
    return stations.load(folder)
