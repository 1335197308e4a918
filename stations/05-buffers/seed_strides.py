"""The curriculum's snippet, unchanged, then what it printed as observations."""

import numpy as np
from labkit import observe

a = np.arange(12).reshape(3, 4)
print(a.strides, a.flags["C_CONTIGUOUS"])
b = a.T
print(b.strides, b.flags["C_CONTIGUOUS"])
mv = memoryview(a)
print(mv.format, mv.itemsize, mv.shape, mv.strides)

# The transpose's own buffer, as a memoryview sees it: same memory, strides swapped.
mt = memoryview(b)
print(mt.format, mt.itemsize, mt.shape, mt.strides, "c_contiguous:", mt.c_contiguous)


def flags(x):
    return {f: bool(x.flags[f]) for f in ("C_CONTIGUOUS", "F_CONTIGUOUS", "OWNDATA", "WRITEABLE")}


observe("dtype", str(a.dtype))
observe("a_strides", list(a.strides), "bytes")
observe("t_strides", list(b.strides), "bytes")
observe("a_flags", flags(a))
observe("t_flags", flags(b))
observe("t_c_contiguous", bool(b.flags["C_CONTIGUOUS"]))
# (b.base is not a: NumPy points a view's base at the array that owns the data, here the
# arange that a itself is a view of.)
observe("t_shares_data", bool(np.shares_memory(a, b)) and b.base is not None)
observe("same_data_pointer", a.ctypes.data == b.ctypes.data)
observe(
    "memoryview_a",
    {"format": mv.format, "itemsize": mv.itemsize, "shape": list(mv.shape),
     "strides": list(mv.strides), "c_contiguous": mv.c_contiguous},
)  # fmt: skip
observe(
    "memoryview_t",
    {"format": mt.format, "itemsize": mt.itemsize, "shape": list(mt.shape),
     "strides": list(mt.strides), "c_contiguous": mt.c_contiguous},
)  # fmt: skip
