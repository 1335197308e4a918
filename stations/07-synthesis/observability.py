"""Two ways the interpreter lets tools in, seen working on station 3's workload.

-X perf: the first time a Python function runs, CPython hands it its own copy of a small
assembly trampoline (a template built into the interpreter, Python/asm_trampoline.S,
copied into executable memory: nothing is compiled at run time) and writes a perf map
(/tmp/perf-PID.map) naming that copy `py::function:file`, so a native profiler (perf)
shows Python functions in its C stacks. No capability is needed to write or read the
map; only running perf itself would need perf_event_open, which this lab does not grant.

sys.monitoring (PEP 669): a tool asks for events on one code object, and the interpreter
rewrites the instructions that fire them into INSTRUMENTED_* ones: for LINE events the
first instruction of each line, for INSTRUCTION events every one. What it keeps, to put
back later, is the generic instruction, not the specialized one (Python/instrumentation.c:
instrument_line and instrument_per_instruction store _PyOpcode_Deopt[opcode]). No line of
is_prime starts with a specialized instruction, so LINE events alone would leave its
specializations be; INSTRUCTION events reach them all. Once the events are off, is_prime's
BINARY_OP_MULTIPLY_INT is a plain BINARY_OP again, its counter reset to warm-up, and it is
specialized anew only after more calls. dis(adaptive=True) shows each stage.
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
WARM_UP = range(2000)  # the numbers is_prime is called on to warm it up: every branch runs


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


def warm_up() -> None:
    for n in WARM_UP:
        is_prime(n)


def monitored() -> tuple[dict[str, list[str]], list[int]]:
    """is_prime's instructions warm, with LINE and INSTRUCTION events on, and just after;
    and the lines reported while the events were on (for one call, is_prime(97))."""
    warm_up()
    monitoring = sys.monitoring
    tool = monitoring.DEBUGGER_ID
    monitoring.use_tool_id(tool, "lab")
    lines: list[int] = []
    monitoring.register_callback(
        tool, monitoring.events.LINE, lambda code, line: lines.append(line)
    )
    monitoring.register_callback(tool, monitoring.events.INSTRUCTION, lambda *args: None)
    stages = {"warm": opnames(is_prime)}
    wanted = monitoring.events.LINE | monitoring.events.INSTRUCTION
    monitoring.set_local_events(tool, is_prime.__code__, wanted)
    stages["events on"] = opnames(is_prime)
    is_prime(97)
    monitoring.set_local_events(tool, is_prime.__code__, 0)
    stages["events off"] = opnames(is_prime)
    monitoring.free_tool_id(tool)
    return stages, lines


def rewrites(stages: dict[str, list[str]]) -> list[dict]:
    """Each instruction that was specialized when warm and instrumented while events were on:
    its index and its names: warm, generic (dis.deoptmap), with events on, and just after."""
    found = []
    for index, (warm, during) in enumerate(zip(stages["warm"], stages["events on"], strict=True)):
        if warm in dis.deoptmap and during.startswith("INSTRUMENTED"):
            generic = dis.deoptmap[warm]
            found.append({"index": index, "warm": warm, "generic": generic, "events on": during,
                          "events off": stages["events off"][index]})  # fmt: skip
    return found


def rewarm(rewritten: list[dict]) -> int | None:
    """Call is_prime as the warm-up does, one call at a time, until every instruction in
    REWRITTEN is specialized again; the number of calls that took (None: not within the
    warm-up). Each entry gains its "re-warmed" name."""
    calls = None
    for count, n in enumerate(WARM_UP, start=1):
        is_prime(n)
        now = opnames(is_prime)
        if all(now[r["index"]] != r["generic"] for r in rewritten):
            calls = count
            break
    for r in rewritten:
        r["re-warmed"] = now[r["index"]]
    return calls


def main() -> None:
    entries = perf_map()
    python_entries = [line.split(" ", 2)[2] for line in entries if " py::" in line]
    print(f"-X perf: {len(entries)} entries in the perf map, {len(python_entries)} for Python"
          " functions, e.g.")  # fmt: skip
    for entry in [e for e in python_entries if "is_prime" in e or "count_primes" in e][:3]:
        print(f"  {entry}")
    observe("perf_map_entries", len(entries))
    observe("perf_map_python", [e for e in python_entries if "primes.py" in e])

    stages, lines = monitored()
    rewritten = rewrites(stages)
    calls = rewarm(rewritten)
    instrumented = {stage: sorted({op for op in ops if op.startswith("INSTRUMENTED")})
                    for stage, ops in stages.items()}  # fmt: skip
    for stage, ops in instrumented.items():
        print(f"sys.monitoring, {stage:<10}: instrumented {ops or 'none'}")
    print(f"  LINE events fired for lines {', '.join(map(str, lines))}")
    print("  each specialized instruction: warm -> events on -> events off -> re-warmed")
    for r in rewritten:
        stages_seen = (r["warm"], r["events on"], r["events off"], r["re-warmed"])
        print("    " + " -> ".join(f"{name:<24}" for name in stages_seen).rstrip())
    again = f"after {calls} calls" if calls else f"not within {len(WARM_UP)} calls"
    print(f"  specialized again {again}")
    observe("instrumented", instrumented)
    observe("line_events", len(lines))
    observe("rewrites", rewritten)
    observe("calls_to_respecialize", calls)


if __name__ == "__main__":
    main()
