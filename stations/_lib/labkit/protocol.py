"""The one line format between experiments (in containers) and the engine (on the host)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

MARKER = "@@lab-observation "


def observe(name: str, value: Any, unit: str = "") -> None:
    """Report a measured value under NAME (JSON-serialisable), for checks and the report.

    NaN and infinities raise ValueError here: JSON has no such numbers, and the host
    would drop the observation.
    """
    record = {"name": name, "value": value, "unit": unit}
    print(MARKER + json.dumps(record, allow_nan=False), flush=True)


def output_dir() -> Path:
    """Where an experiment saves files (plots, flame graphs) for the report."""
    folder = Path(os.environ.get("LAB_OUTPUT", "/tmp/lab-output"))
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def quick() -> bool:
    """True when the run asked for small workloads (`invoke station N --quick`, the tests)."""
    return os.environ.get("LAB_QUICK") == "1"
