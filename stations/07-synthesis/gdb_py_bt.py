"""The debug build's view: gdb attached to a running interpreter, C stack and Python stack.

py-spy samples from outside; gdb stops the process and shows both stacks at once. It
works on a hung process or a core file, and `py-bt`, `py-list`, `py-locals` come from
CPython's Tools/gdb/libpython.py, loaded in this image.
"""

from __future__ import annotations

import re
import subprocess

from labkit import observe
from workload import running

GDB = ["gdb", "-batch", "-ex", "bt 12", "-ex", "py-bt"]


STOPS = 5  # gdb stops the loop wherever it is: now and then between two is_prime calls


def stop_once(pid: int) -> tuple[str, list[str], list[str]]:
    """gdb's output for one stop of PID, and the C and Python frames it names."""
    output = subprocess.run(
        [*GDB, "-p", str(pid)], capture_output=True, text=True, timeout=120
    ).stdout
    c_frames = re.findall(r"^#\d+\s+(?:0x\w+ in )?(\w+)", output, re.MULTILINE)
    python_frames = re.findall(r'File ".*?", line \d+, in (\S+)', output)
    return output, c_frames, python_frames


def main() -> None:
    with running("python", seconds=60, settle=1.0) as pid:  # 1 s: into the loop
        stops = 1
        output, c_frames, python_frames = stop_once(pid)
        while "is_prime" not in python_frames and stops < STOPS:
            stops += 1
            output, c_frames, python_frames = stop_once(pid)
    print("\n".join(line for line in output.splitlines() if line.startswith(("#", " ", "T"))))
    observe("c_frames", c_frames)
    observe("python_frames", python_frames)
    observe("stops", stops)  # how many stops it took to land inside is_prime


if __name__ == "__main__":
    main()
