"""The workloads the synthesis profiles, taken from station 3 (its prime counter).

python3 workload.py python   pure Python: the eval loop's column
python3 workload.py numpy    NumPy ufuncs: the C functions' column
"""

from __future__ import annotations

import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

STATION_3 = Path(__file__).resolve().parents[1] / "03-gil"
sys.path.insert(0, str(STATION_3))

from primes import count_primes  # noqa: E402  (station 3's benchmark, one worker)


def python_work() -> int:
    return count_primes(0, 1, 200_000)


def numpy_work() -> float:
    import numpy as np

    values = np.linspace(0.0, 100.0, 1_000_000)
    return float(np.sqrt(np.sin(values) ** 2 + 1.0).sum())


@contextmanager
def running(kind: str, seconds: float, settle: float) -> Iterator[int]:
    """The pid of KIND's workload running in a child for SECONDS at most, SETTLE seconds
    after its start (imports done, in its loop); the child is killed afterwards."""
    child = subprocess.Popen([sys.executable, __file__, kind, str(seconds)])
    try:
        time.sleep(settle)
        yield child.pid
    finally:
        child.kill()
        child.wait()


if __name__ == "__main__":
    kind, seconds = sys.argv[1], float(sys.argv[2])
    work = {"python": python_work, "numpy": numpy_work}[kind]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        work()
