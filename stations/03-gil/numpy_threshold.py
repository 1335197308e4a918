"""NumPy keeps the GIL for small arrays: its ufunc loops let go of it only past a size.

NPY_BEGIN_THREADS_THRESHOLDED (numpy/_core/include/numpy/ndarraytypes.h) releases the GIL
only when a loop has more than 500 elements. The same work, cut into blocks of SMALL or
of LARGE elements, is run by 1 and by C threads, in turns: the large blocks' threads run
side by side, the small blocks' take turns. The process pool's speedup on the same work,
measured in the same rounds, is the yardstick for what the host gives.
"""

from __future__ import annotations

import os
import re
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from functools import partial
from pathlib import Path

import numpy as np
from labkit import observe, quick
from labkit.compare import alternating

SMALL, LARGE = 256, 16_384  # below and well above NumPy's 500
ELEMENTS = 8_388_608 if quick() else 33_554_432  # ~0.1 s and ~0.4 s on one core
HEADER = Path("/usr/src/packages/numpy/numpy/_core/include/numpy/ndarraytypes.h")
ROUNDS = 5
WAIT = 120


def threshold() -> int | None:
    """The element count past which NumPy's loops release the GIL, read from its source."""
    match = re.search(r"THRESHOLDED\(loop_size\) do \{ if \(\(loop_size\) > (\d+)\)",
                      HEADER.read_text() if HEADER.is_file() else "")  # fmt: skip
    return int(match.group(1)) if match else None


def crunch(block: int, share: int) -> float:
    """SHARE elements' worth of sin, square and sqrt, BLOCK elements per ufunc call."""
    data = np.linspace(0.0, 100.0, block)
    out = np.empty(block)
    for _ in range(share // block):
        np.sin(data, out=out)
        np.multiply(out, out, out=out)
        np.sqrt(out, out=out)
    return time.thread_time()


def run(pool, block: int, workers: int) -> float:
    started = time.perf_counter()
    list(pool.map(partial(crunch, block), [ELEMENTS // workers] * workers, timeout=WAIT))
    return time.perf_counter() - started


def main() -> None:
    cores = len(os.sched_getaffinity(0))
    with ThreadPoolExecutor(cores) as threads, ProcessPoolExecutor(cores) as processes:
        list(processes.map(abs, range(cores), timeout=WAIT))  # started before the clock
        contenders = {
            (kind, block, workers): partial(run, pool, block, workers)
            for kind, pool in (("threads", threads), ("processes", processes))
            for block in (SMALL, LARGE)
            for workers in sorted({1, cores})
        }
        runs = alternating(contenders, ROUNDS)
    best = {key: min(times) for key, times in runs.items()}
    speedups = {
        f"{kind}, {block}-element blocks": best[(kind, block, 1)] / best[(kind, block, cores)]
        for kind in ("threads", "processes")
        for block in (SMALL, LARGE)
    }
    for name, speedup in speedups.items():
        print(f"  {name:<34} {speedup:5.2f}x at {cores} workers")
    observe("threshold_elements", threshold())
    observe("blocks", [SMALL, LARGE])
    observe("cores", cores)
    observe("speedups", speedups, f"x at {cores} workers")


if __name__ == "__main__":
    main()
