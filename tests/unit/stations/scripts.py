"""A station's experiment as a module, for tests of its arithmetic (the measuring part runs
only under `if __name__ == "__main__"` or in the images)."""

from __future__ import annotations

import importlib
import sys
from types import ModuleType

from lab.config import STATIONS_DIR


def experiment(folder: str, name: str) -> ModuleType:
    """stations/FOLDER/NAME.py imported, sys.path left as it was."""
    saved = list(sys.path)
    sys.path.insert(0, str(STATIONS_DIR / folder))
    try:
        return importlib.import_module(name)
    finally:
        sys.path[:] = saved
