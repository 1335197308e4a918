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
    return wrong != expected and copied == contiguous == expected, detail


def check_guards_refuse_transpose(obs):
    """ndpointer(flags='C_CONTIGUOUS') and a C-contiguous buffer request both refuse a.T"""
    ndpointer = obs["c_order_call.ndpointer_refuses_transpose"]
    buffer = obs["c_order_call.buffer_refuses_c_contiguous"]
    return bool(ndpointer) and bool(buffer), f"ndpointer: {ndpointer or 'accepted'}; {buffer}"


def check_one_buffer_no_copies(obs):
    """Every view sits at its owner's address, and a write through one is seen by all"""
    same, seen = obs["shared_buffer.same_address"], obs["shared_buffer.writes_seen"]
    shares = obs["shared_buffer.np_shares_memory"]
    bad = [k for k, v in {**same, **seen, **shares}.items() if not v]
    detail = f"{len(same)} views at their owner's address, {len(seen)} writes seen everywhere"
    return not bad, detail if not bad else f"not shared: {bad}"


def check_constructors_copy(obs):
    """bytes(), bytearray(), array.array(), np.array() and torch.tensor() copy instead"""
    copies = obs["shared_buffer.copies"]
    shared = [name for name, copied in copies.items() if not copied]
    return not shared, ", ".join(copies) + (" all copy" if not shared else f"; shared: {shared}")


def check_bytes_is_read_only(obs):
    """A view of bytes shares its memory but cannot write it"""
    writeable, write = obs["shared_buffer.bytes_view_writeable"], obs["shared_buffer.bytes_write"]
    return not writeable and write != "written", write


def check_tensor_is_no_buffer_exporter(obs):
    """torch.Tensor consumes buffers (frombuffer) and shares with NumPy, but exports none"""
    exports = obs["shared_buffer.tensor_exports_buffer"]
    # The curriculum lists Tensor among the buffer-protocol objects: in torch 2.6 it is a
    # consumer (torch.frombuffer) and shares with NumPy through from_numpy / __array__.
    return exports.startswith("no"), f"memoryview(Tensor): {exports}"
