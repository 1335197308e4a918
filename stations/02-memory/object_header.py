"""The PyObject header on this build: its size asked of the interpreter, its fields read
back from memory at the offsets Include/object.h gives them.

Stock: ob_refcnt, ob_type (16 bytes). Free-threaded (PEP 703): ob_tid (owning thread),
_padding, ob_mutex, ob_gc_bits, ob_ref_local (the owner's count: a relaxed atomic load and
store, Include/object.h's Py_INCREF, with no atomic read-modify-write), ob_ref_shared (everyone
else's, an atomic add), ob_type. That split is biased reference counting.

Nothing here is taken on trust: the header's size is sys.getsizeof(object()) (an object
with no fields of its own and nothing in front), ob_type is found by scanning the header
for the type's address, and the counts read at their offsets must add up to what
sys.getrefcount() says and move when references are taken.

Bigger is true of `struct _object` only: the free-threaded build puts no PyGC_Head in
front of objects of a GC type (its collector finds them through mimalloc's heaps), so
sys.getsizeof says a list is the same size on both builds; only objects of non-GC types
(int, float, str) pay the 16 bytes. Both kinds are measured.

ob_tid is _Py_ThreadId(): the thread pointer register, not threading.get_ident() (they
agree on x86-64, not on aarch64). So the owner is shown by comparing objects made in
different threads: the same ob_tid within a thread, another one in another thread.
"""

import ctypes
import sys
import sysconfig
import threading

from labkit import observe

# Include/object.h picks the header with #ifdef Py_GIL_DISABLED, fixed when CPython is
# compiled. sys._is_gil_enabled() says whether the GIL runs now (PYTHON_GIL=1 turns it
# back on in a free-threaded build, whose header stays the free-threaded one).
FREE_THREADED = bool(sysconfig.get_config_var("Py_GIL_DISABLED"))

# Offsets in struct _object on 64-bit, from Include/object.h.
STOCK_FIELDS = {
    "ob_refcnt": (0, ctypes.c_ssize_t),
    "ob_type": (8, ctypes.c_void_p),
}
FREE_THREADED_FIELDS = {
    "ob_tid": (0, ctypes.c_size_t),
    # 8: uint16_t _padding, 10: PyMutex ob_mutex, 11: uint8_t ob_gc_bits
    "ob_ref_local": (12, ctypes.c_uint32),
    "ob_ref_shared": (16, ctypes.c_ssize_t),
    "ob_type": (24, ctypes.c_void_p),
}
FIELDS = FREE_THREADED_FIELDS if FREE_THREADED else STOCK_FIELDS
COUNT_FIELD = "ob_ref_local" if FREE_THREADED else "ob_refcnt"  # what this thread's refs move

# ob_ref_shared keeps two flag bits below the count (_Py_REF_SHARED_SHIFT, Include/object.h).
SHARED_SHIFT = 2

# object.__sizeof__() is tp_basicsize, and object has no fields past the header and
# no pre-header (not a GC type): its size is sizeof(struct _object) on this build.
HEADER_BYTES = sys.getsizeof(object())
WORD = ctypes.sizeof(ctypes.c_void_p)
Py_TPFLAGS_HAVE_GC = 1 << 14  # Include/object.h: instances carry a PyGC_Head on stock


def header(obj) -> dict[str, int]:
    """The header's fields, read at their offsets in obj's memory."""
    base = id(obj)
    return {name: kind.from_address(base + at).value or 0 for name, (at, kind) in FIELDS.items()}


def ob_type_offset(obj) -> int | None:
    """Where the address of obj's type sits in its header: scanned for, not assumed."""
    words = (ctypes.c_size_t * (HEADER_BYTES // WORD)).from_address(id(obj))
    return next((i * WORD for i, word in enumerate(words) if word == id(type(obj))), None)


def shared(fields: dict[str, int]) -> int:
    return fields["ob_ref_shared"] >> SHARED_SHIFT


def count_from_fields(fields: dict[str, int]) -> int:
    """Py_REFCNT as Include/object.h computes it from the fields."""
    return fields["ob_ref_local"] + shared(fields) if FREE_THREADED else fields["ob_refcnt"]


class Thing:
    pass


SIZED = {
    "list []": lambda: [],
    "dict {}": lambda: {},
    "tuple (1,)": lambda: (1,),
    "Thing()": Thing,
    "float 1.5": lambda: float("1.5"),
    "int 2**40": lambda: 2**40,
    "str 'ab'": lambda: "".join(["a", "b"]),
    "object()": object,
}


def size(obj) -> dict:
    """sys.getsizeof, and what it adds in front of the object (_PyType_PreHeaderSize:
    the PyGC_Head of a GC type on stock, the managed __dict__ and weakref pointers of a
    class instance). A GC type is a type flag, not gc.is_tracked(): an empty dict is a
    GC type the collector does not track yet."""
    total = sys.getsizeof(obj)
    gc_type = bool(type(obj).__flags__ & Py_TPFLAGS_HAVE_GC)
    return {"bytes": total, "in_front": total - obj.__sizeof__(), "gc_type": gc_type}


def owner_ids(main_object) -> dict[str, int]:
    """ob_tid of objects made in the main thread and in two threads alive at once (a thread
    that has ended may hand its thread pointer to the next one)."""
    made: dict[str, int] = {"main, first": header(main_object)["ob_tid"]}
    both_alive = threading.Barrier(2)

    def make(label: str) -> None:
        objects = [Thing(), Thing()]
        made[f"{label}, first"] = header(objects[0])["ob_tid"]
        made[f"{label}, second"] = header(objects[1])["ob_tid"]
        both_alive.wait(timeout=60)  # neither ends before the other has made its objects

    workers = [threading.Thread(target=make, args=(f"thread {n}",)) for n in (1, 2)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(60)
    made["main, second"] = header(Thing())["ob_tid"]
    made["main, first, after the threads"] = header(main_object)["ob_tid"]
    return made


thing = Thing()
first = header(thing)
type_at = ob_type_offset(thing)
# Each call holds one reference for its argument: the module's and that one.
read_back = {"from the fields": count_from_fields(first), "sys.getrefcount": sys.getrefcount(thing)}
build = "free-threaded" if FREE_THREADED else "stock"
print(f"Py_GIL_DISABLED: {sysconfig.get_config_var('Py_GIL_DISABLED')} ({build} header)")
print(f"sys.getsizeof(object()): {HEADER_BYTES} B; ob_type found at byte {type_at}")
print(f"  {first}  (refcount from the fields / sys.getrefcount: {read_back})")

extra_local = [thing] * 3  # three more references from the owning thread
after_local = header(thing)
print(f"  3 references from this thread:    {after_local}")

extra_shared = []
worker = threading.Thread(target=lambda: extra_shared.extend([thing] * 3))
worker.start()
worker.join(60)
after_shared = header(thing)
print(f"  3 references from another thread: {after_shared}")

measured_sizes = {name: size(make()) for name, make in SIZED.items()}
for name, measured in measured_sizes.items():
    print(
        f"  sys.getsizeof({name}): {measured['bytes']} B, {measured['in_front']} B of it in front"
        f" (a GC type: {measured['gc_type']})"
    )
observe("py_gil_disabled", FREE_THREADED)
observe("header_bytes", HEADER_BYTES, "B")
observe("ob_type_offset", type_at, "B")
observe("layout", {name: at for name, (at, _) in FIELDS.items()}, "B")
observe("refcount_read_back", read_back)
observe("gc_head_bytes", sys.getsizeof([]) - [].__sizeof__(), "B")
observe("sizes", measured_sizes, "B")
observe("count_field", COUNT_FIELD)
observe("local_count_moves", after_local[COUNT_FIELD] - first[COUNT_FIELD])
observe("local_count_after_other_thread", after_shared[COUNT_FIELD] - after_local[COUNT_FIELD])
if FREE_THREADED:
    owners = owner_ids(thing)
    observe("owner_tids", owners)
    observe("owner_is_this_thread", owners["main, first"] == owners["main, second"])
    observe("shared_count_moves", shared(after_shared) - shared(after_local))
    observe("shared_flags", after_shared["ob_ref_shared"] & ((1 << SHARED_SHIFT) - 1))
