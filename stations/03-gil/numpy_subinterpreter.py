"""NumPy in a subinterpreter with its own GIL: refused, and how.

An isolated subinterpreter (PEP 684's own GIL) may load only extension modules that say
they support it (Py_mod_multiple_interpreters); NumPy's _multiarray_umath does not, and
Python/import.c refuses it. Each case runs in a child process, because one of them is
not a clean refusal on the pinned versions: with NumPy never loaded in the main
interpreter, the import aborts the whole process.
"""

from __future__ import annotations

import signal
import subprocess
import sys

from labkit import observe

CASE = """
{prelude}
from test.support import interpreters
interp = interpreters.create()
try:
    interp.exec("import numpy")
    print("imported")
except interpreters.ExecutionFailed as error:
    lines = [line for line in str(error).splitlines() if "subinterpreters" in line]
    print(lines[-1].strip() if lines else str(error).splitlines()[0])
interp.close()
"""
CASES = {
    "NumPy already loaded in the main interpreter": "import numpy",
    "NumPy never loaded in the main interpreter": "",
}


def outcome(prelude: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", CASE.format(prelude=prelude)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    code = done.returncode
    died = f"killed by {signal.Signals(-code).name}" if code < 0 else f"exit {code}"
    said = (done.stdout.strip().splitlines() or done.stderr.strip().splitlines() or [""])[-1]
    return {"process": died, "said": said, "stderr": done.stderr.strip()[-200:]}


def main() -> None:
    results = {case: outcome(prelude) for case, prelude in CASES.items()}
    for case, result in results.items():
        print(f"{case}: {result['process']}; {result['said']}")
    observe("outcomes", results)


if __name__ == "__main__":
    main()
