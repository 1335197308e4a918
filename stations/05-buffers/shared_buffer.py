"""One buffer, many objects: bytes, bytearray, array.array, ndarray and Tensor, no copies.

(And DLPack, the other road between NumPy and torch: it carries strides, and it is the
only one on which a Tensor can be the one handing its memory out.)

The buffer protocol (PEP 3118) has two sides. bytes, bytearray, array.array and ndarray
*export* a buffer; memoryview, np.frombuffer, np.asarray and torch.frombuffer *consume*
one, keeping the exporter's memory instead of copying it. Each owner's data address is
read from the owner itself (ctypes, buffer_info) and from every view (ctypes.data,
data_ptr); a write through one object is then read back through the others.
"""

import array
import ctypes
import warnings

import numpy as np
import torch
from labkit import observe


def address_of_bytes(b: bytes) -> int:
    return ctypes.cast(ctypes.c_char_p(b), ctypes.c_void_p).value  # bytes' own storage


def address_of_writable(buffer) -> int:
    return ctypes.addressof((ctypes.c_char * memoryview(buffer).nbytes).from_buffer(buffer))


same_address: dict[str, bool] = {}
writes_seen: dict[str, bool] = {}

# -- a bytearray, seen through memoryview, NumPy and torch ---------------------------------
ba = bytearray(range(16))
views = {
    "memoryview": memoryview(ba),
    "ndarray": np.frombuffer(ba, dtype=np.uint8),
    "Tensor": torch.frombuffer(ba, dtype=torch.uint8),
}
owner_at = address_of_writable(ba)
same_address["bytearray -> memoryview"] = address_of_writable(views["memoryview"]) == owner_at
same_address["bytearray -> ndarray"] = views["ndarray"].ctypes.data == owner_at
same_address["bytearray -> Tensor"] = views["Tensor"].data_ptr() == owner_at
ba[0] = 100
writes_seen["bytearray[0] = 100"] = (
    views["memoryview"][0] == views["ndarray"][0] == int(views["Tensor"][0]) == 100
)
views["ndarray"][1] = 101
writes_seen["ndarray[1] = 101"] = ba[1] == int(views["Tensor"][1]) == views["memoryview"][1] == 101
views["Tensor"][2] = 102
writes_seen["Tensor[2] = 102"] = ba[2] == views["ndarray"][2] == views["memoryview"][2] == 102
views["memoryview"][3] = 103
writes_seen["memoryview[3] = 103"] = ba[3] == views["ndarray"][3] == int(views["Tensor"][3]) == 103
try:  # the exporter is pinned while views exist: the protocol's lock
    ba.append(0)
    resize = "resized"
except BufferError as error:
    resize = f"BufferError: {error}"
print(f"bytearray at {owner_at:#x}; views: {same_address}; bytearray.append -> {resize}")

# -- an array.array of doubles, seen through NumPy and torch ------------------------------
arr = array.array("d", [0.0] * 8)
as_ndarray = np.frombuffer(arr, dtype=np.float64)
as_tensor = torch.frombuffer(arr, dtype=torch.float64)
from_ndarray = torch.from_numpy(as_ndarray)  # NumPy -> torch: the ndarray's pointer
owner_at = arr.buffer_info()[0]
same_address["array.array -> ndarray"] = as_ndarray.ctypes.data == owner_at
same_address["array.array -> Tensor"] = as_tensor.data_ptr() == owner_at
same_address["ndarray -> torch.from_numpy"] = from_ndarray.data_ptr() == owner_at
arr[0] = 1.5
writes_seen["array.array[0] = 1.5"] = as_ndarray[0] == float(as_tensor[0]) == 1.5
as_tensor[1] = 2.5
writes_seen["Tensor[1] = 2.5"] = arr[1] == as_ndarray[1] == float(from_ndarray[1]) == 2.5
as_ndarray[2] = 3.5
writes_seen["ndarray[2] = 3.5"] = arr[2] == float(as_tensor[2]) == 3.5
print(f"array.array at {owner_at:#x}: {arr.tolist()[:4]} = {as_tensor[:4].tolist()}")

# -- bytes: shared too, but read-only ------------------------------------------------------
b = bytes(range(16))
ro_ndarray = np.frombuffer(b, dtype=np.uint8)
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    ro_tensor = torch.frombuffer(b, dtype=torch.uint8)
owner_at = address_of_bytes(b)
same_address["bytes -> ndarray"] = ro_ndarray.ctypes.data == owner_at
same_address["bytes -> Tensor"] = ro_tensor.data_ptr() == owner_at
try:
    ro_ndarray[0] = 1
    bytes_write = "written"
except ValueError as error:
    bytes_write = f"ValueError: {error}"
torch_warning = str(caught[0].message).split(".")[0] if caught else ""
print(f"bytes at {owner_at:#x}: ndarray writeable={ro_ndarray.flags.writeable}; {bytes_write}")

# -- ndarray <-> Tensor, and whether a Tensor exports a buffer itself -----------------------
n = np.zeros(8)
t = torch.from_numpy(n)
back = t.numpy()
t[0] = 7.0
writes_seen["Tensor over ndarray [0] = 7"] = n[0] == back[0] == 7.0
shares = {
    "ndarray, torch.from_numpy(ndarray).numpy()": bool(np.shares_memory(n, back)),
    "ndarray, np.asarray(Tensor)": bool(np.shares_memory(n, np.asarray(t))),
    "bytearray's ndarray, its Tensor": bool(
        np.shares_memory(views["ndarray"], views["Tensor"].numpy())
    ),
    "array.array's ndarray, its Tensor": bool(np.shares_memory(as_ndarray, as_tensor.numpy())),
}
try:
    memoryview(t)
    tensor_exports = "yes"
except TypeError as error:
    tensor_exports = f"no: {error}"
print(f"memoryview(Tensor): {tensor_exports}")

# -- DLPack: the zero-copy path to a Tensor that the buffer protocol cannot give ----------
# A Tensor exports no buffer, but both sides speak DLPack (__dlpack__): a capsule holding
# the data pointer, shape and strides, so even a.T crosses without a copy.
grid = np.arange(12, dtype=np.float64).reshape(3, 4)
dl_tensor = torch.from_dlpack(grid.T)
dl_back = np.from_dlpack(dl_tensor)
dl_tensor[0, 1] = -1.0  # a.T[0, 1] is grid[1, 0]
dlpack = {
    "torch.from_dlpack(a.T) at a's address": dl_tensor.data_ptr() == grid.ctypes.data,
    "its strides are a.T's": [x * 8 for x in dl_tensor.stride()] == list(grid.T.strides),
    "np.from_dlpack(Tensor) at the same address": dl_back.ctypes.data == grid.ctypes.data,
    "a write through the Tensor seen in a": grid[1, 0] == -1.0 == dl_back[0, 1],
}
print(f"DLPack: {dlpack}")

# -- the constructors copy: the protocol shares only when asked to -------------------------
copies = {
    "bytes(bytearray)": address_of_bytes(bytes(ba)) == address_of_writable(ba),
    "bytearray(bytes)": address_of_writable(bytearray(b)) == address_of_bytes(b),
    "array.array('B', bytearray)": array.array("B", ba).buffer_info()[0] == address_of_writable(ba),
    "np.array(array.array)": bool(np.shares_memory(np.array(arr), as_ndarray)),
    "torch.tensor(ndarray)": torch.tensor(n).data_ptr() == n.ctypes.data,
}
for name, shared in copies.items():
    print(f"  {name:<30} {'shares' if shared else 'copies'}")

observe("same_address", {k: bool(v) for k, v in same_address.items()})
observe("writes_seen", {k: bool(v) for k, v in writes_seen.items()})
observe("np_shares_memory", shares)
observe("copies", {name: not shared for name, shared in copies.items()})  # shown, not checked
observe("dlpack", {k: bool(v) for k, v in dlpack.items()})
observe("bytes_view_writeable", bool(ro_ndarray.flags.writeable))
observe("bytes_write", bytes_write)
observe("torch_warns_on_readonly", torch_warning)
observe("tensor_exports_buffer", tensor_exports)
observe("resize_while_exported", resize)
