"""tests/unit mirrors lab/: the unit tests of lab/WING/MODULE.py are in
tests/unit/WING/test_MODULE.py (of lab/MODULE.py, in tests/unit/test_MODULE.py), so that
whoever changes a module finds its tests by its name. A module without such a file is named
in ELSEWHERE below, with where it is tested instead and why it has no file of its own.

A test file may test more than its module, and a topic that crosses modules has a file
named for the topic (test_hostile.py, test_layers.py): the mirror asks only that no module
goes without a file of its name unless ELSEWHERE says why. tests/unit/stations/ is the
stations' side (each station's checks, in test_<station>.py, and labkit's)."""

from __future__ import annotations

import ast
from pathlib import Path

from lab.config import ROOT

LAB = ROOT / "lab"
UNIT = ROOT / "tests" / "unit"
# lab/ modules with no tests/unit file of their name: where their tests are instead.
# (__init__.py files hold no code, only a docstring at most, and are never listed.)
ELSEWHERE = {
    # the one-line error, a class and its exit code: every test that expects one line
    # (pytest.raises(LabError)) tests it, tests/unit/test_cli.py at the command line
    "lab/errors.py": "everywhere",
    # container labels, constants only: tests/unit/engine/test_docker.py checks that no
    # other module spells one
    "lab/engine/labels.py": "tests/unit/engine/test_docker.py",
    # a registry on a loopback port needs an engine: the classroom's container tests
    "lab/engine/loopback_registry.py": "tests/classroom/",
    # signals during a run: what a run does on one is the run's own test
    "lab/engine/signals.py": "tests/unit/run/test_run_guards.py",
    # `invoke lock` runs uv against the package index, by hand when a .in changes; the
    # images' builds install what it wrote, hashes checked
    "lab/images/locks.py": "tests/images/",
    # report.json and report.md are written by every station run: their escaping and a
    # full disk at their write in test_hostile_output.py, the files they list in
    # test_page_files.py, their reading back in test_report_model.py
    "lab/run/report.py": "tests/unit/run/test_hostile_output.py",
}


def modules() -> list[str]:
    """Every module of lab/, as its path from the repository's root."""
    found = (p for p in LAB.rglob("*.py") if p.name != "__init__.py")
    return sorted(p.relative_to(ROOT).as_posix() for p in found)


def mirror_of(module: str) -> Path:
    """Where MODULE's tests are by the mirror (lab/run/page.py: tests/unit/run/test_page.py)."""
    path = Path(module).relative_to("lab")
    return UNIT / path.parent / f"test_{path.name}"


def test_every_module_has_a_test_file_of_its_name_or_says_where_its_tests_are() -> None:
    missing = [m for m in modules() if not mirror_of(m).exists() and m not in ELSEWHERE]
    assert not missing, (
        "a module without tests/unit/<wing>/test_<module>.py: add that file, or name the "
        f"module in ELSEWHERE with where its tests are: {missing}"
    )


def test_each_exception_is_still_one() -> None:
    """A module gone or given a test file of its name leaves ELSEWHERE."""
    stale = [m for m in ELSEWHERE if m not in modules() or mirror_of(m).exists()]
    assert not stale, f"no longer exceptions: {stale}"
    for where in ELSEWHERE.values():
        assert where == "everywhere" or (ROOT / where).exists(), where


def test_each_folder_of_unit_tests_is_a_wing_of_lab_or_the_stations() -> None:
    folders = {p.parent.name for p in UNIT.glob("*/test_*.py")}
    wings = {p.name for p in LAB.iterdir() if (p / "__init__.py").exists()}
    assert folders <= wings | {"stations"}, folders - wings


def test_the_init_files_hold_no_code() -> None:
    """What an __init__.py holds has no test file to go to: only a docstring, then."""
    for init in LAB.rglob("__init__.py"):
        body = ast.parse(init.read_text()).body
        docstring = body[:1] if body and isinstance(body[0], ast.Expr) else []
        assert body == docstring, f"{init.relative_to(ROOT)} holds code"


def test_no_module_imports_a_test_file() -> None:
    """What test files share lives in helper modules (tests/scripted_station.py,
    tests/unit/stations/judging.py, ...): a test file imported by another is run twice by
    pytest and grows helpers nobody looks for there."""
    importing = []
    for path in sorted((ROOT / "tests").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom):
                names = [node.module or ""] + [f"{node.module}.{a.name}" for a in node.names]
            elif isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            else:
                continue
            if any(part.startswith("test_") for name in names for part in name.split(".")):
                importing.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert not importing, importing
