"""One buffer, many objects: bytes, bytearray, array.array and ndarray, no copies.

The buffer protocol (PEP 3118) has two sides. bytes, bytearray, array.array and ndarray
*export* a buffer; memoryview, np.frombuffer and np.asarray *consume* one, keeping the
exporter's memory instead of copying it. Each owner's data address is read from the owner
itself (ctypes, buffer_info) and from every view (ctypes.data); a write through one object is
then read back through the others. (torch.Tensor's side is tensor_buffer.py, in the torch
image.)
"""

import array
import ctypes

import numpy as np
from labkit import observe


def address_of_bytes(b: bytes) -> int:
    return ctypes.cast(ctypes.c_char_p(b), ctypes.c_void_p).value  # bytes' own storage


def address_of_writable(buffer) -> int:
    return ctypes.addressof((ctypes.c_char * memoryview(buffer).nbytes).from_buffer(buffer))


same_address: dict[str, bool] = {}
writes_seen: dict[str, bool] = {}

# -- a bytearray, seen through memoryview and NumPy ----------------------------------------
ba = bytearray(range(16))
as_memoryview, as_ndarray = memoryview(ba), np.frombuffer(ba, dtype=np.uint8)
owner_at = address_of_writable(ba)
same_address["bytearray -> memoryview"] = address_of_writable(as_memoryview) == owner_at
same_address["bytearray -> ndarray"] = as_ndarray.ctypes.data == owner_at
ba[0] = 100
writes_seen["bytearray[0] = 100"] = as_memoryview[0] == as_ndarray[0] == 100
as_ndarray[1] = 101
writes_seen["ndarray[1] = 101"] = ba[1] == as_memoryview[1] == 101
as_memoryview[2] = 102
writes_seen["memoryview[2] = 102"] = ba[2] == as_ndarray[2] == 102
try:  # the exporter is pinned while views exist: the protocol's lock
    ba.append(0)
    resize = "resized"
except BufferError as error:
    resize = f"BufferError: {error}"
print(f"bytearray at {owner_at:#x}; views: {same_address}; bytearray.append -> {resize}")

# -- an array.array of doubles, seen through NumPy, and NumPy's view of NumPy ---------------
arr = array.array("d", [0.0] * 8)
doubles = np.frombuffer(arr, dtype=np.float64)
owner_at = arr.buffer_info()[0]
same_address["array.array -> ndarray"] = doubles.ctypes.data == owner_at
same_address["ndarray -> np.asarray(ndarray)"] = np.asarray(doubles).ctypes.data == owner_at
arr[0] = 1.5
writes_seen["array.array[0] = 1.5"] = doubles[0] == 1.5
doubles[1] = 2.5
writes_seen["ndarray[1] = 2.5"] = arr[1] == 2.5
print(f"array.array at {owner_at:#x}: {arr.tolist()[:4]} = {doubles[:4].tolist()}")
shares = {
    "bytearray's memoryview, its ndarray": bool(
        np.shares_memory(np.asarray(as_memoryview), as_ndarray)
    ),
    "array.array's ndarray, np.asarray(array.array)": bool(
        np.shares_memory(doubles, np.asarray(arr))
    ),
}

# -- bytes: shared too, but read-only ------------------------------------------------------
b = bytes(range(16))
ro_ndarray = np.frombuffer(b, dtype=np.uint8)
owner_at = address_of_bytes(b)
same_address["bytes -> ndarray"] = ro_ndarray.ctypes.data == owner_at
same_address["bytes -> memoryview"] = np.asarray(memoryview(b)).ctypes.data == owner_at
try:
    ro_ndarray[0] = 1
    bytes_write = "written"
except ValueError as error:
    bytes_write = f"ValueError: {error}"
print(f"bytes at {owner_at:#x}: ndarray writeable={ro_ndarray.flags.writeable}; {bytes_write}")

# -- the constructors copy: the protocol shares only when asked to -------------------------
copies = {
    "bytes(bytearray)": address_of_bytes(bytes(ba)) == address_of_writable(ba),
    "bytearray(bytes)": address_of_writable(bytearray(b)) == address_of_bytes(b),
    "array.array('B', bytearray)": array.array("B", ba).buffer_info()[0] == address_of_writable(ba),
    "np.array(array.array)": bool(np.shares_memory(np.array(arr), doubles)),
}
for name, shared in copies.items():
    print(f"  {name:<30} {'shares' if shared else 'copies'}")

observe("same_address", {k: bool(v) for k, v in same_address.items()})
observe("writes_seen", {k: bool(v) for k, v in writes_seen.items()})
observe("np_shares_memory", shares)
observe("copies", {name: not shared for name, shared in copies.items()})  # shown, not checked
observe("bytes_view_writeable", bool(ro_ndarray.flags.writeable))
observe("bytes_write", bytes_write)
observe("resize_while_exported", resize)
