"""torch.Tensor and the buffer protocol: a consumer that shares, never an exporter; DLPack.

torch.frombuffer consumes a buffer (bytearray, array.array, bytes) and keeps the owner's
memory. With NumPy a Tensor shares through neither the buffer protocol nor the array
interface (a Tensor has no __array_interface__ or __array_struct__): torch.from_numpy
and Tensor.numpy use NumPy's C API (tensor_numpy.cpp: PyArray_DATA, PyArray_New over the
Tensor's data pointer), and np.asarray(Tensor) finds only Tensor.__array__, which
returns self.numpy(). A Tensor exports no buffer itself: DLPack (__dlpack__), which
carries strides, is the road on which a Tensor can hand its memory out, even a.T's.
Runs in the torch image.
"""

import array
import ctypes
import inspect
import warnings

import numpy as np
import torch
from labkit import observe

same_address: dict[str, bool] = {}
writes_seen: dict[str, bool] = {}

# -- a bytearray and an array.array, seen through torch ------------------------------------
ba = bytearray(range(16))
as_tensor = torch.frombuffer(ba, dtype=torch.uint8)
owner_at = ctypes.addressof(ctypes.c_char.from_buffer(ba))
same_address["bytearray -> Tensor"] = as_tensor.data_ptr() == owner_at
as_tensor[0] = 100
writes_seen["Tensor[0] = 100"] = ba[0] == 100
ba[1] = 101
writes_seen["bytearray[1] = 101"] = int(as_tensor[1]) == 101

arr = array.array("d", [0.0] * 8)
doubles = torch.frombuffer(arr, dtype=torch.float64)
as_ndarray = np.frombuffer(arr, dtype=np.float64)
from_ndarray = torch.from_numpy(as_ndarray)  # NumPy -> torch: the ndarray's pointer
owner_at = arr.buffer_info()[0]
same_address["array.array -> Tensor"] = doubles.data_ptr() == owner_at
same_address["ndarray -> torch.from_numpy"] = from_ndarray.data_ptr() == owner_at
doubles[1] = 2.5
writes_seen["Tensor[1] = 2.5"] = arr[1] == as_ndarray[1] == float(from_ndarray[1]) == 2.5
print(f"array.array at {owner_at:#x}: {arr.tolist()[:4]} = {doubles[:4].tolist()}")

# -- bytes: torch shares read-only memory, and warns ----------------------------------------
b = bytes(range(16))
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    ro_tensor = torch.frombuffer(b, dtype=torch.uint8)
same_address["bytes -> Tensor"] = (
    ro_tensor.data_ptr() == ctypes.cast(ctypes.c_char_p(b), ctypes.c_void_p).value
)
torch_warning = str(caught[0].message).split(".")[0] if caught else ""

# -- ndarray <-> Tensor, and whether a Tensor exports a buffer itself -----------------------
n = np.zeros(8)
t = torch.from_numpy(n)
back = t.numpy()
t[0] = 7.0
writes_seen["Tensor over ndarray [0] = 7"] = n[0] == back[0] == 7.0
shares = {
    "ndarray, torch.from_numpy(ndarray).numpy()": bool(np.shares_memory(n, back)),
    "ndarray, np.asarray(Tensor)": bool(np.shares_memory(n, np.asarray(t))),
    "array.array's ndarray, its Tensor": bool(np.shares_memory(as_ndarray, doubles.numpy())),
}
try:
    memoryview(t)
    tensor_exports = "yes"
except TypeError as error:
    tensor_exports = f"no: {error}"
print(f"memoryview(Tensor): {tensor_exports}")

# -- np.asarray(Tensor): which of NumPy's ways in a Tensor offers ---------------------------
# np.asarray tries, in order: a buffer, __array_struct__, __array_interface__, __array__
# (_array_from_array_like in NumPy's ctors.c).
own = torch.arange(8, dtype=torch.float64)  # torch's memory, not an ndarray's
numpy_ways_in = {
    "buffer (memoryview)": not tensor_exports.startswith("no"),
    **{name: hasattr(own, name) for name in ("__array_struct__", "__array_interface__")},
    "__array__": hasattr(own, "__array__"),
}
array_calls = []
tensor_array = torch.Tensor.__array__


def counted_array(self, *args, **kwargs):
    array_calls.append(kwargs)
    return tensor_array(self, *args, **kwargs)


torch.Tensor.__array__ = counted_array  # for one call: does np.asarray come through here?
try:
    via_asarray = np.asarray(own)
finally:
    torch.Tensor.__array__ = tensor_array
asarray = {
    "Tensor.__array__ calls": len(array_calls),
    "at the Tensor's address": via_asarray.ctypes.data == own.data_ptr(),
    "base": f"{type(via_asarray.base).__module__}.{type(via_asarray.base).__qualname__}",
}
own[0] = 5.0
writes_seen["Tensor[0] = 5, seen by np.asarray(Tensor)"] = via_asarray[0] == 5.0
# Asked not to copy, NumPy passes copy=False to __array__, which in torch 2.6 takes only
# dtype: NumPy warns, and refuses, though the memory would have been shared.
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    try:
        np.asarray(own, copy=False)
        no_copy_asked = "shared"
    except ValueError as error:
        no_copy_asked = f"ValueError: {str(error).splitlines()[0]}"
said = [str(w.message).split(".")[0] for w in caught if "__array__" in str(w.message)]
no_copy_asked += f" (warned: {said[0]})" if said else ""
lines, first = inspect.getsourcelines(tensor_array)
array_source = f"{inspect.getsourcefile(tensor_array)}:{first}"
print(f"NumPy's ways into a Tensor: {numpy_ways_in}")
print(f"np.asarray(Tensor): {asarray}")
print(f"np.asarray(Tensor, copy=False): {no_copy_asked}")
print(f"Tensor.__array__, {array_source}:\n" + "".join(lines).rstrip())

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
copies = {"torch.tensor(ndarray)": torch.tensor(n).data_ptr() != n.ctypes.data}
print(f"torch.tensor(ndarray) copies: {copies['torch.tensor(ndarray)']}")

observe("torch_version", torch.__version__)
observe("same_address", {k: bool(v) for k, v in same_address.items()})
observe("writes_seen", {k: bool(v) for k, v in writes_seen.items()})
observe("np_shares_memory", shares)
observe("copies", copies)  # shown, not checked
observe("dlpack", {k: bool(v) for k, v in dlpack.items()})
observe("torch_warns_on_readonly", torch_warning)
observe("tensor_exports_buffer", tensor_exports)
observe("numpy_ways_in", numpy_ways_in)
observe("asarray", asarray)
observe("asarray_copy_false", no_copy_asked)  # shown, not checked
observe("tensor_array_at", array_source)
