"""Station 6's figures, drawn on the host from the run's observations (lab/run/figures.py)."""

from matplotlib.figure import Figure

# The simulation's systems, in the order the paper shows them: (label, the paper's name).
SYSTEMS = {
    "reserve_max": ("reserve the\nmax length", "Orca (Max)"),
    "reserve_pow2": ("reserve a\npower of 2", "Orca (Pow2)"),
    "reserve_oracle": ("reserve the\nexact length", "Orca (Oracle)"),
    "paged": ("paged\n(V1 admission)", "vLLM"),
    "paged_watermark": ("paged, V0's\n1% watermark", None),
}


def per_system(obs, figure_name: str) -> dict[str, list[float]]:
    """Each system's FIGURE_NAME over every simulated run of the sweep."""
    runs = obs["paged_attention.runs"]
    return {
        system: [run["systems"][system][figure_name] for run in runs if system in run["systems"]]
        for system in SYSTEMS
    }


def dots(axes, values: dict[str, list[float]], colour: str) -> None:
    """One dot per simulated run (spread and seed), jittered a little across its column."""
    for column, system in enumerate(SYSTEMS):
        found = values[system]
        xs = [column + (i / max(len(found) - 1, 1) - 0.5) * 0.3 for i in range(len(found))]
        axes.scatter(xs, found, s=14, color=colour, alpha=0.8, zorder=3)
    axes.set_xticks(range(len(SYSTEMS)), [label for label, _ in SYSTEMS.values()])
    axes.tick_params(axis="x", labelsize=8)
    axes.spines[["top", "right"]].set_visible(False)


def figure_kv_cache_waste(obs):
    """KV cache wasted, by how it is allocated (simulated: one dot per spread and seed)
    The crosses are the paper's Fig. 2, measured in the authors' own systems; the dots are
    this lab's simulation, so only the order of the systems is compared, not the numbers."""
    wasted = per_system(obs, "wasted_percent")
    paper = obs["paged_attention.paper_wasted_percent"]
    figure = Figure(figsize=(7, 3.4))
    axes = figure.subplots()
    dots(axes, wasted, "#1f77b4")
    for column, (_, name) in enumerate(SYSTEMS.values()):
        if name in paper:
            axes.scatter([column], [paper[name]], marker="x", s=60, color="#d62728", zorder=4)
    axes.scatter([], [], s=14, color="#1f77b4", label="simulated run")
    axes.scatter([], [], marker="x", color="#d62728", label="the paper's Fig. 2")
    axes.set_ylabel("% of the KV cache wasted")
    axes.set_ylim(0, 100)
    axes.legend(frameon=False, fontsize=8)
    return figure


def figure_sequences_at_once(obs):
    """Sequences in the batch at once, by how the KV cache is allocated (simulated)
    What the waste costs: the same cache holds more sequences when little of it is wasted."""
    at_once = per_system(obs, "sequences_at_once")
    figure = Figure(figsize=(7, 3.2))
    axes = figure.subplots()
    dots(axes, at_once, "#2ca02c")
    axes.set_ylabel("sequences at once (mean)")
    axes.set_ylim(bottom=0)
    return figure
