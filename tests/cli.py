"""Run the real `invoke` command line, as a learner types it."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from lab.config import ROOT

INVOKE = Path(sys.executable).with_name("invoke")


@dataclass
class Result:
    code: int
    stdout: str
    stderr: str


def invoke(
    *args: str, env: dict[str, str] | None = None, timeout: float = 600, cwd: Path | None = None
) -> Result:
    where = ["--search-root", str(ROOT)] if cwd else []  # tasks.py, from another folder
    done = subprocess.run(
        [str(INVOKE), *where, *args],
        cwd=cwd or ROOT,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        timeout=timeout,
        check=False,
    )
    return Result(done.returncode, done.stdout, done.stderr)


def assert_one_clear_line(result: Result, *fragments: str) -> None:
    """Bad input: a non-zero exit and one line that says what to do, no traceback."""
    assert result.code != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr + result.stdout
    for fragment in fragments:
        assert fragment in lines[0]
