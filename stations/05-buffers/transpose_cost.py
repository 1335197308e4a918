"""A transpose against a copy, for growing n x n arrays: one is O(1), the other O(n^2)."""

import timeit

import numpy as np
from labkit import observe, quick

SIZES = [128, 256, 512, 1024] if quick() else [256, 512, 1024, 2048, 4096]


def best(statement, number):
    """Best per-call time of STATEMENT, in seconds (the least disturbed of 5 repeats)."""
    return min(timeit.repeat(statement, number=number, repeat=5)) / number


rows = []
for n in SIZES:
    a = np.ones((n, n))
    transpose_s = best(lambda a=a: a.T, 20_000)
    copy_s = best(lambda a=a: a.T.copy(), max(1, 2_000_000 // (n * n)))
    t = a.T
    moved = t.ctypes.data != a.ctypes.data or not np.shares_memory(a, t)
    rows.append({"n": n, "transpose_ns": transpose_s * 1e9, "copy_us": copy_s * 1e6,
                 "bytes": a.nbytes, "transpose_moved_data": moved})  # fmt: skip
    print(f"n={n:>5} ({a.nbytes / 2**20:8.1f} MiB): a.T {transpose_s * 1e9:7.1f} ns"
          f"   a.T.copy() {copy_s * 1e6:12.1f} us")  # fmt: skip

first, last = rows[0], rows[-1]
elements = (last["n"] / first["n"]) ** 2
observe("sizes", [r["n"] for r in rows])
observe("transpose_ns", [round(r["transpose_ns"], 1) for r in rows], "ns")
observe("copy_us", [round(r["copy_us"], 1) for r in rows], "us")
observe("element_growth", elements, "x")
observe("transpose_growth", last["transpose_ns"] / first["transpose_ns"], "x")
observe("copy_growth", last["copy_us"] / first["copy_us"], "x")
observe("transpose_moved_data", any(r["transpose_moved_data"] for r in rows))
