"""Station 3's figures, drawn on the host from the run's observations (lab/run/figures.py).
The scaling plot is drawn in the container (plot.py) and shown as the file it saved."""

from matplotlib.figure import Figure

HOWTO_TAX = 1.4  # the 3.13 free-threading HOWTO's "about 40% on the pyperformance suite"


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
