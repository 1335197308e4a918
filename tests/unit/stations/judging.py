"""Judging a station's checks on made-up observations: find a check by name, run it, read
its status. The station tests of tests/unit/stations share these."""

from __future__ import annotations

from lab.run import stations
from lab.run.observations import Observation, Observations, load_checks, run_check

FRAMES = stations.find("1")


def check_named(name: str, station: stations.Station = FRAMES):
    return next(c for c in load_checks(station.checks_file) if c.__name__ == f"check_{name}")


def observations(experiment: str, values: dict, variant: str = "stock") -> Observations:
    return Observations([Observation(experiment, variant, k, v) for k, v in values.items()])


def merged(*parts: Observations) -> Observations:
    return Observations([r for part in parts for r in part.records])


def status(name: str, number: str, obs: Observations) -> str:
    return run_check(check_named(name, stations.find(number)), obs).status


def scaling(variant: str = "ft", cores: int = 2, physical: int = 2, **figures) -> Observations:
    values = {
        "threads_speedup": 1.8,
        "threads_busy_cores": 1.9,
        "threads_single_s": 0.17,
        "threads_seconds_at_cores": 0.095,
        "processes_speedup": 1.9,
        "processes_busy_cores": 1.95,
        "cores": cores,
        "physical_cores": physical,
        # The A/A tests: each mode's lone worker timed against itself, a quiet host's 1%.
        **{f"{mode}_same": 1.01 for mode in ("threads", "processes", "subinterpreters")},
        "numpy_threads_same": 1.01,
        **figures,
    }
    records = [Observation("scaling", variant, k, v) for k, v in values.items()]
    records += [Observation("scaling", "stock", "threads_single_s", 0.13)]
    return Observations(records)
