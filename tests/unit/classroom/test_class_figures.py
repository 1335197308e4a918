"""The class page's figures: each station draws its own (`class_figure_*` in its figures.py),
and each draws a real figure from that station's recorded run (tests/unit/stations/recorded,
one real `--quick` run each), reading no observation the run lacks: a station that renames
an observation its class figure draws turns this red, rather than blanking the figure."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from lab.classroom import class_figures, class_page
from lab.classroom.verdicts import StationResult
from lab.run import figures, report_model, stations
from lab.run.observations import CheckResult, Observation, Observations
from tests.class_hand_ins import GOOD_1, GOOD_3, make_hand_in, report

RECORDED = Path(__file__).parents[1] / "stations" / "recorded"
STUDENTS = ("ada", "bob", "cy")
DRAWN_BY = {  # the stations known to draw class figures: the test below is not vacuous
    "1": {"class_figure_global_over_local"},
    "3": {"class_figure_speedups", "class_figure_single_thread_tax"},
}


def with_class_figures() -> list[stations.Station]:
    found = stations.all_stations()
    return [
        s
        for s in found
        if figures.load(s.folder / figures.FIGURES_FILE, prefix=class_figures.PREFIX)
    ]


def recorded(label: str, rename: str = "") -> StationResult:
    """Station LABEL's recorded run as the class page holds a judged hand-in's (RENAME:
    added to every observation's name, as a station that renamed them all would)."""
    run = json.loads((RECORDED / f"station-{label}.json").read_text())
    observed = [{**o, "name": o["name"] + rename} for o in run["observations"]]
    checks = [CheckResult(name, "", status, "") for name, status in run["checks"].items()]
    made = report_model.of({"station": label, "observations": observed})
    return StationResult(label, made, "pass", checks=checks)


class Reading(Observations):
    """Observations that note every observation read that the run lacks."""

    missing: set[str]

    def by_variant(self, key: str) -> dict[str, Any]:
        try:
            return super().by_variant(key)
        except KeyError:
            self.missing.add(key)
            raise

    def __getitem__(self, key: str) -> Any:
        try:
            return super().__getitem__(key)
        except KeyError:
            self.missing.add(key)
            raise


def test_stations_draw_their_class_figures() -> None:
    found = {
        s.label: {f.__name__ for f in figures.load(s.folder / "figures.py", prefix="class_figure_")}
        for s in with_class_figures()
    }
    assert found == DRAWN_BY


@pytest.mark.parametrize("station", with_class_figures(), ids=lambda s: f"station-{s.label}")
def test_every_class_figure_draws_the_stations_recorded_run(station, monkeypatch) -> None:
    missing: set[str] = set()

    def reading(made: report_model.Report, emulated: dict[str, str]) -> Observations:
        obs = Reading([Observation.of(o) for o in made.observations], emulated=emulated)
        obs.missing = missing
        return obs

    monkeypatch.setattr(figures, "observations_of", reading)
    students = [(name, {station.label: recorded(station.label)}) for name in STUDENTS]
    drawn = class_figures.class_figures(students, {station.label: station})
    assert len(drawn) == len(DRAWN_BY[station.label])
    for figure in drawn:
        assert figure.svg is not None, f"{figure.title}: {figure.caption}"
        assert figure.title.startswith(f"Station {station.label}: ")
    assert not missing, f"the class figures read observations the run lacks: {missing}"


@pytest.mark.parametrize("station", with_class_figures(), ids=lambda s: f"station-{s.label}")
def test_a_renamed_observation_is_not_drawn(station) -> None:
    """What the test above would see if a station renamed what its class figures draw."""
    students = [(name, {station.label: recorded(station.label, "_old")}) for name in STUDENTS]
    for figure in class_figures.class_figures(students, {station.label: station}):
        assert figure.svg is None and figure.caption == f"not drawn: {class_figures.NOTHING}"


def test_one_students_unusable_value_costs_their_point_not_the_figure() -> None:
    good = recorded("1")
    bad = dataclasses.replace(good, report=report_model.of({"station": "1", "observations": [
        {"experiment": "load_fast_vs_global", "variant": v, "name": "global_over_local",
         "value": value} for v, value in (("stock", "1.5"), ("ft", {"x": 1.5}))
    ]}))  # fmt: skip
    students = [("ada", {"1": good}), ("eve", {"1": bad})]
    (figure,) = class_figures.class_figures(students, {"1": stations.find("1")})
    assert figure.svg is not None


@pytest.mark.parametrize("raised", ["SystemExit(3)", "SystemError('broken')"])
def test_a_broken_figures_file_is_one_line(tmp_path: Path, raised: str) -> None:
    (tmp_path / "figures.py").write_text(f"raise {raised}\n")
    station = dataclasses.replace(stations.find("3"), folder=tmp_path)
    (only,) = class_figures.class_figures([], {"3": station})
    assert only.svg is None and "does not load" in only.caption


def test_the_class_figures_across_machines(lab_here) -> None:
    make_hand_in(lab_here, "ada", {"1": report("1", GOOD_1), "3": report("3", GOOD_3)})
    many = GOOD_3 | {"cores@stock": 8, "threads_speedup@ft": 6.5}
    make_hand_in(lab_here, "bob", {"1": report("1", GOOD_1), "3": report("3", many)})
    view = class_page.page_view(
        class_page.read_class(lab_here, class_page.this_lab(None)), class_page.this_lab(None)
    )
    drawn = {f.title: f for f in view["figures"]}
    assert drawn["Station 3: speedup at every core, against the machine's cores"].svg
    ratio = drawn["Station 1: a global's read over a local's"]
    assert ratio.svg and ratio.caption == "a bar at 0 was not measured"  # the figure's label
    tax = drawn["Station 3: the single-thread tax, 3.13t's time over stock's"]
    assert tax.svg is None and tax.caption.startswith("not drawn")  # no hand-in measured it


def test_a_large_class_is_drawn_as_its_spread() -> None:
    """Past 40 students a bar and a name each are unreadable (and slow): a box per series."""
    names = [f"s{n}" for n in range(class_figures.NAMED_UP_TO + 1)]
    points = [(name, (1.2, None)) for name in names]  # 3.13t: not measured
    figure = class_figures.paired_bars(points, ("stock", "3.13t"), "ratio")
    ticks = [t.get_text() for t in figure.axes[0].get_xticklabels()]
    assert ticks == ["stock"]
    assert figure.get_label() == f"the class's spread (students measured: stock: {len(names)})"
