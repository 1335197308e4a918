"""Station 1's figures, drawn on the host from the run's observations (lab/run/figures.py).
The class_figure_* draw the class page's, across the class's runs (lab/classroom/class_figures.py).
"""

from matplotlib.figure import Figure

from lab.classroom.class_figures import each, measured, paired_bars


def figure_global_against_local(obs):
    """A global read against a local one, beside the local read timed against itself
    The A/A bar is what noise alone makes of no difference: a ratio only counts above it."""
    ratios = obs.by_variant("load_fast_vs_global.global_over_local")
    noise = obs.by_variant("load_fast_vs_global.local_over_itself")
    variants = [v for v in ("stock", "ft") if v in ratios and v in noise]
    if not variants:
        return None
    figure = Figure(figsize=(6.4, 3.2))
    axes = figure.subplots()
    width = 0.38
    for offset, (label, values, colour) in enumerate(
        [("global / local", ratios, "#1f77b4"), ("local / itself (A/A)", noise, "#9aa5ae")]
    ):
        xs = [i + (offset - 0.5) * width for i in range(len(variants))]
        bars = axes.bar(xs, [values[v] for v in variants], width, label=label, color=colour)
        axes.bar_label(bars, fmt="%.2fx", fontsize=8)
    axes.axhline(1, color="black", linewidth=0.8)
    axes.set_xticks(range(len(variants)), [f"lab-cpython:{v}" for v in variants])
    axes.set_ylabel("time ratio")
    axes.legend(frameon=False, fontsize=8)
    axes.spines[["top", "right"]].set_visible(False)
    return figure


def class_figure_global_over_local(runs):
    """a global's read over a local's"""
    key = "load_fast_vs_global.global_over_local"
    points = each(runs, lambda obs: tuple(measured(obs, f"{key}@{v}", v) for v in ("stock", "ft")))
    return paired_bars(points, ("stock", "3.13t"), "global / local")
