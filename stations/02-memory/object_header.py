"""The PyObject header, read from memory with ctypes on this build.

Stock: ob_refcnt, ob_type (16 bytes). Free-threaded (PEP 703): ob_tid (owning thread),
padding, ob_mutex, ob_gc_bits, ob_ref_local (the owner's count, no atomics),
ob_ref_shared (everyone else's, atomic), ob_type. That split is biased reference counting.

Bigger is true of `struct _object` only: the free-threaded build has no PyGC_Head in front
of objects the GC tracks (its collector finds them through mimalloc's heaps), so
sys.getsizeof says a list is the same size on both builds; only objects outside the GC
(int, float, str) pay the 16 bytes. Both kinds are measured.

ob_tid is _Py_ThreadId(): the thread pointer register, not threading.get_ident() (they
agree on x86-64, not on aarch64). So the owner is shown by comparing objects made in
different threads: the same ob_tid within a thread, another one in another thread.
"""

import ctypes
import sys
import threading

from labkit import observe

FREE_THREADED = not getattr(sys, "_is_gil_enabled", lambda: True)()


class StockHeader(ctypes.Structure):
    _fields_ = [("ob_refcnt", ctypes.c_ssize_t), ("ob_type", ctypes.c_void_p)]


class FreeThreadedHeader(ctypes.Structure):
    _fields_ = [
        ("ob_tid", ctypes.c_size_t),
        ("_padding", ctypes.c_uint16),
        ("ob_mutex", ctypes.c_uint8),
        ("ob_gc_bits", ctypes.c_uint8),
        ("ob_ref_local", ctypes.c_uint32),
        ("ob_ref_shared", ctypes.c_ssize_t),
        ("ob_type", ctypes.c_void_p),
    ]


Header = FreeThreadedHeader if FREE_THREADED else StockHeader


def header(obj) -> dict:
    raw = Header.from_address(id(obj))
    return {name: getattr(raw, name) for name, _ in Header._fields_ if not name.startswith("_")}


# ob_ref_shared keeps two flag bits below the count (_Py_REF_SHARED_SHIFT, Include/object.h).
SHARED_SHIFT = 2


def shared(fields: dict) -> int:
    return fields["ob_ref_shared"] >> SHARED_SHIFT


class Thing:
    pass


# Objects the GC tracks (a PyGC_Head in front of them on stock) and objects it does not.
SIZED = {
    "list []": (lambda: [], True),
    "dict {}": (lambda: {}, True),
    "Thing()": (Thing, True),
    "float 1.5": (lambda: float("1.5"), False),
    "int 2**40": (lambda: 2**40, False),
    "str 'ab'": (lambda: "".join(["a", "b"]), False),
    "object()": (object, False),
}


def sizes() -> dict[str, dict]:
    return {
        name: {"bytes": sys.getsizeof(make()), "gc_tracked": tracked}
        for name, (make, tracked) in SIZED.items()
    }


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
layout_ok = first["ob_type"] == id(Thing)  # the struct above is the real layout
print(f"{'free-threaded' if FREE_THREADED else 'stock'} header, {ctypes.sizeof(Header)} bytes:")
print(f"  {first}  (ob_type is Thing: {layout_ok})")

extra_local = [thing] * 3  # three more references from the owning thread
after_local = header(thing)
print(f"  3 references from this thread:    {after_local}")

extra_shared = []
worker = threading.Thread(target=lambda: extra_shared.extend([thing] * 3))
worker.start()
worker.join(60)
after_shared = header(thing)
print(f"  3 references from another thread: {after_shared}")

count_field = "ob_ref_local" if FREE_THREADED else "ob_refcnt"
observe("header_bytes", ctypes.sizeof(Header), "B")
observe("object_size", sys.getsizeof(object()), "B")
measured_sizes = sizes()
for name, size in measured_sizes.items():
    print(f"  sys.getsizeof({name}): {size['bytes']} B (GC-tracked: {size['gc_tracked']})")
observe("sizes", measured_sizes, "B")
observe("fields", [name for name, _ in Header._fields_])
observe("layout_verified", layout_ok)
observe("local_count_moves", after_local[count_field] - first[count_field])
if FREE_THREADED:
    owners = owner_ids(thing)
    observe("owner_tids", owners)
    observe("owner_is_this_thread", owners["main, first"] == owners["main, second"])
    observe("shared_count_moves", shared(after_shared) - shared(after_local))
    observe("shared_flags", after_shared["ob_ref_shared"] & ((1 << SHARED_SHIFT) - 1))
    other_thread_local = after_shared["ob_ref_local"] - after_local["ob_ref_local"]
    observe("local_count_after_other_thread", other_thread_local)
else:
    observe("shared_count_moves", after_shared["ob_refcnt"] - after_local["ob_refcnt"])
