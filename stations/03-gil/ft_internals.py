"""Three things free-threading changes under the hood, seen from Python.

1. Deferred reference counting, 3.13's way: objects many threads touch (top-level
   functions, modules, classes, code) are marked to use it, and in 3.13 that means being
   made immortal when the first thread other than the main one starts
   (Python/pystate.c, _PyGC_ImmortalizeDeferredObjects). A nested function is not marked.
2. `counter += 1` from several threads is a read, an add and a write: with no GIL
   between them, threads overwrite each other's updates; a lock makes it exact again.
3. An extension module that does not declare `Py_mod_gil = Py_MOD_GIL_NOT_USED` turns the
   GIL back on when it is imported (Python/import.c, _PyImport_CheckGILForModule): two
   tiny modules are compiled here with the image's cc, one declaring, one not.

Runs on both builds: stock shows what the GIL hides (1 and 3 are ft's alone).
"""

from __future__ import annotations

import ctypes
import importlib
import subprocess
import sys
import sysconfig
import tempfile
import threading
import warnings
from pathlib import Path

from labkit import observe, quick

FREE_THREADED = bool(sysconfig.get_config_var("Py_GIL_DISABLED"))
THREADS = 4
BUMPS = 100_000 if quick() else 1_000_000
# Where ob_gc_bits sits in the free-threaded header (ob_tid, padding, ob_mutex, ob_gc_bits).
GC_BITS_OFFSET = 8 + 2 + 1
DEFERRED_BIT = 1 << 6  # _PyGC_BITS_DEFERRED, Include/internal/pycore_gc.h


def top_level():
    """A module-level function: marked for deferred refcounting on ft."""


def make_nested():
    def nested():
        pass

    return nested


def gc_bits(obj) -> int:
    return ctypes.c_uint8.from_address(id(obj) + GC_BITS_OFFSET).value


def refcounts(nested) -> dict:
    found = {"top-level function": sys.getrefcount(top_level), "nested": sys.getrefcount(nested)}
    if FREE_THREADED:
        found["top-level deferred bit"] = bool(gc_bits(top_level) & DEFERRED_BIT)
    return found


# -- 1. before any thread starts, and after the first one ---------------------------------
nested = make_nested()
before = refcounts(nested)
first = threading.Thread(target=lambda: None)
first.start()
first.join(60)
after = refcounts(nested)
print(f"before the first thread: {before}")
print(f"after it:                {after}")


# -- 2. lost updates ------------------------------------------------------------------------
counter = 0
lock = threading.Lock()


def bump(start: threading.Barrier, locked: bool) -> None:
    global counter
    start.wait(timeout=60)
    for _ in range(BUMPS):
        if locked:
            with lock:
                counter += 1
        else:
            counter += 1


def count(locked: bool) -> int:
    global counter
    counter = 0
    start = threading.Barrier(THREADS)
    workers = [threading.Thread(target=bump, args=(start, locked)) for _ in range(THREADS)]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join(120)
    return counter


expected = THREADS * BUMPS
unlocked, locked = count(locked=False), count(locked=True)
print(f"{THREADS} threads x {BUMPS:,} `counter += 1`: {unlocked:,} without a lock, "
      f"{locked:,} with one (want {expected:,})")  # fmt: skip


# -- 3. an extension that does not declare Py_mod_gil ---------------------------------------
SOURCE = r"""
#include <Python.h>
static PyModuleDef_Slot slots[] = {
%s
    {0, NULL}
};
static struct PyModuleDef def = {PyModuleDef_HEAD_INIT, "%s", NULL, 0, NULL, slots};
PyMODINIT_FUNC PyInit_%s(void) { return PyModuleDef_Init(&def); }
"""
DECLARED = "    {Py_mod_gil, Py_MOD_GIL_NOT_USED},"


def build(name: str, declares: bool, where: Path) -> None:
    c_file = where / f"{name}.c"
    c_file.write_text(SOURCE % (DECLARED if declares else "", name, name))
    target = where / f"{name}{sysconfig.get_config_var('EXT_SUFFIX')}"
    include = sysconfig.get_paths()["include"]
    argv = ["cc", "-shared", "-fPIC", f"-I{include}", "-o", str(target), str(c_file)]
    subprocess.run(argv, check=True, timeout=120)


def gil_enabled() -> bool:
    return getattr(sys, "_is_gil_enabled", lambda: True)()


with tempfile.TemporaryDirectory() as scratch:
    build("declares_no_gil", True, Path(scratch))
    build("says_nothing", False, Path(scratch))
    sys.path.insert(0, scratch)
    gil = {"at start": gil_enabled()}
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        importlib.import_module("declares_no_gil")
        gil["after importing declares_no_gil"] = gil_enabled()
        importlib.import_module("says_nothing")
        gil["after importing says_nothing"] = gil_enabled()
warned = [str(w.message) for w in caught if issubclass(w.category, RuntimeWarning)]
print(f"GIL enabled: {gil}")
for message in warned:
    print(f"  RuntimeWarning: {message}")

observe("refcounts_before_first_thread", before)
observe("refcounts_after_first_thread", after)
observe("counter_expected", expected)
observe("counter_unlocked", unlocked)
observe("counter_locked", locked)
observe("gil_enabled", gil)
observe("gil_warning", warned[0] if warned else "")
