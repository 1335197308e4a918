"""The one line format between experiments (in containers) and the engine (on the host)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

MARKER = "@@lab-observation "


def observe(name: str, value: Any, unit: str = "") -> None:
    """Report a measured value under NAME (JSON-serialisable), for checks and the report."""
    record = {"name": name, "value": value, "unit": unit}
    print(MARKER + json.dumps(record), flush=True)


def parse_line(line: str) -> dict | None:
    """The observation on LINE, or None for ordinary output."""
    if not line.startswith(MARKER):
        return None
    return json.loads(line[len(MARKER) :])


def output_dir() -> Path:
    """Where an experiment saves files (plots, flame graphs) for the report."""
    folder = Path(os.environ.get("LAB_OUTPUT", "/tmp/lab-output"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def quick() -> bool:
    """True when the run asked for small workloads (`invoke station N --quick`, the tests)."""
    return os.environ.get("LAB_QUICK") == "1"
