"""Where a frame lives, read from memory: the thread's data stack, a generator, a frame object.

A call's frame (_PyInterpreterFrame) is pushed on a per-thread data stack. A PyFrameObject
is made only when something asks for one (sys._getframe, a traceback, a debugger): it
points at the frame through its f_frame field. A generator's frame lives inside the
generator object (FRAME_OWNED_BY_GENERATOR), and a frame whose frame object outlives the
call is copied into that object (Python/frame.c, take_ownership).
"""

import ctypes
import sys
import tracemalloc

from labkit import observe

# struct _frame: PyObject_HEAD, then f_back, then f_frame (Include/internal/pycore_frame.h)
F_FRAME_OFFSET = object.__basicsize__ + ctypes.sizeof(ctypes.c_void_p)


def f_frame(frame) -> int:
    """The address of the _PyInterpreterFrame a frame object points at."""
    return ctypes.c_void_p.from_address(id(frame) + F_FRAME_OFFSET).value


def inside(address: int, obj) -> bool:
    return id(obj) <= address < id(obj) + sys.getsizeof(obj)


# -- created lazily: a call allocates no frame object unless something asks for one -------
def plain(a):
    x = a
    return x


def asks(a):
    x = a
    sys._getframe()
    return x


def peak_bytes(function) -> int:
    """Bytes the heap had to find for one call (tracemalloc's peak over it)."""
    function(1)
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    function(1)
    return tracemalloc.get_traced_memory()[1] - base


tracemalloc.start()
lazy = {"plain call": peak_bytes(plain), "call asking sys._getframe()": peak_bytes(asks)}
tracemalloc.stop()
print(f"heap bytes found during one call: {lazy}")


# -- a running call's frame is on the data stack; after return, inside its frame object ----
def outer():
    me = sys._getframe()
    return me, f_frame(me), inner()


def inner():
    return f_frame(sys._getframe())


def secret_keeper():
    secret = "kept"  # noqa: F841 (read back through the frame object after the return)
    return sys._getframe()


kept, during, callee = outer()
after = f_frame(kept)
stacked = 0 < callee - during < 4096  # the callee's frame pushed right above the caller's
print(f"outer's frame during the call at {during:#x}, inner's {callee - during} B above it")
print(f"after return: frame object at {id(kept):#x}, its frame at {after:#x} (inside: "
      f"{inside(after, kept)})")  # fmt: skip
locals_after_return = secret_keeper().f_locals
print(f"f_locals read after return through a kept frame object: {dict(locals_after_return)}")


# -- a generator's frame lives inside the generator object --------------------------------
def small_gen():
    a = 1
    yield a


def big_gen():
    a0 = a1 = a2 = a3 = a4 = a5 = a6 = a7 = a8 = a9 = 1
    yield a0 + a1 + a2 + a3 + a4 + a5 + a6 + a7 + a8 + a9


gen = small_gen()
next(gen)
gen_frame = f_frame(gen.gi_frame)
growth = sys.getsizeof(big_gen()) - sys.getsizeof(small_gen())
print(f"generator at {id(gen):#x} ({sys.getsizeof(gen)} B), its frame at {gen_frame:#x}: "
      f"inside it: {inside(gen_frame, gen)}; 9 more locals make it {growth} B bigger")  # fmt: skip

observe("heap_bytes_per_call", lazy, "B")
observe("call_frame_on_data_stack", stacked and not inside(during, kept))
observe("frame_copied_into_frame_object", inside(after, kept) and after != during)
observe("locals_after_return", dict(locals_after_return))
observe("generator_frame_inside_generator", inside(gen_frame, gen))
observe("generator_bytes_per_local", growth / 9, "B")
