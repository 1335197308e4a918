"""What each CPython image is, asserted by starting it (testcontainers)."""

from __future__ import annotations

import json

from lab.config import Variant, dockerfile_pin
from tests.run_in_image import python_in, run_in_image

PINNED_VERSION = dockerfile_pin("PYTHON_VERSION")
SLEEPER = "python3 -c 'import time; time.sleep(60)' & sleep 1"


def test_version_is_the_pin(any_variant: Variant) -> None:
    ran = python_in(any_variant.image, "import platform; print(platform.python_version())")
    assert ran.stdout.strip() == PINNED_VERSION


def test_build_switches(any_variant: Variant) -> None:
    ran = python_in(
        any_variant.image,
        "import json, sys, sysconfig; print(json.dumps({"
        "'gil_enabled': sys._is_gil_enabled(),"
        "'Py_GIL_DISABLED': sysconfig.get_config_var('Py_GIL_DISABLED'),"
        "'gettotalrefcount': hasattr(sys, 'gettotalrefcount')}))",
    )
    facts = json.loads(ran.stdout)
    expected = {
        "stock": {"gil_enabled": True, "Py_GIL_DISABLED": 0, "gettotalrefcount": False},
        "debug": {"gil_enabled": True, "Py_GIL_DISABLED": 0, "gettotalrefcount": True},
        "ft": {"gil_enabled": False, "Py_GIL_DISABLED": 1, "gettotalrefcount": False},
    }[any_variant.name]
    assert facts == expected


def test_free_threaded_interpreter_name(ft: Variant) -> None:
    ran = run_in_image(ft.image, ["python3.13t", "-c", "import sys; print(sys.abiflags)"])
    assert ran.stdout.strip() == "t"


def test_source_tree_is_that_version(any_variant: Variant) -> None:
    ran = run_in_image(
        any_variant.image,
        ["grep", "-h", "define PY_VERSION ", "/usr/src/cpython/Include/patchlevel.h"],
    )
    assert f'"{PINNED_VERSION}"' in ran.stdout
    built = run_in_image(any_variant.image, ["test", "-x", "/usr/src/cpython/python"])
    # Only the debug image offers a rebuild: stock and ft are built out of the tree.
    assert (built.exit_code == 0) == (any_variant.name == "debug")


def test_what_the_slim_install_left_out(any_variant: Variant) -> None:
    """No static libpython under /usr/local, byte-code at level 0 only, and of the test
    suite only test.support (whose interpreters module station 3 imports)."""
    ran = python_in(
        any_variant.image,
        "import glob, os, sys, sysconfig; lib = sysconfig.get_path('stdlib');"
        "print(len(glob.glob('/usr/local/lib/*.a') + glob.glob(lib + '/config-*/*.a')),"
        " len(glob.glob(lib + '/**/*.opt-[12].pyc', recursive=True)),"
        " sorted(os.listdir(lib + '/test')),"
        " os.path.exists(f'{lib}/asyncio/__pycache__/tasks.{sys.implementation.cache_tag}.pyc'))",
    )
    assert ran.stdout.strip().split(maxsplit=2) == [
        "0",
        "0",
        "['__init__.py', '__pycache__', 'support'] True",
    ]
    interpreters = python_in(
        any_variant.image,
        "from test.support import interpreters; from test.support.interpreters import queues;"
        "print(interpreters.create().id > 0)",
    )
    assert interpreters.stdout.strip() == "True", interpreters.stderr


def test_the_debug_tree_rebuilds(debug: Variant) -> None:
    """A learner edits CPython and runs `make` in its tree: the changed file is compiled
    again, the object files of the others are reused."""
    script = (
        "cd /usr/src/cpython && touch Python/pythonrun.c && make -j2 python >/tmp/make.log 2>&1"
        " && ./python -c 'import sys; print(hasattr(sys, \"gettotalrefcount\"))'"
        " && grep -c -- ' -c ' /tmp/make.log && grep -c -- '-o Python/pythonrun.o' /tmp/make.log"
    )
    ran = run_in_image(debug.image, ["bash", "-c", script], timeout=600)
    assert ran.exit_code == 0, ran.stderr
    debug_build, compiled, edited = ran.stdout.split()
    assert debug_build == "True" and edited == "1", ran.stdout
    # The edited file and the few make always redoes (getbuildinfo.c), of about 500.
    assert int(compiled) < 10, f"{compiled} files compiled: the object files were not reused"
