"""The reading resolver on a small fixture tree (it runs in containers, but is pure Python)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from lab.config import STATIONS_DIR

sys.path.insert(0, str(STATIONS_DIR / "_lib"))
from labkit.reading import resolve

FILES = {
    "Python/ceval.c": (
        "// _PyEval_EvalFrameDefault() is long\nint\n_PyEval_EvalFrameDefault(int x)\n{\n"
    ),
    "Python/bytecodes.c": "        inst(LOAD_FAST, (-- value)) {\n            value = 1;\n",
    "Include/frame.h": "typedef struct _frame {\n    int x;\n} Frame;\n",
    "Modules/_asynciomodule.c": "static PyObject *\ntask_step_impl(TaskObj *task,\n"
    "               PyObject *exc);\nint x;\nstatic PyObject *\ntask_step_impl(TaskObj *task,\n"
    "               PyObject *exc)\n{\n",
    "uvloop/loop.pyx": "cdef class Loop:\n    cdef _run(self, mode):\n"
    "    cdef _on_idle(self):\n        pass\n",
    "torch/csrc/autograd/function.h": "struct Edge;\n"
    "struct TORCH_API Node : std::enable_shared_from_this<Node> {\n",
    "Include/object.h": "#  define Py_INCREF(op) Py_INCREF(_PyObject_CAST(op))\n"
    "static inline Py_ALWAYS_INLINE void Py_INCREF(PyObject *op)\n{\n",
    "Lib/asyncio/base_events.py": "class Other:\n    def run_forever(self): ...\n"
    "class BaseEventLoop:\n    def run_forever(self):\n        pass\n",
}


@pytest.fixture
def trees(tmp_path: Path) -> dict[str, str]:
    for name, text in FILES.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    return {"cpython": str(tmp_path)}


def test_function_found_at_its_definition_not_a_comment(trees) -> None:
    entry = {"tree": "cpython", "path": "Python/ceval.c", "symbol": "_PyEval_EvalFrameDefault"}
    got = resolve(entry, trees)
    assert got["status"] == "found" and got["at"].endswith("Python/ceval.c:3")
    assert "_PyEval_EvalFrameDefault(int x)" in got["context"][0]


def test_moved_symbol_is_found_elsewhere_and_said(trees) -> None:
    got = resolve({"tree": "cpython", "path": "Python/ceval.c", "symbol": "LOAD_FAST"}, trees)
    assert got["status"] == "moved" and got["at"].endswith("Python/bytecodes.c:1")
    assert "the curriculum says Python/ceval.c" in got["note"]


def test_file_that_is_gone(trees) -> None:
    got = resolve({"tree": "cpython", "path": "Modules/gone.c", "symbol": "_frame"}, trees)
    assert got["status"] == "moved" and "file is gone" in got["note"]
    assert got["at"].endswith("Include/frame.h:1")


def test_static_inline_function_before_the_macro_that_wraps_it(trees) -> None:
    got = resolve({"tree": "cpython", "path": "Include/object.h", "symbol": "Py_INCREF"}, trees)
    assert got["status"] == "found" and got["at"].endswith("Include/object.h:2")


def test_c_prototype_is_not_the_definition(trees) -> None:
    entry = {"tree": "cpython", "path": "Modules/_asynciomodule.c", "symbol": "task_step_impl"}
    assert resolve(entry, trees)["at"].endswith("_asynciomodule.c:6")


def test_cython_cdef_method(trees) -> None:
    entry = {"tree": "cpython", "path": "uvloop/loop.pyx", "symbol": "Loop._on_idle"}
    assert resolve(entry, trees)["at"].endswith("loop.pyx:3")


def test_cpp_struct_with_export_macro_and_base(trees) -> None:
    entry = {"tree": "cpython", "path": "torch/csrc/autograd/function.h", "symbol": "Node"}
    assert resolve(entry, trees)["at"].endswith("function.h:2")


def test_method_of_a_class(trees) -> None:
    entry = {
        "tree": "cpython",
        "path": "Lib/asyncio/base_events.py",
        "symbol": "BaseEventLoop.run_forever",
    }
    assert resolve(entry, trees)["at"].endswith("base_events.py:4")


def test_missing_symbol_and_missing_tree(trees) -> None:
    assert resolve({"tree": "cpython", "path": "x.c", "symbol": "nowhere"}, trees)["status"] == (
        "missing"
    )
    got = resolve({"tree": "numpy", "path": "a.c", "symbol": "f"}, {"numpy": "/no/such/tree"})
    assert got["status"] == "missing" and "not in this image" in got["note"]


def test_documents_are_listed_with_their_address(trees) -> None:
    got = resolve({"title": "PEP 659", "url": "https://peps.python.org/pep-0659/"}, trees)
    assert got["status"] == "document"


def test_the_excerpt_starts_a_few_lines_above_the_symbol(tmp_path: Path) -> None:
    lines = [f"line {n}" for n in range(1, 101)]
    lines[49] = "int\nfound_here(void)"  # lines 50 and 51
    (tmp_path / "a.c").write_text("\n".join(lines) + "\n")
    got = resolve({"tree": "t", "path": "a.c", "symbol": "found_here"}, {"t": str(tmp_path)})
    assert got["at"].endswith("a.c:51")
    start = int(got["excerpt_start"])
    assert start == 51 - 6 and got["excerpt"][51 - start] == "found_here(void)"
    assert len(got["excerpt"]) == 30


def test_the_excerpt_stops_at_the_file_edges(trees) -> None:
    entry = {"tree": "cpython", "path": "Python/ceval.c", "symbol": "_PyEval_EvalFrameDefault"}
    got = resolve(entry, trees)
    assert got["excerpt_start"] == "1" and got["excerpt"][2] == "_PyEval_EvalFrameDefault(int x)"


def test_a_call_at_column_0_of_a_python_file_is_no_definition(tmp_path: Path) -> None:
    (tmp_path / "libpython.py").write_text(
        "class PyBacktrace(gdb.Command):\n    pass\n\nPyBacktrace()\n"
    )
    got = resolve(
        {"tree": "t", "path": "libpython.py", "symbol": "PyBacktrace"}, {"t": str(tmp_path)}
    )
    assert got["at"].endswith("libpython.py:1")
