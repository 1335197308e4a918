"""One station's experiments for one variant, run with this machine's own Python: no engine,
no image, no container. For a GPU machine that has torch and a driver but no Docker (a
rented GPU VM before `scripts/setup.sh`, a cluster node), so that station 6's CUDA half is
measured on a real GPU and judged by the station's own checks.

    python bench/station_direct.py [--station 6] [--variant cuda] [--quick] [--output DIR]

The experiments, the supervisor, the observation parsing, the checks and the explain
section are the lab's own (`lab.run.station_run.StationRun`); only the runner differs: the
supervisor runs here instead of in the variant's image, so the versions are this
machine's (the report's `python` and `torch` say which), not the lab's pins. The reading
list is not resolved (its source trees are in the images). Writes DIR/report.json.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from dataclasses import asdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from lab.config import ROOT, TORCH_IMAGES
from lab.errors import LabError
from lab.run import stations
from lab.run.observations import load_checks
from lab.run.runner import STATIONS_MOUNT, Frames, Job, Lines, Outcome, plan
from lab.run.station_run import Options, StationRun


class DirectRunner:
    """The Runner protocol with the supervisor in a local process instead of a container."""

    def prepare(self, groups, output, labels) -> None:
        pass

    def run(self, variant, job, *, capabilities, output, labels, on_line) -> Outcome:
        # The job names the container's paths: the stations mount, the output mount.
        here = stations.stations_dir()
        argv = [sys.executable, job.argv[1].replace(STATIONS_MOUNT, str(here)), *job.argv[2:]]
        local = Job(job.name, argv, {**job.env, "LAB_OUTPUT": str(output)}, job.timeout)
        env = {**os.environ, "PYTHONPATH": str(here / "_lib")}
        frames, lines = Frames(0, job.timeout, on_line), Lines()
        command = [sys.executable, "-m", "labkit.supervisor", plan([local])]
        with subprocess.Popen(command, env=env, stdout=subprocess.PIPE) as process:
            for chunk in iter(lambda: process.stdout.read1(65536), b""):
                for line in lines.feed(chunk):
                    frames.take(line)
        return frames.outcome or Outcome(process.returncode or 1, 0.0, "the supervisor stopped")

    def resolve_reading(self, variant, entries, labels) -> list[dict]:
        raise LabError("the reading list needs the image's source trees")

    def stop_all(self) -> list[str]:
        return []

    def close(self) -> None:
        pass


def versions() -> dict:
    """What ran the experiments: this Python, and torch and its GPU where there are."""
    probe = (
        "import json, torch; c = torch.cuda.is_available(); print(json.dumps({"
        "'torch': torch.__version__, 'cuda': torch.version.cuda,"
        " 'gpu': c and torch.cuda.get_device_name()}))"
    )
    found = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True)
    facts = json.loads(found.stdout) if found.returncode == 0 else {"torch": None}
    return {"python": platform.python_version(), "machine": platform.machine(), **facts}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--station", default="6")
    parser.add_argument("--variant", default="cuda", help="whose experiments run here")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--output", type=Path, default=ROOT / "results" / "bench" / "direct")
    args = parser.parse_args()
    station = stations.find(args.station)
    if args.variant in TORCH_IMAGES:  # the image the station names by role, "torch"
        station = station.with_torch(args.variant)
    options = Options(read=False, variant=args.variant, quick=args.quick)
    args.output.mkdir(parents=True, exist_ok=True)
    run = StationRun(station, options, DirectRunner(), print)
    run.output = args.output
    started = time.monotonic()
    run.run()
    run.check(load_checks(station.checks_file) if station.checks_file.is_file() else [])
    run.explain()
    report = {**run.report, **versions(), "seconds": time.monotonic() - started}
    report["observations"] = [asdict(o) for o in run.observations.records]
    report["passed"] = run.passed()
    (args.output / "report.json").write_text(json.dumps(report, indent=1, default=str))
    counts = [c["status"] for c in report["checks"]]
    print(f"\n{report['gpu'] or 'no GPU'}, torch {report['torch']}, Python {report['python']}: "
          + ", ".join(f"{counts.count(s)} {s}" for s in ("pass", "skip", "fail")))  # fmt: skip
    sys.exit(0 if report["passed"] else 1)


if __name__ == "__main__":
    main()
