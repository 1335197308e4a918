"""Station 5's checks: each returns (passed, what was measured)."""


def check_seed_strides(obs):
    """a is C-contiguous with strides (32, 8); a.T swaps them and is not"""
    a, t = obs["seed_strides.a_strides"], obs["seed_strides.t_strides"]
    itemsize = obs["seed_strides.memoryview_a"]["itemsize"]
    ok = a == [4 * itemsize, itemsize] and t == a[::-1]
    c_order = obs["seed_strides.a_flags"]["C_CONTIGUOUS"]
    ok = ok and c_order and not obs["seed_strides.t_c_contiguous"]
    return ok, f"a.strides {a}, a.T.strides {t} ({obs['seed_strides.dtype']})"


def check_memoryview_fields(obs):
    """memoryview reports the exporter's format, itemsize, shape and strides"""
    mv, mt = obs["seed_strides.memoryview_a"], obs["seed_strides.memoryview_t"]
    ok = mv["shape"] == [3, 4] and mv["strides"] == obs["seed_strides.a_strides"]
    ok = ok and mt["strides"] == obs["seed_strides.t_strides"] and not mt["c_contiguous"]
    return ok, f"a: {mv}; a.T: {mt}"


def check_transpose_shares_data(obs):
    """a.T is a view: same data pointer, no bytes moved"""
    shared = obs["seed_strides.t_shares_data"] and obs["seed_strides.same_data_pointer"]
    moved = obs["transpose_cost.transpose_moved_data"]
    return shared and not moved, f"shares a's memory: {shared}; data moved at any size: {moved}"


def check_transpose_is_constant_time(obs):
    """a.T costs the same at every size, while a.T.copy() grows with the element count"""
    obs.timed()
    elements = obs["transpose_cost.element_growth"]
    t_growth, c_growth = obs["transpose_cost.transpose_growth"], obs["transpose_cost.copy_growth"]
    detail = (
        f"{elements:.0f}x the elements: a.T took {t_growth:.2f}x as long, "
        f"a.T.copy() {c_growth:.0f}x"
    )
    return t_growth < 2.0 and c_growth > elements / 4, detail


def check_c_function_needs_c_order(obs):
    """The C function gets a.T wrong and a.T.copy() / ascontiguousarray right"""
    expected = obs["c_order_call.expected"]
    wrong, copied = obs["c_order_call.given_transpose"], obs["c_order_call.given_copy"]
    contiguous = obs["c_order_call.given_ascontiguousarray"]
    detail = f"expected {expected}, given a.T {wrong}, given a.T.copy() {copied}"
    # Wrong values of the right shape: an empty or cut-short answer is no answer.
    same_shape = len(wrong) == len(expected) > 0
    return same_shape and wrong != expected and copied == contiguous == expected, detail


def check_who_refuses_the_transpose(obs):
    """NumPy grants a.T's strided buffer and refuses a simple one; ctypes refuses by itself"""
    ndpointer = obs["c_order_call.ndpointer_refuses_transpose"]
    granted = obs["c_order_call.numpy_grants_strided"]
    by_ctypes, by_numpy = (
        obs["c_order_call.ctypes_refuses"],
        obs["c_order_call.numpy_refuses_simple"],
    )
    # The messages name who refused: ctypes' _ctypes.c and NumPy's buffer.c word them so.
    ok = bool(granted.get("strides")) and "underlying buffer is not C contiguous" in by_ctypes
    ok = ok and "ndarray is not C-contiguous" in by_numpy and bool(ndpointer)
    detail = (
        f"strided request granted: {granted}; ctypes: {by_ctypes or 'given'};"
        f" simple request (hashlib): {by_numpy or 'given'}; ndpointer: {ndpointer or 'accepted'}"
    )
    return ok, detail


def check_fortran_consumer_needs_no_copy(obs):
    """a.T is F-contiguous: a C function told the order reads it right, with no copy"""
    expected = obs["c_order_call.expected"]
    f_contiguous = obs["c_order_call.t_f_contiguous"]
    given = obs["c_order_call.f_order_function_given_transpose"]
    detail = f"a.T F-contiguous: {f_contiguous}; Fortran-order function on a.T: {given}"
    return f_contiguous and given == expected, f"{detail} (expected {expected})"


def shared_everywhere(obs, experiment: str) -> tuple[bool, str]:
    """Every view at its owner's address, every write seen through the others."""
    same, seen = obs[f"{experiment}.same_address"], obs[f"{experiment}.writes_seen"]
    shares = obs[f"{experiment}.np_shares_memory"]
    bad = [k for k, v in {**same, **seen, **shares}.items() if not v]
    detail = f"{len(same)} views at their owner's address, {len(seen)} writes seen everywhere"
    if not (same and seen and shares):  # all of nothing holds: no evidence
        return False, f"{detail}, {len(shares)} shares: something was not measured"
    return not bad, detail if not bad else f"not shared: {bad}"


def check_one_buffer_no_copies(obs):
    """Every view sits at its owner's address, and a write through one is seen by all"""
    return shared_everywhere(obs, "shared_buffer")


def check_bytes_is_read_only(obs):
    """A view of bytes shares its memory but cannot write it"""
    writeable, write = obs["shared_buffer.bytes_view_writeable"], obs["shared_buffer.bytes_write"]
    return not writeable and write != "written", write


def check_tensor_consumes_buffers_without_a_copy(obs):
    """torch.frombuffer and torch.from_numpy keep the owner's memory: writes are seen both ways"""
    passed, detail = shared_everywhere(obs, "tensor_buffer")
    return passed, f"torch {obs['tensor_buffer.torch_version']}: {detail}"


def check_tensor_is_no_buffer_exporter(obs):
    """torch.Tensor consumes buffers (frombuffer) and shares with NumPy, but exports none"""
    exports = obs["tensor_buffer.tensor_exports_buffer"]
    # The curriculum lists Tensor among the buffer-protocol objects: in torch 2.6 it is a
    # consumer (torch.frombuffer), and shares with NumPy through NumPy's C API (from_numpy,
    # .numpy()) and Tensor.__array__, never through a buffer.
    return exports.startswith("no"), f"memoryview(Tensor): {exports}"


def check_numpy_reaches_a_tensor_through_array(obs):
    """np.asarray(Tensor) shares through Tensor.__array__: a Tensor has no array interface"""
    ways_in = obs["tensor_buffer.numpy_ways_in"]
    asarray = obs["tensor_buffer.asarray"]
    offered = [way for way, present in ways_in.items() if present]
    calls, shared = asarray["Tensor.__array__ calls"], asarray["at the Tensor's address"]
    ok = offered == ["__array__"] and calls == 1 and shared and asarray["base"] == "torch.Tensor"
    tried = ", ".join(f"{way} {'yes' if present else 'no'}" for way, present in ways_in.items())
    detail = (
        f"what np.asarray tries, in order, on a Tensor: {tried}; it called Tensor.__array__ "
        f"{calls} time(s), at the Tensor's address: {shared}, base a {asarray['base']}"
    )
    return ok, detail


DLPACK_FACTS = 4  # both addresses, the strides, a write seen (tensor_buffer.py)


def check_dlpack_shares_without_a_copy(obs):
    """DLPack hands a.T to torch and back to NumPy at the same address, strides and all"""
    dlpack = obs["tensor_buffer.dlpack"]
    if len(dlpack) < DLPACK_FACTS:
        return False, f"{len(dlpack)} of the {DLPACK_FACTS} facts measured: {'; '.join(dlpack)}"
    failed = [k for k, v in dlpack.items() if not v]
    return not failed, "all hold: " + "; ".join(dlpack) if not failed else f"not so: {failed}"
