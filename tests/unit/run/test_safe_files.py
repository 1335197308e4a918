"""lab/run/safe_files.py: folders nested deeper than a run's output should ever be are one
line, on every Python.

Python 3.11's directory walks recurse and hit the recursion limit near 1000 levels; from
3.12 on os.walk and os.fwalk are iterative and would walk 100,000 levels. The lab stops at
a depth of its own (safe_files.MAX_DEPTH), the same on each.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from lab.errors import LabError
from lab.run import safe_files


def nest(top: Path, levels: int) -> None:
    """LEVELS folders, each in the last, by descriptor (a path would grow past PATH_MAX)."""
    fd = os.open(top, os.O_RDONLY)
    for _ in range(levels):
        os.mkdir("d", dir_fd=fd)
        inner = os.open("d", os.O_RDONLY, dir_fd=fd)
        os.close(fd)
        fd = inner
    os.close(fd)


def test_links_are_not_looked_for_past_the_depth_bound(tmp_path) -> None:
    nest(tmp_path, safe_files.MAX_DEPTH + 1)
    with pytest.raises(LabError, match="nested folders too deep"):
        safe_files.links_leaving(tmp_path)


def test_ownership_is_not_handed_back_past_the_depth_bound(tmp_path) -> None:
    (tmp_path / "run").mkdir()
    nest(tmp_path / "run", safe_files.MAX_DEPTH + 1)
    fd = os.open(tmp_path, os.O_RDONLY)
    try:
        with pytest.raises(LabError, match="nested folders too deep"):
            safe_files.chown_tree(fd, "run", os.getuid(), os.getgid())
    finally:
        os.close(fd)


def test_folders_up_to_the_bound_are_walked(tmp_path) -> None:
    nest(tmp_path, safe_files.MAX_DEPTH)
    assert safe_files.links_leaving(tmp_path) == []


def test_the_bound_is_below_python_311s_recursion_limit() -> None:
    assert 100 <= safe_files.MAX_DEPTH < 900
