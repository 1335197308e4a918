"""The class's measurements across machines, as figures on the class page.

Drawn from the hand-ins' observations as each station's checks saw them (with the
emulation the hand-in's machine facts confirm: a timing taken under emulation is no
point). A figure that cannot be drawn is one line on the page, never a stopped page.
"""

from __future__ import annotations

import contextlib
import statistics
from collections.abc import Callable

from lab.classroom.verdicts import StationResult
from lab.run import figures, page
from lab.run.observations import Observations

# The observations drawn (stations/03-gil and stations/01-frames): a hand-in that lacks one,
# or a station that renamed it, gives no point; a figure with no point is not drawn.
CORES = "scaling.cores"
SPEEDUPS = {  # series: observation
    "threads on stock (GIL)": "scaling.threads_speedup@stock",
    "threads on 3.13t (free-threaded)": "scaling.threads_speedup@ft",
    "processes on stock": "scaling.processes_speedup@stock",
}
SUITE_MEAN = "single_thread_tax.mean_s"  # {benchmark: seconds per call}, on stock and ft
PRIME_SINGLE = "scaling.threads_single_s"  # one thread counting primes, on stock and ft
GLOBAL_OVER_LOCAL = "load_fast_vs_global.global_over_local"  # on stock and ft
NAMED_UP_TO = 40  # students a figure names: past that, no name is readable
FIGURE_ERRORS = (KeyError, TypeError, ValueError, ZeroDivisionError, AttributeError)


def class_figures(students: list[tuple[str, dict[str, StationResult]]]) -> list[page.Figure]:
    """Station 3's speedups against the cores, the single-thread tax, station 1's ratio.
    STUDENTS: (a name Matplotlib may draw, their stations)."""
    runs: dict[str, list] = {"3": [], "1": []}
    for name, results in students:
        for label, listed in runs.items():
            result = results.get(label)
            if result is not None and result.report is not None and result.checks:
                listed.append((name, figures.observations_of(result.report, result.emulated)))
    return [
        drawn(speedups_figure, runs["3"]),
        drawn(tax_figure, runs["3"]),
        drawn(ratio_figure, runs["1"]),
    ]


def drawn(figure: Callable[[list], page.Figure], runs: list) -> page.Figure:
    """FIGURE of RUNS, or one line where it cannot be drawn; Matplotlib's warnings (an
    infinite value, a label it cannot place) stay off the terminal, as a station's do."""
    try:
        with figures.quiet():
            return figure(runs)
    except Exception as error:  # a hand-in's numbers that Matplotlib will not draw
        title = (figure.__doc__ or figure.__name__).strip().splitlines()[0]
        return page.Figure(title, f"not drawn: {type(error).__name__}")


def measured(obs: Observations, key: str, *timed_on: str) -> float | None:
    """OBS[KEY] as a number, or None where it is absent, not a number, or timed emulated."""
    try:
        obs.timed(*timed_on)
        value = obs[key]
    except FIGURE_ERRORS:
        return None
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def new_figure(width: float = 6.4, height: float = 3.6):
    from matplotlib.figure import Figure  # imported only where a class page is drawn

    figure = Figure(figsize=(width, height))
    return figure, figure.add_subplot()


def not_drawn(title: str) -> page.Figure:
    return page.Figure(title, "not drawn: no hand-in holds these observations")


def speedups_figure(runs: list) -> page.Figure:
    """Station 3: speedup at every core"""
    title = "Station 3: speedup at every core, against the machine's cores"
    figure, axes = new_figure()
    points = 0
    for series, key in SPEEDUPS.items():
        xs, ys, names = [], [], []
        for name, obs in runs:
            cores = max_value(obs, CORES)
            speedup = measured(obs, key, key.rpartition("@")[2])
            if cores is not None and speedup is not None:
                xs.append(cores), ys.append(speedup), names.append(name)
        if xs:
            axes.scatter(xs, ys, label=series, alpha=0.7 if len(runs) > NAMED_UP_TO else 1)
            for x, y, name in zip(xs, ys, names, strict=True):
                if len(runs) <= NAMED_UP_TO:
                    axes.annotate(name, (x, y), fontsize=7, xytext=(3, 3),
                                  textcoords="offset points")  # fmt: skip
            points += len(xs)
    if not points:
        return not_drawn(title)
    top = max(axes.get_xlim()[1], 2)
    axes.plot([1, top], [1, top], color="gray", linestyle="--", linewidth=0.8, label="ideal")
    axes.set_xlabel("cores the container could use")
    axes.set_ylabel("speedup over one worker")
    axes.legend(fontsize=8)
    named = "" if len(runs) <= NAMED_UP_TO else f" (names left off past {NAMED_UP_TO} students)"
    caption = f"one point per student{named}; an ideal speedup equals the cores"
    return page.Figure(title, caption, svg=figures.as_svg(figure))


def max_value(obs: Observations, key: str) -> float | None:
    with contextlib.suppress(*FIGURE_ERRORS):
        values = [v for v in obs.by_variant(key).values() if isinstance(v, (int, float))]
        return float(max(values)) if values else None
    return None


def tax_figure(runs: list) -> page.Figure:
    """Station 3: the single-thread tax"""
    title = "Station 3: the single-thread tax, 3.13t's time over stock's"
    names, suite, prime = [], [], []
    for name, obs in runs:
        s = suite_ratio(obs)
        p_ft, p_stock = (
            measured(obs, f"{PRIME_SINGLE}@{v}", "stock", "ft") for v in ("ft", "stock")
        )
        if s is None and not (p_ft and p_stock):
            continue
        names.append(name)
        suite.append(s or 0.0)
        prime.append(p_ft / p_stock if p_ft and p_stock else 0.0)
    series = {"pyperformance suite (geometric mean)": suite, "counting primes, one thread": prime}
    return paired_bars(title, names, series, "ft / stock (above 1: slower)")


def suite_ratio(obs: Observations) -> float | None:
    with contextlib.suppress(*FIGURE_ERRORS):
        obs.timed("stock", "ft")
        stock, ft = obs[f"{SUITE_MEAN}@stock"], obs[f"{SUITE_MEAN}@ft"]
        ratios = [ft[k] / stock[k] for k in stock if k in ft]
        if ratios and all(r > 0 for r in ratios):
            return statistics.geometric_mean(ratios)
    return None


def ratio_figure(runs: list) -> page.Figure:
    """Station 1: a global's read over a local's"""
    title = "Station 1: a global's read over a local's"
    names, stock, ft = [], [], []
    for name, obs in runs:
        s = measured(obs, f"{GLOBAL_OVER_LOCAL}@stock", "stock")
        f = measured(obs, f"{GLOBAL_OVER_LOCAL}@ft", "ft")
        if s is None and f is None:
            continue
        names.append(name)
        stock.append(s or 0.0)
        ft.append(f or 0.0)
    return paired_bars(title, names, {"stock": stock, "3.13t": ft}, "global / local")


def paired_bars(title: str, names: list, series: dict[str, list], ylabel: str) -> page.Figure:
    """Two bars per student (a series each), beside a line at 1; a bar at 0 was not measured.
    Past NAMED_UP_TO students, the class's spread instead: a box per series."""
    if not names:
        return not_drawn(title)
    if len(names) > NAMED_UP_TO:
        return spread(title, series, ylabel)
    figure, axes = new_figure()
    at = range(len(names))
    for offset, (label, values) in zip((-0.2, 0.2), series.items(), strict=True):
        axes.bar([i + offset for i in at], values, 0.4, label=label)
    axes.axhline(1.0, color="gray", linewidth=0.8)
    axes.set_xticks(list(at), names, fontsize=8)
    axes.set_ylabel(ylabel)
    axes.legend(fontsize=8)
    return page.Figure(title, "a bar at 0 was not measured", svg=figures.as_svg(figure))


def spread(title: str, series: dict[str, list], ylabel: str) -> page.Figure:
    """A box per series over the students who measured it (a bar per student of hundreds
    would be unreadable, and slow to draw)."""
    measured_ = {label: [v for v in values if v] for label, values in series.items()}
    shown = {label: values for label, values in measured_.items() if values}
    if not shown:
        return not_drawn(title)
    figure, axes = new_figure()
    axes.boxplot(list(shown.values()))
    axes.set_xticks(range(1, len(shown) + 1), list(shown))
    axes.axhline(1.0, color="gray", linewidth=0.8)
    axes.set_ylabel(ylabel)
    counts = ", ".join(f"{label}: {len(v)}" for label, v in shown.items())
    return page.Figure(title, f"the class's spread (students measured: {counts})",
                       svg=figures.as_svg(figure))  # fmt: skip
