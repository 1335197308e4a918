"""The workloads the synthesis profiles, taken from station 3 (its prime counter).

python3 workload.py python   pure Python: the eval loop's column
python3 workload.py numpy    NumPy ufuncs: the C functions' column
"""

from __future__ import annotations

import sys
from pathlib import Path

STATION_3 = Path(__file__).resolve().parents[1] / "03-gil"
sys.path.insert(0, str(STATION_3))

from primes import count_primes  # noqa: E402  (station 3's benchmark, one worker)


def python_work(limit: int) -> int:
    return count_primes(0, 1, limit)


def numpy_work(rounds: int) -> float:
    import numpy as np

    values = np.linspace(0.0, 100.0, 1_000_000)
    total = 0.0
    for _ in range(rounds):
        total += float(np.sqrt(np.sin(values) ** 2 + 1.0).sum())
    return total


if __name__ == "__main__":
    kind, size = sys.argv[1], int(sys.argv[2])
    print(python_work(size) if kind == "python" else numpy_work(size))
