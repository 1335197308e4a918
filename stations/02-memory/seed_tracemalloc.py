"""The curriculum's snippet, then what tracemalloc saw it allocate.

Both count the same bytes: sys.getsizeof adds the PyGC_Head in front of a GC object
(_PyType_PreHeaderSize), and tracemalloc traces the whole allocation, PyGC_Head
included. What tracemalloc can miss is memory allocated before it started: CPython
keeps a free list of list objects, so `xs` may reuse one and only its item array is new.
tracemalloc.get_object_traceback(xs) tells which happened.
"""

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
list_traced = tracemalloc.get_object_traceback(xs) is not None
print(f"traced: {current} bytes now, {peak} at peak; top line: {top}")
print(f"the list object itself allocated after tracemalloc started: {list_traced}")
observe("list_bytes", sys.getsizeof(xs), "B")
observe("list_object_bytes", sys.getsizeof([]), "B")  # the list without its item array
observe("list_object_traced", list_traced)
observe("objects_bytes", sum(sys.getsizeof(x) for x in xs), "B")
observe("traced_bytes", current, "B")
observe("gc_count", list(gc.get_count()))
observe("gc_threshold", list(gc.get_threshold()))
