"""LOAD_FAST against LOAD_GLOBAL: the same loop reading a local or a global, timed."""

import dis
import timeit

from labkit import observe

READS = 20  # reads per loop turn, so the loads dominate the loop's own cost
LOOPS = 200_000


def make_reader(name: str):
    """A loop doing READS bare reads of NAME per turn: `local` is a local, `value` a global."""
    body = "; ".join([name] * READS)
    source = f"def reader():\n    local = value\n    for _ in range({LOOPS}):\n        {body}\n"
    namespace = {"value": 1}
    exec(source, namespace)
    return namespace["reader"]


def best_of_each(*functions, rounds=7) -> list[float]:
    """Each function's best time, timed in turns: a slow spell on the host hits both."""
    for function in functions:
        function()  # warm up: let the specializing interpreter settle first
    timings = [[] for _ in functions]
    for _ in range(rounds):
        for function, times in zip(functions, timings, strict=True):
            times.append(timeit.timeit(function, number=1))
    return [min(times) for times in timings]


read_local, read_global = make_reader("local"), make_reader("value")
local_s, global_s = best_of_each(read_local, read_global)
per_read = LOOPS * READS
print(f"local  read: {local_s / per_read * 1e9:6.2f} ns")
print(f"global read: {global_s / per_read * 1e9:6.2f} ns")
print(f"global / local: {global_s / local_s:.2f}x")

loads = {i.opname for i in dis.get_instructions(read_global, adaptive=True)}
observe("local_ns", local_s / per_read * 1e9, "ns")
observe("global_ns", global_s / per_read * 1e9, "ns")
observe("global_over_local", global_s / local_s, "x")
observe("global_instruction", sorted(op for op in loads if op.startswith("LOAD_GLOBAL")))
