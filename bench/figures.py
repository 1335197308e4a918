"""The figures the issue notes quote, from full station runs on this machine.

    python bench/figures.py [N ...]      (default: 3 4 5 6)

Runs `invoke station N --skip-reading --json` and prints, per station, the measured
observations worth quoting (station 3's speedup table, station 4's ratios, ...).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
QUOTED = {
    "3": ("scaling.cores", "by_workers", "busy_cores", "single_s", "ft_single_thread_cost",
          "start_", "send_"),
    "4": ("_rps", "uvloop_over_asyncio", "python_over_c", "per_task", "cpus"),
    "5": ("transpose_growth", "copy_growth"),
    "6": ("wasted_percent", "at_once", "throughput_gain", "grad_over_no_grad", "device",
          "cuda_available", "launch_ms", "synchronize_blocked_ms", "item_blocked_ms"),
}  # fmt: skip


def station_report(number: str) -> dict:
    invoke = str(Path(sys.executable).with_name("invoke"))
    done = subprocess.run(
        [invoke, "station", number, "--skip-reading", "--json"],
        cwd=ROOT, capture_output=True, text=True, env=os.environ,
    )  # fmt: skip
    return json.loads(done.stdout)


def main() -> None:
    for number in sys.argv[1:] or list(QUOTED):
        report = station_report(number)
        print(f"== station {number}: {report['seconds']:.0f} s, passed: {report['passed']}")
        for record in report["observations"]:
            key = f"{record['experiment']}.{record['name']}"
            if any(part in key for part in QUOTED.get(number, ())):
                print(f"  {key}@{record['variant']}: {record['value']} {record['unit']}")


if __name__ == "__main__":
    main()
