"""The station engine's overhead: `invoke station N` against the same experiments run with
bare `docker run`, one after another (images built). Best of 3 each; runs of the two
alternate, so a busy spell on the host slows both.

    python bench/stations.py [N ...]      (default: 1 2 5; a station whose images are not
                                           built is left out, saying so)
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from lab.config import ALL_VARIANTS, ROOT, STATIONS_DIR
from lab.engine import docker
from lab.images import builder
from lab.run import stations


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
                    "-e", "PYTHONPATH=/lab/stations/_lib", ALL_VARIANTS[variant].image,
                    "python3", f"/lab/stations/{station.folder.name}/{experiment.script}",
                ]
            )  # fmt: skip
    return total


def main() -> None:
    invoke = str(Path(sys.executable).with_name("invoke"))
    figures = {}
    for number in sys.argv[1:] or ["1", "2", "5"]:
        station = stations.find(number).with_torch(builder.torch_image(built_only=True).name)
        variants = {v for e in station.experiments for v in e.variants}
        missing = sorted(v for v in variants if docker.image_labels(ALL_VARIANTS[v].image) is None)
        if missing:
            figures[f"station {number}"] = f"left out: {', '.join(missing)} not built"
            continue
        engine, plain = [], []
        for _ in range(3):
            engine.append(timed([invoke, "station", number]))
            plain.append(bare(station))
        engine, plain = min(engine), min(plain)
        figures[f"station {number}"] = {
            "invoke_s": round(engine, 2),
            "bare_docker_run_s": round(plain, 2),
            "overhead_ratio": round(engine / plain, 2),
        }
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
