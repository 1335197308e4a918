"""The unit tests' shared fixture: a hostile station written into a temporary folder."""

from __future__ import annotations

import pytest

from lab import containers, stations
from tests.unit.test_hostile import CHECKS, STATION_TOML


@pytest.fixture
def station(tmp_path, monkeypatch) -> stations.Station:
    folder = tmp_path / "stations" / "08-hostile"
    folder.mkdir(parents=True)
    (folder / "station.toml").write_text(STATION_TOML)
    (folder / "exp.py").write_text("")
    (folder / "checks.py").write_text(CHECKS)
    monkeypatch.setattr(
        containers, "image_ids", lambda variants: {v.name: "0123456789ab" for v in variants}
    )
    monkeypatch.setattr(containers, "emulated", lambda variants: {})
    monkeypatch.setenv("LAB_RESULTS", str(tmp_path / "results"))
    monkeypatch.setenv("LAB_CACHE", str(tmp_path / "cache"))
    return stations.load(folder)
