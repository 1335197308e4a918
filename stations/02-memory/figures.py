"""Station 2's figures, drawn on the host from the run's observations (lab/run/figures.py)."""

from matplotlib.figure import Figure

PHASES = ("before", "during", "after")


def figure_arenas_grow_and_shrink(obs):
    """pymalloc's arenas before, during and after a burst of 200,000 small tuples
    An arena (1 MiB on 64-bit, pycore_obmalloc.h) goes back to the OS once all its pools are
    free; the high-water mark remembers the peak."""
    stats = {phase: obs[f"pymalloc_stats.{phase}@stock"] for phase in PHASES}
    figure = Figure(figsize=(6.4, 3))
    axes = figure.subplots()
    current = [stats[p]["arenas_allocated_current"] for p in PHASES]
    highwater = [stats[p]["arenas_highwater"] for p in PHASES]
    bars = axes.bar(PHASES, current, color="#1f77b4", label="arenas allocated now")
    axes.bar_label(bars, fontsize=8)
    axes.plot(PHASES, highwater, "o--", color="#d62728", label="high-water mark")
    axes.set_ylabel("arenas (1 MiB each)")
    axes.legend(frameon=False, fontsize=8)
    axes.spines[["top", "right"]].set_visible(False)
    return figure


def figure_blocks_land_in_size_classes(obs):
    """The size classes the burst's blocks landed in
    Each bar is a size class whose blocks in use grew by the burst; its label is the object
    whose sys.getsizeof, rounded up to pymalloc's alignment, computes that class."""
    grew = {int(size): n for size, n in obs["pymalloc_stats.classes_that_grew@stock"].items()}
    expected = obs["pymalloc_stats.expected_classes@stock"]
    if not grew:
        return None
    figure = Figure(figsize=(6.4, 3))
    axes = figure.subplots()
    sizes = sorted(grew)
    bars = axes.bar([f"{s} B" for s in sizes], [grew[s] for s in sizes], color="#2ca02c")
    names = {size: name for name, size in expected.items()}
    axes.bar_label(bars, labels=[names.get(s, "not computed") for s in sizes], fontsize=8)
    axes.set_xlabel("size class (block size)")
    axes.set_ylabel("blocks in use, grown by")
    axes.spines[["top", "right"]].set_visible(False)
    return figure
