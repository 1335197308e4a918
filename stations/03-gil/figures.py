"""Station 3's figures, drawn on the host from the run's observations (lab/run/figures.py).
The scaling plot is drawn in the container (plot.py) and shown as the file it saved. The
class_figure_* draw the class page's, across the class's runs (lab/classroom/class_figures.py).
"""

import contextlib
import statistics

from matplotlib.figure import Figure

from lab.classroom.class_figures import (
    FIGURE_ERRORS,
    NAMED_UP_TO,
    each,
    largest,
    measured,
    new_figure,
    paired_bars,
)

HOWTO_TAX = 1.4  # the 3.13 free-threading HOWTO's "about 40% on the pyperformance suite"
# The class's speedups: series, observation (timed on the variant it names).
SPEEDUPS = {
    "threads on stock (GIL)": "scaling.threads_speedup@stock",
    "threads on 3.13t (free-threaded)": "scaling.threads_speedup@ft",
    "processes on stock": "scaling.processes_speedup@stock",
}


def figure_single_thread_tax(obs):
    """The free-threaded build's single-thread cost on pyperformance's benchmarks
    Each bar is one benchmark's time on 3.13t over its time on stock, one thread each. The
    dashed line is the HOWTO's "about 40%" on the pyperformance suite (it does not say how its
    builds were made); the lab's images are built without PGO and LTO (OPTIMIZE=no) unless
    `invoke images --optimize` built them, so the two may not be the same measurement."""
    stock = obs["single_thread_tax.mean_s@stock"]
    ft = obs["single_thread_tax.mean_s@ft"]
    names = [name for name in stock if name in ft]
    if not names:
        return None
    ratios = [ft[name] / stock[name] for name in names]
    figure = Figure(figsize=(7.5, 3.4))
    axes = figure.subplots()
    bars = axes.bar(names, ratios, color="#9467bd")
    axes.bar_label(bars, fmt="%.2fx", fontsize=8)
    axes.axhline(1, color="black", linewidth=0.8)
    axes.axhline(
        HOWTO_TAX, color="#d62728", linestyle="--", linewidth=1,
        label="the HOWTO's ~40% on pyperformance",
    )  # fmt: skip
    axes.legend(frameon=False, fontsize=8, loc="lower left", bbox_to_anchor=(0, 1))
    axes.tick_params(axis="x", labelrotation=30, labelsize=8)
    axes.set_ylabel("3.13t time / stock time")
    axes.set_ylim(bottom=0)
    axes.spines[["top", "right"]].set_visible(False)
    return figure


def class_figure_speedups(runs):
    """speedup at every core, against the machine's cores
    One point per student; an ideal speedup equals the cores."""
    figure, axes = new_figure()
    named = len(runs) <= NAMED_UP_TO
    for series, key in SPEEDUPS.items():
        points = each(runs, lambda obs, key=key: at_cores(obs, key))
        if not points:
            continue
        xs, ys = zip(*(xy for _, xy in points), strict=True)
        axes.scatter(xs, ys, label=series, alpha=1 if named else 0.7)
        for name, xy in points if named else ():
            axes.annotate(name, xy, fontsize=7, xytext=(3, 3), textcoords="offset points")
    if not axes.collections:
        return None
    top = max(axes.get_xlim()[1], 2)
    axes.plot([1, top], [1, top], color="gray", linestyle="--", linewidth=0.8, label="ideal")
    axes.set_xlabel("cores the container could use")
    axes.set_ylabel("speedup over one worker")
    axes.legend(fontsize=8)
    if not named:
        figure.set_label(f"names left off past {NAMED_UP_TO} students")
    return figure


def at_cores(obs, key):
    """(the machine's cores, KEY's speedup), or None where the run lacks either."""
    cores = largest(obs, "scaling.cores")
    speedup = measured(obs, key, key.rpartition("@")[2])
    return None if cores is None or speedup is None else (cores, speedup)


def class_figure_single_thread_tax(runs):
    """the single-thread tax, 3.13t's time over stock's"""
    points = each(runs, lambda obs: (suite_ratio(obs), primes_ratio(obs)))
    labels = ("pyperformance suite (geometric mean)", "counting primes, one thread")
    return paired_bars(points, labels, "ft / stock (above 1: slower)")


def suite_ratio(obs):
    """The geometric mean of the benchmarks' ft / stock times, or None."""
    with contextlib.suppress(*FIGURE_ERRORS):  # the primes' ratio may still be there
        obs.timed("stock", "ft")
        stock = obs["single_thread_tax.mean_s@stock"]
        ft = obs["single_thread_tax.mean_s@ft"]
        ratios = [ft[name] / stock[name] for name in stock if name in ft]
        if ratios and all(r > 0 for r in ratios):
            return statistics.geometric_mean(ratios)
    return None


def primes_ratio(obs):
    """One thread counting primes: its time on ft over its time on stock, or None."""
    ft, stock = (
        measured(obs, f"scaling.threads_single_s@{v}", "stock", "ft") for v in ("ft", "stock")
    )
    return ft / stock if ft and stock else None
