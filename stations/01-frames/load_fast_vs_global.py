"""LOAD_FAST against LOAD_GLOBAL: the same loop reading a local or a global, timed."""

import dis
import timeit
from functools import partial

from labkit import observe
from labkit.compare import alternating

READS = 20  # reads per loop turn, so the loads dominate the loop's own cost
LOOPS = 200_000
ROUNDS = 7


def make_reader(name: str):
    """A loop doing READS bare reads of NAME per turn: `local` is a local, `value` a global."""
    body = "; ".join([name] * READS)
    source = f"def reader():\n    local = value\n    for _ in range({LOOPS}):\n        {body}\n"
    namespace = {"value": 1}
    exec(source, namespace)
    return namespace["reader"]


# Timed in turns, each warmed up first (the specializing interpreter settles): a slow
# spell on the host hits both readers alike.
readers = {"local": make_reader("local"), "global": make_reader("value")}
one_run = {name: partial(timeit.timeit, reader, number=1) for name, reader in readers.items()}
runs = alternating(one_run, ROUNDS)
local_s, global_s = min(runs["local"]), min(runs["global"])
per_read = LOOPS * READS
print(f"local  read: {local_s / per_read * 1e9:6.2f} ns")
print(f"global read: {global_s / per_read * 1e9:6.2f} ns")
print(f"global / local: {global_s / local_s:.2f}x")

loads = {i.opname for i in dis.get_instructions(readers["global"], adaptive=True)}
observe("local_ns", local_s / per_read * 1e9, "ns")
observe("global_ns", global_s / per_read * 1e9, "ns")
observe("global_over_local", global_s / local_s, "x")
observe("global_instruction", sorted(op for op in loads if op.startswith("LOAD_GLOBAL")))
