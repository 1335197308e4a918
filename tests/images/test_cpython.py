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
    assert built.exit_code == 0, "the build tree (with its ./python) is kept"


def test_user_is_not_root(any_variant: Variant) -> None:
    ran = run_in_image(any_variant.image, ["id", "-u"])
    assert ran.stdout.strip() != "0"


def test_packages_from_the_lock(any_variant: Variant) -> None:
    ran = run_in_image(
        any_variant.image,
        ["python3", "-m", "pip", "list", "--format=json", "--disable-pip-version-check"],
    )
    installed = {package["name"] for package in json.loads(ran.stdout)}
    for package in ("numpy", "pytest", "uvloop", "py-spy"):
        # What a variant cannot use is left out, as doctor says; everything else is there.
        assert (package in installed) == (package not in any_variant.left_out), package


def test_pip_is_on_the_path(any_variant: Variant) -> None:
    assert run_in_image(any_variant.image, ["pip", "--version"]).exit_code == 0


def test_fingerprint_describes_the_image(any_variant: Variant) -> None:
    stored = json.loads(
        run_in_image(any_variant.image, ["cat", "/etc/lab/fingerprint.json"]).stdout
    )
    assert stored["variant"] == any_variant.name
    assert stored["python"] == PINNED_VERSION
    assert stored["source_sha256"] == dockerfile_pin("PYTHON_SHA256")
    debs = {name.split(":")[0] for name in stored["debian_packages"]}  # libc6:amd64
    assert {"libc6", "libssl3t64", "gcc-14"} <= debs
    assert stored["compiler"].startswith("gcc")
    assert stored["base_rootfs"].startswith("sha256:")
    # Recomputed now (the build's own facts taken from the stored file), it is the same: it
    # depends on the image alone, not on when or where.
    again = run_in_image(
        any_variant.image,
        ["python3", "/usr/local/lib/lab/fingerprint.py", "--inherit", "/etc/lab/fingerprint.json"],
    )
    assert json.loads(again.stdout)["digest"] == stored["digest"]


def test_py_spy_dumps_with_sys_ptrace_at_most(gil_variant: Variant) -> None:
    # ft has no py-spy (see test_packages_from_the_lock). SYS_PTRACE is all the stations
    # grant. Whether py-spy needs even that depends on the host (kernel >= 4.8 with Docker's
    # default seccomp profile lets a same-user child be read without it), so this asserts
    # only that the one capability is enough.
    ran = run_in_image(
        gil_variant.image,
        ["bash", "-c", f"{SLEEPER}; py-spy dump --pid $!"],
        cap_add=["SYS_PTRACE"],
    )
    assert ran.exit_code == 0, ran.stdout + ran.stderr
    assert f"Python v{PINNED_VERSION}" in ran.stdout
    assert "<module> (<string>:1)" in ran.stdout


def test_gdb_py_bt_on_a_running_interpreter(debug: Variant) -> None:
    ran = run_in_image(
        debug.image,
        ["bash", "-c", f"{SLEEPER}; gdb -p $! -batch -ex py-bt 2>&1"],
        cap_add=["SYS_PTRACE"],
    )
    assert "Traceback (most recent call first)" in ran.stdout, ran.stdout[-2000:]
    assert "time.sleep" in ran.stdout or "<module>" in ran.stdout
