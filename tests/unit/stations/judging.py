"""Judging a station's checks on made-up observations: find a check by name, run it, read
its status. The station tests of tests/unit/stations share these."""

from __future__ import annotations

from lab.run import stations
from lab.run.observations import CheckResult, Observation, Observations, load_checks, run_check


def check_named(name: str, station: str | stations.Station):
    """check_NAME from the checks.py of STATION (a station's number, or the station)."""
    if isinstance(station, str):
        station = stations.find(station)
    return next(c for c in load_checks(station.checks_file) if c.__name__ == f"check_{name}")


def judge(name: str, station: str | stations.Station, obs: Observations) -> CheckResult:
    """check_NAME of STATION run on OBS, as a station run runs it."""
    return run_check(check_named(name, station), obs)


def status(name: str, station: str | stations.Station, obs: Observations) -> str:
    """judge()'s verdict alone: "pass", "fail" or "skip"."""
    return judge(name, station, obs).status


def observations(experiment: str, values: dict, variant: str = "stock", **run) -> Observations:
    """EXPERIMENT's VALUES on VARIANT, as one observation each; RUN: what else Observations
    knows of the run (variants_run, emulated, ...)."""
    records = [Observation(experiment, variant, k, v) for k, v in values.items()]
    return Observations(records, **run)


def merged(*parts: Observations) -> Observations:
    return Observations([r for part in parts for r in part.records])


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
