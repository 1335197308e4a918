"""Refcounting frees at the last `del`; a reference cycle survives until gc.collect()."""

import gc
import sys
import weakref

from labkit import observe


class Node:
    other = None


gc.disable()  # so nothing but refcounting acts until we call the collector ourselves

lone = Node()
probe = weakref.ref(lone)
print(f"refcount of lone object: {sys.getrefcount(lone) - 1} (getrefcount adds its own)")
del lone
freed_by_del = probe() is None
print(f"after del: freed = {freed_by_del}")

a, b = Node(), Node()
a.other, b.other = b, a  # each keeps the other's count above zero
probe_a = weakref.ref(a)
del a, b
cycle_alive = probe_a() is not None
print(f"cycle after del: still alive = {cycle_alive}, gc counts {gc.get_count()}")
collected = gc.collect()
print(f"gc.collect() found {collected} unreachable objects; cycle freed = {probe_a() is None}")

observe("freed_by_del", freed_by_del)
observe("cycle_alive_after_del", cycle_alive)
observe("collected", collected)
observe("cycle_freed_by_collect", probe_a() is None)
