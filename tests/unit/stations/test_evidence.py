"""Every check needs its evidence: on a real run's observations (recorded/, one `--quick` run
per station), each check that passes is run again with what it read changed, one value at
a time (numbers scaled or negated, booleans flipped, collections emptied or cut, strings
edited). A passing check must fail or skip on some of that false evidence, no check may
pass on an emptied collection it reads, and values no run can produce must fail.

A check that passed whatever it read would be a constant, not a verdict (issue 26 found
eleven that passed on "all of nothing").
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lab.config import TORCH, TORCH_IMAGES
from lab.run import stations
from lab.run.observations import Observation, Observations, load_checks, run_check
from tests.unit.stations.judging import status

RECORDED = Path(__file__).parent / "recorded"
LABELS = ("1", "2", "3", "4", "5", "6", "synthesis")
# Where the claim is that something is absent, an empty collection is the evidence itself:
# each such read is named here, with why.
EMPTY_IS_THE_CLAIM = {
    "specialization.specialized@ft": "3.13t does not specialize: nothing rewritten is the claim",
}
# Values no run can produce, for a check that reads them: each must fail.
IMPOSSIBLE = [
    ("6", "seed_gradient", "seed_autograd.max_error_vs_analytic", -1.0),
    ("synthesis", "monitoring_instruments_then_restores", "observability.calls_to_respecialize", 0),
    (
        "synthesis",
        "monitoring_instruments_then_restores",
        "observability.calls_to_respecialize",
        -14,
    ),
    ("2", "slots_are_smaller", "slots_saving.slots_bytes", 120.0),
    ("4", "uvloop_is_faster", "echo_loops.uvloop_rps", 1.0),
    ("4", "c_task_is_faster", "task_c_vs_python.c_task_us", 1e6),
]


class Reading(Observations):
    """Observations that note each `key@variant` a check reads."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.read: set[str] = set()
        self.quiet = False

    def by_variant(self, key: str) -> dict[str, Any]:
        found = super().by_variant(key)
        if not self.quiet:  # a check that takes every variant reads every one
            self.read |= {f"{key}@{variant}" for variant in found}
        return found

    def __getitem__(self, key: str) -> Any:
        name, _, variant = key.partition("@")
        self.quiet = True
        try:
            value = super().__getitem__(key)
            variant = variant or next(iter(Observations.by_variant(self, name)))
        finally:
            self.quiet = False
        self.read.add(f"{name}@{variant}")
        return value


def recorded(label: str) -> tuple[stations.Station, dict[str, Any]]:
    """The station (its PyTorch image the one the run used) and the run's values by key."""
    run = json.loads((RECORDED / f"station-{label}.json").read_text())
    used = [e["variant"] for e in run["experiments"] if e["variant"] in TORCH_IMAGES]
    station = stations.find(label).with_torch(used[0] if used else TORCH)
    values = {
        f"{o['experiment']}.{o['name']}@{o['variant']}": o["value"] for o in run["observations"]
    }
    return station, values


def evidence(station: stations.Station, values: dict[str, Any]) -> Reading:
    records = []
    for key, value in values.items():
        dotted, _, variant = key.partition("@")
        experiment, _, name = dotted.partition(".")
        records.append(Observation(experiment, variant, name, value))
    return Reading(records, planned={e.name: e.variants for e in station.experiments})


def mutations(value: Any) -> Iterator[tuple[str, Any]]:
    """False versions of VALUE, each a name and the value: one change at a time, nested."""
    if isinstance(value, bool):
        yield "flipped", not value
    elif isinstance(value, (int, float)):
        for name, factor in (("zero", 0), ("halved", 0.5), ("doubled", 2), ("a tenth", 0.1),
                             ("ten times", 10), ("negated", -1)):  # fmt: skip
            changed = value * factor
            yield name, round(changed) if isinstance(value, int) else changed
    elif isinstance(value, str):
        yield "emptied", ""
        yield "edited", value + " (edited)"
    elif isinstance(value, list):
        yield "emptied", []
        if value:
            yield "cut short", value[1:]
            yield "reversed", value[::-1]
        for index, item in enumerate(value[:4]):
            for name, changed in mutations(item):
                yield f"[{index}] {name}", [*value[:index], changed, *value[index + 1 :]]
    elif isinstance(value, dict):
        yield "emptied", {}
        for key in list(value)[:8]:
            for name, changed in mutations(value[key]):
                yield f"[{key!r}] {name}", {**value, key: changed}
    elif value is None:
        yield "a number", 0


def passing_checks() -> Iterator[tuple[str, Any]]:
    for label in LABELS:
        station, values = recorded(label)
        for check in load_checks(station.checks_file):
            if run_check(check, evidence(station, values)).status == "pass":
                yield label, check


PASSING = list(passing_checks())


def test_the_recorded_runs_pass_most_checks() -> None:
    """The fixtures are real runs: most of each station's checks pass on them (those that
    skip are timings on 2 cores, or GPU-only)."""
    assert len(PASSING) >= 60
    assert {label for label, _ in PASSING} == set(LABELS)


@pytest.mark.parametrize(("label", "check"), PASSING, ids=[c.__name__ for _, c in PASSING])
def test_every_passing_check_needs_its_evidence(label: str, check) -> None:
    station, values = recorded(label)
    reading = evidence(station, values)
    run_check(check, reading)
    assert reading.read, "a check that reads nothing judges nothing"
    flipped, passed_empty = [], []
    for key in sorted(reading.read):
        for name, changed in mutations(values[key]):
            verdict = run_check(check, evidence(station, {**values, key: changed})).status
            if verdict != "pass":
                flipped.append(f"{key} {name}")
            elif name == "emptied" and isinstance(values[key], (list, dict)) and values[key]:
                passed_empty.append(key)
    assert flipped, f"no false evidence fails or skips it: read {sorted(reading.read)}"
    assert set(passed_empty) <= set(EMPTY_IS_THE_CLAIM), f"passes with {passed_empty} emptied"


@pytest.mark.parametrize(("label", "name", "key", "impossible"), IMPOSSIBLE)
def test_a_value_no_run_can_produce_fails(label: str, name: str, key: str, impossible) -> None:
    station, values = recorded(label)
    (full_key,) = [k for k in values if k.partition("@")[0] == key]
    assert status(name, station, evidence(station, values)) == "pass", "true evidence passes"
    false = {**values, full_key: impossible}
    assert status(name, station, evidence(station, false)) == "fail"
