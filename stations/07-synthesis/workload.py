"""The workloads the synthesis profiles, taken from station 3 (its prime counter).

python3 workload.py python   pure Python: the eval loop's column
python3 workload.py numpy    NumPy ufuncs: the C functions' column
"""

from __future__ import annotations

import sys
import time
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


if __name__ == "__main__":
    kind, seconds = sys.argv[1], float(sys.argv[2])
    work = {"python": python_work, "numpy": numpy_work}[kind]
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        work()
