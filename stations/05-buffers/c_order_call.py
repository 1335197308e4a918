"""A real C function that assumes C order, handed a.T's raw buffer and then a.T.copy().

The C side gets a pointer and the dimensions, never the strides: it walks row i as the
m elements from p + i*m. That is right for a C-contiguous array and wrong for a.T, whose
elements sit in a's order. It is compiled here with the image's cc and called by ctypes.

"Sometimes" is about the consumer: a.T is Fortran-contiguous, so a function that can be
told the order (BLAS's transpose flag; here row_sums_f) reads a.T's buffer as it is, no
copy. And who refuses a.T is measured too: NumPy grants a strided request and refuses a
simple one (array_getbuffer); ctypes' from_buffer asks for strides, gets them, and then
refuses by itself.
"""

import ctypes
import hashlib
import shutil
import subprocess
import tempfile
from pathlib import Path

import numpy as np
from labkit import observe

C_SOURCE = r"""
/* Sum each row of an n x m matrix of int64 stored in C order (row-major). */
void row_sums(const long long *p, long n, long m, long long *out) {
    for (long i = 0; i < n; i++) {
        long long s = 0;
        for (long j = 0; j < m; j++) s += p[i * m + j];
        out[i] = s;
    }
}

/* The same for an n x m matrix in Fortran order (column-major): element (i, j) at p[i + j*n]. */
void row_sums_f(const long long *p, long n, long m, long long *out) {
    for (long i = 0; i < n; i++) {
        long long s = 0;
        for (long j = 0; j < m; j++) s += p[i + j * n];
        out[i] = s;
    }
}
"""

compiler = shutil.which("cc") or shutil.which("gcc")
if compiler is None:
    raise SystemExit("c_order_call: no C compiler (cc) here: it is in the lab's images")
build = Path(tempfile.mkdtemp(prefix="lab-c-order-"))
(build / "row_sums.c").write_text(C_SOURCE)
library = build / "row_sums.so"
subprocess.run(
    [compiler, "-O2", "-shared", "-fPIC", "-o", str(library), str(build / "row_sums.c")],
    timeout=120,
)
if not library.is_file():
    raise SystemExit(f"c_order_call: {compiler} could not build {library.name} (see above)")
lib = ctypes.CDLL(str(library))
lib.row_sums.restype = None
lib.row_sums.argtypes = [ctypes.c_void_p, ctypes.c_long, ctypes.c_long, ctypes.c_void_p]
lib.row_sums_f.restype = None
lib.row_sums_f.argtypes = lib.row_sums.argtypes


def row_sums_in_c(x: np.ndarray, function=lib.row_sums) -> list[int]:
    """Call the C function on X's raw data pointer, as a C library would receive it."""
    assert x.dtype == np.int64, x.dtype
    out = np.empty(x.shape[0], dtype=np.int64)
    function(x.ctypes.data, x.shape[0], x.shape[1], out.ctypes.data)
    return out.tolist()


a = np.arange(12).reshape(3, 4)  # the seed's arrays
t = a.T
expected = t.sum(axis=1).tolist()
given_transpose = row_sums_in_c(t)
given_copy = row_sums_in_c(t.copy())
given_contiguous = row_sums_in_c(np.ascontiguousarray(t))
given_transpose_f = row_sums_in_c(t, lib.row_sums_f)  # told the order: a.T as it is
print(f"a.T =\n{t}")
print(f"row sums by NumPy (strides honoured):   {expected}")
print(f"row sums in C, given a.T's buffer:      {given_transpose}   (a's rows, regrouped)")
print(f"row sums in C, given a.T.copy():        {given_copy}")
print(f"row sums in C, given ascontiguousarray: {given_contiguous}")
print(f"a.T is F-contiguous: {bool(t.flags['F_CONTIGUOUS'])}; a Fortran-order C function")
print(f"given a.T's buffer, no copy:            {given_transpose_f}")

# The guards a careful binding uses: both refuse a.T rather than give a wrong answer.
checked = ctypes.CDLL(str(library)).row_sums
checked.argtypes = [np.ctypeslib.ndpointer(np.int64, ndim=2, flags="C_CONTIGUOUS"),
                    ctypes.c_long, ctypes.c_long, ctypes.c_void_p]  # fmt: skip
try:
    checked(t, 4, 3, np.empty(4, dtype=np.int64).ctypes.data)
    ndpointer_refuses = ""
except ctypes.ArgumentError as error:
    ndpointer_refuses = str(error)


def refusal(action) -> str:
    """'' when ACTION succeeds, else the exception it raised, named."""
    try:
        action()
    except (TypeError, ValueError, BufferError) as error:
        return f"{type(error).__name__}: {error}"
    return ""


# memoryview asks NumPy for everything (PyBUF_FULL_RO, strides included): granted.
strided = memoryview(t)
granted = {"strides": list(strided.strides), "c_contiguous": strided.c_contiguous,
           "f_contiguous": strided.f_contiguous}  # fmt: skip
# ctypes' from_buffer makes that same request, gets the strides, then refuses itself.
ctypes_refuses = refusal(lambda: (ctypes.c_longlong * t.size).from_buffer(t))
# hashlib asks for a simple buffer (PyBUF_SIMPLE: no strides): NumPy itself refuses.
numpy_refuses = refusal(lambda: hashlib.sha256(t))
print(f"memoryview(a.T), a strided request:  granted {granted}")
print(f"ctypes from_buffer(a.T):              {ctypes_refuses or 'given'}")
print(f"hashlib.sha256(a.T), a simple request: {numpy_refuses or 'given'}")
print(f"ndpointer(flags='C_CONTIGUOUS') given a.T: {ndpointer_refuses or 'accepted'}")

observe("expected", expected)
observe("given_transpose", given_transpose)
observe("given_copy", given_copy)
observe("given_ascontiguousarray", given_contiguous)
observe("copy_is_c_contiguous", bool(t.copy().flags["C_CONTIGUOUS"]))
observe("ndpointer_refuses_transpose", ndpointer_refuses)
observe("numpy_grants_strided", granted)
observe("ctypes_refuses", ctypes_refuses)
observe("numpy_refuses_simple", numpy_refuses)
observe("t_f_contiguous", bool(t.flags["F_CONTIGUOUS"]))
observe("f_order_function_given_transpose", given_transpose_f)
shutil.rmtree(build)
