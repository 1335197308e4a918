"""torch.Tensor and the buffer protocol: a consumer that shares, never an exporter; DLPack.

torch.frombuffer consumes a buffer (bytearray, array.array, bytes) and keeps the owner's
memory; torch.from_numpy and Tensor.numpy share with NumPy through the array interface, not
a buffer. A Tensor exports no buffer itself: DLPack (__dlpack__), which carries strides, is
the road on which a Tensor can hand its memory out, even a.T's. Runs in the torch image.
"""

import array
import ctypes
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
