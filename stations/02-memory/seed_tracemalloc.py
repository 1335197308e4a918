"""The curriculum's snippet, then what tracemalloc saw it allocate."""

import gc
import sys
import tracemalloc

from labkit import observe

tracemalloc.start()
xs = [object() for _ in range(10_000)]
print(sys.getsizeof(xs), sum(sys.getsizeof(x) for x in xs))
print(gc.get_count(), gc.get_threshold())

current, peak = tracemalloc.get_traced_memory()
top = tracemalloc.take_snapshot().statistics("lineno")[0]
print(f"traced: {current} bytes now, {peak} at peak; top line: {top}")
observe("list_bytes", sys.getsizeof(xs), "B")
observe("objects_bytes", sum(sys.getsizeof(x) for x in xs), "B")
observe("traced_bytes", current, "B")
observe("gc_count", list(gc.get_count()))
observe("gc_threshold", list(gc.get_threshold()))
