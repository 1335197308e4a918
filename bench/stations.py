"""The station engine's overhead: `invoke station N` against the same experiments run with
bare `docker run`, one after another (images built).

    python bench/stations.py [N ...]      (default: 1 2)
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from lab import stations
from lab.config import ROOT, STATIONS_DIR, VARIANTS


def timed(argv: list[str]) -> float:
    started = time.monotonic()
    subprocess.run(argv, cwd=ROOT, capture_output=True, check=False)
    return time.monotonic() - started


def bare(station: stations.Station) -> float:
    """Every experiment of the station with plain `docker run`: no reading, checks or report."""
    total = 0.0
    for experiment in station.experiments:
        for variant in experiment.variants:
            total += timed(
                [
                    "docker", "run", "--rm", "-v", f"{STATIONS_DIR}:/lab/stations:ro",
                    "-e", "PYTHONPATH=/lab/stations/_lib", VARIANTS[variant].image,
                    "python3", f"/lab/stations/{station.folder.name}/{experiment.script}",
                ]
            )  # fmt: skip
    return total


def main() -> None:
    invoke = str(Path(sys.executable).with_name("invoke"))
    figures = {}
    for number in sys.argv[1:] or ["1", "2"]:
        station = stations.find(number)
        engine = min(timed([invoke, "station", number]) for _ in range(3))
        plain = min(bare(station) for _ in range(3))
        figures[f"station {number}"] = {
            "invoke_s": round(engine, 2),
            "bare_docker_run_s": round(plain, 2),
            "overhead_ratio": round(engine / plain, 2),
        }
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
