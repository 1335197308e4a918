"""The host package's floors: a module imports only from its own wing or from a floor below.

lab/ reads bottom-up: the foundation (errors, config, table, untrusted input), the engine's
CLI, the images, a station run, a classroom (its images, its hand-ins of runs and the class
page that re-judges them), and doctor on top, which looks at everything. A newcomer changing
one wing learns that wing and the floors under it, never the ones above or beside it.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from lab.config import ROOT

PACKAGE = ROOT / "lab"
# Floor by wing; the top-level modules are named one by one.
FLOORS = {
    "errors": 0,
    "config": 0,
    "table": 0,
    "untrusted": 0,
    "untrusted_tar": 0,
    "files": 0,
    "progress": 0,
    "engine": 1,
    "images": 2,
    "run": 3,
    "classroom": 4,
    "doctor": 5,
    "cli": 6,  # the command line's manners, for tasks.py only
}


def wing(module: str) -> str:
    """`lab.run.runner` -> `run`; `lab.config` -> `config`."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else ""


def module_name(path: Path) -> str:
    relative = path.relative_to(ROOT).with_suffix("")
    parts = [p for p in relative.parts if p != "__init__"]
    return ".".join(parts)


def lab_imports(path: Path) -> set[str]:
    """The lab modules PATH imports, as dotted names (`from lab.run import runner` counts
    as `lab.run.runner`)."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("lab"):
            for alias in node.names:
                candidate = f"{node.module}.{alias.name}"
                is_module = (ROOT / Path(*candidate.split("."))).with_suffix(".py").exists()
                found.add(candidate if is_module else node.module)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("lab.")}
    return found


MODULES = sorted(PACKAGE.rglob("*.py"))


def test_every_wing_has_a_floor() -> None:
    wings = {wing(module_name(p)) for p in MODULES} - {""}
    assert wings <= FLOORS.keys(), f"give these a floor in FLOORS: {wings - FLOORS.keys()}"


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(ROOT)))
def test_no_module_imports_from_above_or_beside(path: Path) -> None:
    name = module_name(path)
    mine = wing(name)
    if not mine:  # lab/__init__.py
        return
    wrong = []
    for imported in sorted(lab_imports(path)):
        theirs = wing(imported)
        if theirs == mine:
            continue
        if FLOORS[theirs] >= FLOORS[mine] and not (FLOORS[mine] == 0 == FLOORS[theirs]):
            wrong.append(f"{imported} (floor {FLOORS[theirs]}, {name} is on {FLOORS[mine]})")
    assert not wrong, f"{name} imports from above or beside it: {wrong}"


def test_the_checker_sees_a_wrong_import(tmp_path) -> None:
    """The test above would pass on a checker that finds nothing: show it finds one."""
    module = tmp_path / "runner.py"
    module.write_text("from lab.classroom import bundle\nfrom lab.engine.docker import docker\n")
    assert lab_imports(module) == {"lab.classroom.bundle", "lab.engine.docker"}
