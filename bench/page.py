"""What the page adds to a station run: drawing the figures and writing report.html, from
the newest finished run of each station in results/, in a fresh process each time (the
imports are part of the cost: a run pays them once). Best of 3.

    python bench/page.py [N ...]      (default: every station with a run in results/)
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from lab.config import ROOT, results_dir
from lab.run import stations

# One run's page, as station_run writes it, timed from before the page's imports.
PAGE_ONLY = """
import json, sys, time
started = time.perf_counter()
from pathlib import Path
from lab.run import figures, page, report_model
report = report_model.read(Path(sys.argv[1]).read_bytes(), sys.argv[1])
drawn = figures.draw(Path(sys.argv[2]), report)
html = page.station_page(report, drawn)
print(json.dumps({"seconds": time.perf_counter() - started, "figures": len(drawn),
                  "bytes": len(html.encode())}))
"""


def newest_report(label: str) -> Path | None:
    runs = sorted((results_dir() / f"station-{label}").glob("*/report.json"))
    return runs[-1] if runs else None


def timed(report: Path, station_dir: Path) -> dict:
    argv = [sys.executable, "-c", PAGE_ONLY, str(report), str(station_dir)]
    done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True, check=True)
    return json.loads(done.stdout)


def main(labels: list[str]) -> None:
    found, _ = stations.scan()
    for station in found:
        if labels and station.label not in labels:
            continue
        report = newest_report(station.label)
        if report is None:
            print(f"station {station.label}: no run in results/, left out")
            continue
        runs = [timed(report, station.folder) for _ in range(3)]
        best = min(runs, key=lambda run: run["seconds"])
        seconds = json.loads(report.read_text()).get("seconds", 0)
        print(
            f"station {station.label}: page {best['seconds']:.2f} s ({best['figures']} figures, "
            f"{best['bytes'] / 1024:.0f} KiB) against the run's {seconds:.0f} s"
        )


if __name__ == "__main__":
    main(sys.argv[1:])
