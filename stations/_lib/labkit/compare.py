"""A/B timing on a shared machine: alternate the contenders, so neighbours hit both alike."""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any


def alternating(
    contenders: dict[Hashable, Callable[[], Any]], repeats: int, *, warm_up: bool = True
) -> dict[Hashable, list]:
    """Each contender's REPEATS measurements, taken in turns (after one warm-up each, unless
    the caller has already run them)."""
    if warm_up:
        for measure in contenders.values():
            measure()  # imports, caches, first connections
    runs: dict[Hashable, list] = {name: [] for name in contenders}
    for _ in range(repeats):
        for name, measure in contenders.items():
            runs[name].append(measure())
    return runs
