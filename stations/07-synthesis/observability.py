"""Two ways the interpreter lets tools in, seen working on station 3's workload.

-X perf: CPython compiles a small trampoline per Python function and writes a perf map
(/tmp/perf-PID.map) naming each one `py::function:file`, so a native profiler (perf)
shows Python functions in its C stacks. No capability is needed to write or read the
map; only running perf itself would need perf_event_open, which this lab does not grant.

sys.monitoring (PEP 669): a tool asks for events on one code object, and the interpreter
rewrites that code's instructions into INSTRUMENTED_* ones; asking for nothing puts the
originals (specialized ones included) back. dis(adaptive=True) shows both.
"""

from __future__ import annotations

import dis
import subprocess
import sys
import time
from pathlib import Path

from labkit import observe
from workload import STATION_3

sys.path.insert(0, str(STATION_3))
from primes import is_prime

WORKLOAD = Path(__file__).resolve().parent / "workload.py"


def perf_map() -> list[str]:
    """The perf map a short `-X perf` run of the workload leaves behind."""
    child = subprocess.Popen([sys.executable, "-X", "perf", str(WORKLOAD), "python", "1"])
    child.wait(60)
    path = Path(f"/tmp/perf-{child.pid}.map")
    for _ in range(50):  # written as functions are first run; complete once the child exits
        if path.is_file():
            break
        time.sleep(0.1)
    lines = path.read_text().splitlines() if path.is_file() else []
    path.unlink(missing_ok=True)
    return lines


def opnames(function) -> list[str]:
    return [i.opname for i in dis.get_instructions(function, adaptive=True)]


def monitored() -> dict[str, list[str]]:
    """is_prime's instructions: warm, with LINE and PY_RETURN events on, and after."""
    for n in range(2000):
        is_prime(n)
    monitoring = sys.monitoring
    tool = monitoring.DEBUGGER_ID
    monitoring.use_tool_id(tool, "lab")
    lines: list[int] = []
    monitoring.register_callback(
        tool, monitoring.events.LINE, lambda code, line: lines.append(line)
    )
    monitoring.register_callback(tool, monitoring.events.PY_RETURN, lambda *args: None)
    seen = {"warm": opnames(is_prime)}
    wanted = monitoring.events.LINE | monitoring.events.PY_RETURN
    monitoring.set_local_events(tool, is_prime.__code__, wanted)
    seen["events on"] = opnames(is_prime)
    is_prime(97)
    monitoring.set_local_events(tool, is_prime.__code__, 0)
    seen["events off"] = opnames(is_prime)
    monitoring.free_tool_id(tool)
    seen["lines reported for is_prime(97)"] = [str(n) for n in lines]
    return seen


def main() -> None:
    entries = perf_map()
    python_entries = [line.split(" ", 2)[2] for line in entries if " py::" in line]
    print(f"-X perf: {len(entries)} entries in the perf map, {len(python_entries)} for Python"
          " functions, e.g.")  # fmt: skip
    for entry in [e for e in python_entries if "is_prime" in e or "count_primes" in e][:3]:
        print(f"  {entry}")
    observe("perf_map_entries", len(entries))
    observe("perf_map_python", [e for e in python_entries if "primes.py" in e])

    seen = monitored()
    instrumented = {k: sorted({op for op in v if op.startswith("INSTRUMENTED")}) for k, v in
                    seen.items() if not k.startswith("lines")}  # fmt: skip
    for stage, ops in instrumented.items():
        print(f"sys.monitoring, {stage:<10}: instrumented {ops or 'none'}")
    print(f"  LINE events fired for lines {', '.join(seen['lines reported for is_prime(97)'])}")
    observe("instrumented", instrumented)
    observe("specialized_after", sorted({op for op in seen["events off"] if "_INT" in op}))
    observe("line_events", len(seen["lines reported for is_prime(97)"]))


if __name__ == "__main__":
    main()
