"""A/B timing on a shared machine: alternate the contenders, so neighbours hit both alike."""

from __future__ import annotations

from collections.abc import Callable


def alternating(contenders: dict[str, Callable[[], float]], repeats: int) -> dict[str, list]:
    """Each contender's REPEATS measurements, taken in turns (after one warm-up each)."""
    for measure in contenders.values():
        measure()  # warm-up: imports, caches, first connections
    runs: dict[str, list] = {name: [] for name in contenders}
    for _ in range(repeats):
        for name, measure in contenders.items():
            runs[name].append(measure())
    return runs
