"""NumPy keeps the GIL for small arrays: its ufunc loops let go of it only past a size.

NPY_BEGIN_THREADS_THRESHOLDED (numpy/_core/include/numpy/ndarraytypes.h) releases the GIL
only when a loop has more than 500 elements (ufunc_object.c calls it with the loop's
element count). The same work, np.sin over blocks of UNDER (400) or OVER (640) elements,
is run by 1 and by 2 threads, in turns: 2 threads on 640-element blocks run side by side,
on 400-element blocks they take turns. The two sizes differ by 1.6x, and the call's own
cost (dispatch, held under the GIL either way) is a small share of both: what changes
between them is the threshold. Blocks of FAR elements show what is left to gain past it:
each call still lets go of the GIL and takes it back, and a thread woken to take it can
take microseconds to run.
The process pool's speedup on the OVER blocks, measured in the same rounds, is the
yardstick for what the host gives; the UNDER blocks' one thread, timed twice, is an A/A
test: the noise the checks judge the contrast against.
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

UNDER, OVER, FAR = 400, 640, 16_384  # just under, just over and far past NumPy's 500
WORKERS = 2  # a contrast, not a scaling curve: more threads would queue for the GIL handoffs
ELEMENTS = 8_388_608 if quick() else 33_554_432  # ~0.1 s and ~0.35 s of np.sin on one core
HEADER = Path("/usr/src/packages/numpy/numpy/_core/include/numpy/ndarraytypes.h")
ROUNDS = 7
AGAIN = "1 again"  # the A/A contender: one thread on UNDER blocks, timed a second time
WAIT = 120


def threshold() -> int | None:
    """The element count past which NumPy's loops release the GIL, read from its source."""
    match = re.search(r"THRESHOLDED\(loop_size\) do \{ if \(\(loop_size\) > (\d+)\)",
                      HEADER.read_text() if HEADER.is_file() else "")  # fmt: skip
    return int(match.group(1)) if match else None


def crunch(block: int, share: int) -> None:
    """SHARE elements' worth of np.sin, BLOCK elements per call. Sine is one of the dearest
    loops per element (~10 ns), so at 400 elements the call's dispatch is about a tenth."""
    data = np.linspace(0.0, 100.0, block)
    out = np.empty(block)
    for _ in range(share // block):
        np.sin(data, out=out)


def run(pool, block: int, workers: int) -> float:
    started = time.perf_counter()
    list(pool.map(partial(crunch, block), [ELEMENTS // workers] * workers, timeout=WAIT))
    return time.perf_counter() - started


def dispatch_us() -> float:
    """Microseconds one np.sin call costs on a 1-element array: the call itself, no loop."""
    data, out = np.zeros(1), np.empty(1)
    calls = 100_000
    best = float("inf")
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(calls):
            np.sin(data, out=out)
        best = min(best, (time.perf_counter() - started) / calls * 1e6)
    return best


def measure() -> dict:
    """Each contender's best time: (kind, block, workers), and the A/A one."""
    with ThreadPoolExecutor(WORKERS) as threads, ProcessPoolExecutor(WORKERS) as processes:
        list(processes.map(abs, range(WORKERS), timeout=WAIT))  # started before the clock
        contenders = {
            ("threads", block, workers): partial(run, threads, block, workers)
            for block in (UNDER, OVER, FAR)
            for workers in (1, WORKERS)
        }
        contenders[("threads", UNDER, AGAIN)] = partial(run, threads, UNDER, 1)
        for workers in (1, WORKERS):
            contenders[("processes", OVER, workers)] = partial(run, processes, OVER, workers)
        runs = alternating(contenders, ROUNDS)
    return {key: min(times) for key, times in runs.items()}


def main() -> None:
    best = measure()
    speedups = {
        f"{kind}, {block}-element blocks": best[(kind, block, 1)] / best[(kind, block, WORKERS)]
        for kind, block, workers in best
        if workers == 1
    }
    for name, speedup in speedups.items():
        print(f"  {name:<34} {speedup:5.2f}x at {WORKERS} threads or processes")
    per_call = {str(b): best[("threads", b, 1)] / (ELEMENTS // b) * 1e6 for b in (UNDER, OVER)}
    dispatch = dispatch_us()
    for block, took in per_call.items():
        print(f"  one call on {block:>3} elements: {took:.2f} us, {dispatch / took:.0%} dispatch")
    same = best[("threads", UNDER, AGAIN)] / best[("threads", UNDER, 1)]
    print(f"  A/A: one thread on {UNDER}-element blocks against itself {same:.3f}x")
    observe("threshold_elements", threshold())
    observe("blocks", [UNDER, OVER, FAR])
    observe("workers", WORKERS)
    observe("cores", len(os.sched_getaffinity(0)))  # under 2, nothing runs side by side
    observe("speedups", speedups, f"x at {WORKERS} workers")
    observe("same", same, "x, one thread's time against itself (A/A)")
    observe("per_call_us", per_call, "us per np.sin call, one thread")
    observe("dispatch_us", dispatch, "us per np.sin call on 1 element")


if __name__ == "__main__":
    main()
