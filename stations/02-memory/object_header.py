"""The PyObject header, read from memory with ctypes on this build.

Stock: ob_refcnt, ob_type (16 bytes). Free-threaded (PEP 703): ob_tid (owning thread),
padding, ob_mutex, ob_gc_bits, ob_ref_local (the owner's count, no atomics),
ob_ref_shared (everyone else's, atomic), ob_type. That split is biased reference counting.
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


# ob_ref_shared keeps two flag bits below the count (_Py_REF_SHARED_SHIFT in refcount.h).
SHARED_SHIFT = 2


def shared(fields: dict) -> int:
    return fields["ob_ref_shared"] >> SHARED_SHIFT


class Thing:
    pass


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
worker.join()
after_shared = header(thing)
print(f"  3 references from another thread: {after_shared}")

count_field = "ob_ref_local" if FREE_THREADED else "ob_refcnt"
observe("header_bytes", ctypes.sizeof(Header), "B")
observe("object_size", sys.getsizeof(object()), "B")
observe("fields", [name for name, _ in Header._fields_])
observe("layout_verified", layout_ok)
observe("local_count_moves", after_local[count_field] - first[count_field])
if FREE_THREADED:
    observe("owner_is_this_thread", first["ob_tid"] == threading.get_ident())
    observe("shared_count_moves", shared(after_shared) - shared(after_local))
    observe("shared_flags", after_shared["ob_ref_shared"] & ((1 << SHARED_SHIFT) - 1))
    other_thread_local = after_shared["ob_ref_local"] - after_local["ob_ref_local"]
    observe("local_count_after_other_thread", other_thread_local)
else:
    observe("shared_count_moves", after_shared["ob_refcnt"] - after_local["ob_refcnt"])
