"""The curriculum's snippet, run as written and in asyncio's debug mode, in fresh interpreters.

It sets loop.slow_callback_duration and stalls for 0.2 s. The warning ("Executing <Task
...> took 0.2xx seconds") comes from BaseEventLoop._run_once, which times each callback
only when the loop is in debug mode: the source is read back here to show the guard.
"""

import ast
import inspect
import os
import re
import subprocess
import sys
import textwrap
from asyncio import base_events

from labkit import observe

SEED = textwrap.dedent("""\
    import asyncio, sys
    async def main():
        loop = asyncio.get_running_loop()
        loop.slow_callback_duration = 0.05
        # deliberately stall
        import time; time.sleep(0.2)
    asyncio.run(main())
""")
WARNING = re.compile(r"Executing (<.*>) took (\d+\.\d+) seconds")

# Two ways into debug mode that leave the snippet as it is; "as written" clears both.
DEBUG_SWITCHES = ("PYTHONASYNCIODEBUG", "PYTHONDEVMODE")
MODES = {  # name: (how it is run, interpreter flags, environment)
    "as_written": ("python -c SEED", [], {}),
    "asyncio_debug": ("PYTHONASYNCIODEBUG=1 python -c SEED", [], {"PYTHONASYNCIODEBUG": "1"}),
    "dev_mode": ("python -X dev -c SEED", ["-X", "dev"], {}),
}


def run_seed(flags: list[str], extra_env: dict[str, str]) -> str:
    """The snippet in a new interpreter; what it wrote to stderr (where logging goes)."""
    env = {k: v for k, v in os.environ.items() if k not in DEBUG_SWITCHES} | extra_env
    done = subprocess.run(
        [sys.executable, *flags, "-c", SEED], env=env, capture_output=True, text=True, timeout=60
    )
    return done.stderr


def timing_guard() -> tuple[str, int]:
    """The `if` around the slow-callback timing in _run_once, and its line number."""
    source, first = inspect.getsourcelines(base_events.BaseEventLoop._run_once)
    tree = ast.parse(textwrap.dedent("".join(source)))
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "slow_callback_duration" in ast.unparse(node.body):
            return f"if {ast.unparse(node.test)}:", first + node.lineno - 1
    return "(no if around the timing)", 0


print(SEED)
for mode, (how, flags, extra_env) in MODES.items():
    stderr = run_seed(flags, extra_env)
    found = WARNING.search(stderr)
    print(f"-- {mode} ({how}): {'warning' if found else 'no warning'}")
    print(textwrap.indent(stderr.strip() or "(stderr empty)", "   "))
    observe(f"warned_{mode}", bool(found))
    if found:
        observe(f"stall_seconds_{mode}", float(found.group(2)), "s")
        observe(f"slow_handle_{mode}", found.group(1))

guard, line = timing_guard()
print(f"{base_events.__file__}:{line}: {guard} (callbacks are timed only under it)")
observe("timing_guard", guard)
observe("timing_guard_at", f"{base_events.__file__}:{line}")
