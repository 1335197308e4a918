"""LOAD_FAST against LOAD_GLOBAL: the same loop reading a local or a global, timed.

An empty loop is timed beside them, so what is compared is the reads alone, not the loop
they sit in. The noise is measured in the same run: the local reader is timed twice, as
if it were two contenders (an A/A test), and how far apart its two timings come out is
the margin the global read has to beat.
"""

import dis
import statistics
import timeit
from functools import partial

from labkit import observe
from labkit.compare import alternating

READS = 20  # reads per loop turn, so the loads dominate the loop's own cost
LOOPS = 40_000
BEST_OF = 3  # a turn is the best of 3 short runs: a burst of load elsewhere spoils one of them
ROUNDS = 25


def make_reader(name: str):
    """A loop doing READS bare reads of NAME per turn (`local` a local, `value` a global);
    with no NAME, the same loop doing nothing."""
    body = "; ".join([name] * READS) if name else "pass"
    source = f"def reader():\n    local = value\n    for _ in range({LOOPS}):\n        {body}\n"
    namespace = {"value": 1}
    exec(source, namespace)
    return namespace["reader"]


def best_run(reader) -> float:
    return min(timeit.repeat(reader, number=1, repeat=BEST_OF))


def median_ratio(runs: dict, slow: str, fast: str) -> float:
    """The median over the rounds of SLOW's reads over FAST's, the empty loop taken off."""
    net = {
        name: [t - empty for t, empty in zip(runs[name], runs["empty"], strict=True)]
        for name in (slow, fast)
    }
    return statistics.median(s / f for s, f in zip(net[slow], net[fast], strict=True) if f > 0)


# Each warmed up first (the specializing interpreter settles), then timed in turns.
readers = {
    "empty": make_reader(""),
    "local": make_reader("local"),
    "local again": make_reader("local"),
    "global": make_reader("value"),
}
runs = alternating({name: partial(best_run, r) for name, r in readers.items()}, ROUNDS)
per_read = LOOPS * READS
ns = {
    name: statistics.median(t - e for t, e in zip(runs[name], runs["empty"], strict=True))
    / per_read
    * 1e9
    for name in ("local", "global")
}
ratio = median_ratio(runs, "global", "local")
same = median_ratio(runs, "local again", "local")
print(f"local  read: {ns['local']:6.2f} ns (median of {ROUNDS} rounds, empty loop taken off)")
print(f"global read: {ns['global']:6.2f} ns")
print(f"global / local: {ratio:.3f}x; the local reader against itself: {same:.3f}x (the noise)")

loads = {i.opname for i in dis.get_instructions(readers["global"], adaptive=True)}
observe("local_ns", ns["local"], "ns")
observe("global_ns", ns["global"], "ns")
observe("global_over_local", ratio, "x (median of the rounds)")
observe("local_over_itself", same, "x (A/A: the noise)")
observe("global_instruction", sorted(op for op in loads if op.startswith("LOAD_GLOBAL")))
