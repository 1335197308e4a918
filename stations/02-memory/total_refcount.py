"""sys.gettotalrefcount(): the debug build's running sum of every object's refcount."""

import sys

from labkit import observe

COUNT = 10_000

start = sys.gettotalrefcount()
made = [object() for _ in range(COUNT)]
after_make = sys.gettotalrefcount() - start
del made
after_del = sys.gettotalrefcount() - start
print(f"total refcount: +{after_make:,} after making {COUNT:,} objects, {after_del:+,} after del")
observe("count", COUNT)
observe("after_make", after_make)
observe("after_del", after_del)
