"""The class's measurements across machines, as figures on the class page.

A station draws its own: its figures.py's `class_figure_*(runs)` functions, beside its
`figure_*(obs)`, take RUNS, a list of (a student's name, their run's Observations) for every
hand-in whose run of the station was judged, as its checks saw them (with the emulation the
hand-in's machine facts confirm: a timing taken under emulation is no point). Each returns a
Matplotlib Figure, or None where no student measured what it draws; its docstring's first
line is its title, the rest its caption, as a `figure_*`'s. This module finds and draws
them, naming no station's observations itself, and holds the helpers they are drawn with. A
figure that cannot be drawn is one line on the page, never a stopped page.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from lab.classroom.verdicts import StationResult
from lab.errors import LabError
from lab.run import figures, page, stations
from lab.run.observations import Observations

if TYPE_CHECKING:  # Matplotlib is imported only where a class page is drawn
    import matplotlib.axes
    import matplotlib.figure

PREFIX = "class_figure_"
NAMED_UP_TO = 40  # students a figure names: past that, no name is readable
# What a hand-in's values can raise in a figure's hands (a hand-in is untrusted data).
FIGURE_ERRORS = (KeyError, TypeError, ValueError, ZeroDivisionError, AttributeError)
NOTHING = "no hand-in holds these observations"

Run = tuple[str, Observations]  # a student's name (one Matplotlib may draw), their run
T = TypeVar("T")


def class_figures(
    students: list[tuple[str, dict[str, StationResult]]], lab_stations: dict[str, stations.Station]
) -> list[page.Figure]:
    """Every class figure of this lab's stations, in their order, titled with its station.
    STUDENTS: (a name Matplotlib may draw, their stations)."""
    drawn = []
    for label, station in lab_stations.items():
        try:
            functions = figures.load(station.folder / figures.FIGURES_FILE, prefix=PREFIX)
        except LabError as error:  # a broken figures.py costs its figures, not the page
            drawn.append(page.Figure(f"Station {label}'s class figures", f"not drawn: {error}"))
            continue
        if functions:
            runs = runs_of(students, label)
            for function in functions:
                figure = figures.draw_one(function, runs, nothing=NOTHING)
                drawn.append(dataclasses.replace(figure, title=f"Station {label}: {figure.title}"))
    return drawn


def runs_of(students: list[tuple[str, dict[str, StationResult]]], label: str) -> list[Run]:
    """The students' runs of station LABEL that were judged, as its checks saw them."""
    runs = []
    for name, results in students:
        result = results.get(label)
        if result is not None and result.report is not None and result.checks:
            runs.append((name, figures.observations_of(result.report, result.emulated)))
    return runs


def each(runs: list[Run], read: Callable[[Observations], T | None]) -> list[tuple[str, T]]:
    """(name, READ(obs)) for every student READ gives a value for: a run that lacks an
    observation (a station renamed it), or holds one READ cannot use, is no point, never a
    figure not drawn for the whole class."""
    found = []
    for name, obs in runs:
        with contextlib.suppress(*FIGURE_ERRORS):
            value = read(obs)
            if value is not None:
                found.append((name, value))
    return found


def measured(obs: Observations, key: str, *timed_on: str) -> float | None:
    """OBS[KEY] as a number, or None where it is absent, not one, or timed on one of TIMED_ON
    under emulation (the report's model bounds a number, and has no NaN or infinity)."""
    try:
        obs.timed(*timed_on)
        value = obs[key]
    except FIGURE_ERRORS:
        return None
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def largest(obs: Observations, key: str) -> float | None:
    """KEY's largest number over the variants that measured it (a machine's cores)."""
    with contextlib.suppress(*FIGURE_ERRORS):
        values = [v for v in obs.by_variant(key).values() if isinstance(v, (int, float))]
        return float(max(values)) if values else None
    return None


def new_figure(
    width: float = 6.4, height: float = 3.6
) -> tuple[matplotlib.figure.Figure, matplotlib.axes.Axes]:
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width, height))
    return figure, figure.add_subplot()


def paired_bars(
    points: list[tuple[str, tuple[float | None, float | None]]],
    labels: tuple[str, str],
    ylabel: str,
) -> matplotlib.figure.Figure | None:
    """Two bars per student (one per series: LABELS), beside a line at 1; a value that is
    None was not measured (a bar at 0), a student with neither is left out. Past NAMED_UP_TO
    students, the class's spread instead: a box per series. None where no student is left."""
    shown = [(name, pair) for name, pair in points if any(v is not None for v in pair)]
    if not shown:
        return None
    if len(shown) > NAMED_UP_TO:
        series = {
            label: [value for _, pair in shown if (value := pair[i]) is not None]
            for i, label in enumerate(labels)
        }
        return spread(series, ylabel)
    figure, axes = new_figure()
    at = range(len(shown))
    for i, (offset, label) in enumerate(zip((-0.2, 0.2), labels, strict=True)):
        values = [pair[i] or 0.0 for _, pair in shown]
        axes.bar([x + offset for x in at], values, 0.4, label=label)
    axes.axhline(1.0, color="gray", linewidth=0.8)
    axes.set_xticks(list(at), [name for name, _ in shown], fontsize=8)
    axes.set_ylabel(ylabel)
    axes.legend(fontsize=8)
    figure.set_label("a bar at 0 was not measured")  # the caption's end (figures.draw_one)
    return figure


def spread(series: dict[str, list[float]], ylabel: str) -> matplotlib.figure.Figure | None:
    """A box per series over the students who measured it (a bar per student of hundreds
    would be unreadable, and slow to draw)."""
    shown = {label: values for label, values in series.items() if values}
    if not shown:
        return None
    figure, axes = new_figure()
    axes.boxplot(list(shown.values()))
    axes.set_xticks(range(1, len(shown) + 1), list(shown))
    axes.axhline(1.0, color="gray", linewidth=0.8)
    axes.set_ylabel(ylabel)
    counts = ", ".join(f"{label}: {len(v)}" for label, v in shown.items())
    figure.set_label(f"the class's spread (students measured: {counts})")
    return figure
