"""A made-up station (number 8, one experiment) and a runner that plays its container:
it prints what an experiment would print and plants what it would plant in its run folder.
The station run's tests (tests/unit/run) and the re-run's (tests/unit/classroom) use them;
tests/unit/conftest.py writes the station."""

from __future__ import annotations

import json
from pathlib import Path

from labkit.protocol import MARKER

from lab.run import stations
from lab.run.runner import Outcome
from lab.run.station_run import Options, run_station


def station_toml(
    number: int, title: str, runs: list[dict], minutes: int = 1, explain: list[dict] = ()
) -> str:
    """A station.toml: a [[run]] table for each of RUNS, an [[explain]] one for each of
    EXPLAIN (their values written as JSON, which TOML reads the same)."""
    lines = [f"number = {number}", f"title = {json.dumps(title)}", f"minutes = {minutes}"]
    for table, entries in (("run", runs), ("explain", explain)):
        for entry in entries:
            lines += ["", f"[[{table}]]", *(f"{k} = {json.dumps(v)}" for k, v in entry.items())]
    return "\n".join(lines) + "\n"


STATION_TOML = station_toml(
    8, "hostile",
    runs=[{"script": "exp.py", "title": "an experiment", "variants": ["stock"]}],
    explain=[{"question": "what was seen?", "evidence": ["exp.seen"]}],
)  # fmt: skip
CHECKS = """
def check_seen(obs):
    \"\"\"The experiment reported seen\"\"\"
    return obs["exp.seen"] == 1, "seen"
"""


class ScriptedRunner:
    """Plays one container: prints LINES, then calls PLANT(run folder)."""

    def __init__(self, lines=(), plant=None, outcome=None, on_run=None) -> None:
        self.lines, self.plant, self.on_run = list(lines), plant, on_run
        self.outcome = outcome or Outcome(0, 0.1)
        self.stopped = 0

    def prepare(self, groups, output, labels) -> None:
        pass

    def resolve_reading(self, variant, entries, labels):
        return []

    def run(self, variant, job, *, capabilities, output, labels, on_line) -> Outcome:
        for line in self.lines:
            on_line(line)
        if self.plant:
            self.plant(Path(output))
        if self.on_run:
            self.on_run()
        return self.outcome

    def stop_all(self) -> list[str]:
        self.stopped += 1
        return ["lab-test-container"]

    def close(self) -> None:
        pass


def results(station: stations.Station) -> Path:
    return station.folder.parent.parent / "results"


def seen(value=1) -> str:
    return MARKER + json.dumps({"name": "seen", "value": value})


def run(station, runner, said=None) -> tuple[dict, Path]:
    return run_station(
        station, Options(), runner=runner, say=[].append if said is None else said.append
    )


def nothing_left(station) -> bool:
    folder = results(station) / "station-8"
    return not [p for p in folder.iterdir()] if folder.exists() else True
