"""The scaling figure: speedup against workers, a line per mode, beside the ideal line.

Reads what scaling.py saved for each variant (scaling-stock.json, scaling-ft.json) and
saves scaling.png in the run's results folder.
"""

from __future__ import annotations

import json

import matplotlib

matplotlib.use("Agg")  # no screen in the container
import matplotlib.pyplot as plt
from labkit import observe, output_dir

LABELS = {
    ("stock", "threads"): "threads, stock (GIL)",
    ("stock", "processes"): "processes, stock",
    ("stock", "subinterpreters"): "subinterpreters, stock (a GIL each)",
    ("stock", "numpy_threads"): "NumPy threads, stock (sin, multiply, sqrt: not primes)",
    ("ft", "threads"): "threads, 3.13t (no GIL)",
    ("ft", "threads_gil"): "threads, 3.13t with PYTHON_GIL=1",
    ("ft", "processes"): "processes, 3.13t",
}


def load_runs() -> dict[str, dict]:
    runs = {}
    for saved in sorted(output_dir().glob("scaling-*.json")):
        run = json.loads(saved.read_text())
        runs[run["variant"]] = run
    return runs


def speedups(seconds: dict[str, float]) -> dict[int, float]:
    return {int(w): seconds["1"] / s for w, s in seconds.items()}


def print_table(runs: dict[str, dict]) -> None:
    counts = sorted({int(w) for run in runs.values() for m in run["modes"].values() for w in m})
    print(f"{'speedup at N workers':<36}" + "".join(f"{n:>7}" for n in counts))
    for variant, run in runs.items():
        for mode, seconds in run["modes"].items():
            row = speedups(seconds)
            cells = "".join(f"{row[n]:>6.2f}x" if n in row else f"{'-':>7}" for n in counts)
            print(f"{LABELS.get((variant, mode), mode):<36}{cells}")


def print_against_stock(runs: dict[str, dict]) -> None:
    """Each mode's time against stock's one thread: ft's slower thread flatters its own curve."""
    if "stock" not in runs:
        return
    base = runs["stock"]["modes"]["threads"]["1"]
    counts = sorted({int(w) for run in runs.values() for m in run["modes"].values() for w in m})
    print(f"\n{'against stock, 1 thread':<36}" + "".join(f"{n:>7}" for n in counts))
    for variant, run in runs.items():
        for mode, seconds in run["modes"].items():
            cells = "".join(
                f"{base / seconds[str(n)]:>6.2f}x" if str(n) in seconds else f"{'-':>7}"
                for n in counts
            )
            print(f"{LABELS.get((variant, mode), mode):<36}{cells}")


def draw(runs: dict[str, dict]) -> str:
    figure, axes = plt.subplots(figsize=(7, 4.5))
    cores = max(run["cores"] for run in runs.values())
    counts = sorted({int(w) for run in runs.values() for m in run["modes"].values() for w in m})
    ideal = [min(n, cores) for n in counts]  # past the cores, more workers only take turns
    axes.plot(counts, ideal, "k:", label=f"ideal on {cores} cores")
    axes.axvline(cores, color="grey", linewidth=0.8)
    axes.annotate(f"{cores} cores", (cores, 0.3), color="grey")
    for variant, run in runs.items():
        for mode, seconds in run["modes"].items():
            row = speedups(seconds)
            axes.plot(list(row), list(row.values()), "o-", label=LABELS.get((variant, mode), mode))
    axes.set(xlabel="workers", ylabel="speedup over 1 worker", ylim=(0, cores + 0.5))
    axes.set_xticks(counts)
    axes.set_title("In parallel, CPython 3.13: counting primes (NumPy: ufuncs over 8M doubles)")
    axes.legend(fontsize="small")
    figure.tight_layout()
    path = output_dir() / "scaling.png"
    figure.savefig(path, dpi=110)
    return path.name


def main() -> None:
    runs = load_runs()
    if not runs:
        raise SystemExit("no scaling-*.json here: scaling.py saves them; run it first")
    print_table(runs)
    print_against_stock(runs)
    observe("plot", draw(runs))  # the file's name in the report folder
    if {"stock", "ft"} <= runs.keys():
        stock_s, ft_s = (runs[v]["modes"]["threads"]["1"] for v in ("stock", "ft"))
        observe("ft_single_thread_cost", ft_s / stock_s, "x stock's time, 1 thread")


if __name__ == "__main__":
    main()
