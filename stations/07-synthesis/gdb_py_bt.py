"""The debug build's view: gdb attached to a running interpreter, C stack and Python stack.

py-spy samples from outside; gdb stops the process and shows both stacks at once. It
works on a hung process or a core file, and `py-bt`, `py-list`, `py-locals` come from
CPython's Tools/gdb/libpython.py, loaded in this image.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

from labkit import observe

WORKLOAD = Path(__file__).with_name("workload.py")
GDB = ["gdb", "-batch", "-ex", "bt 12", "-ex", "py-bt"]


def main() -> None:
    running = subprocess.Popen([sys.executable, str(WORKLOAD), "python", "60"])
    try:
        time.sleep(1.0)  # let it get into the loop
        done = subprocess.run([*GDB, "-p", str(running.pid)], capture_output=True, text=True)
    finally:
        running.kill()
        running.wait()
    output = done.stdout
    c_frames = re.findall(r"^#\d+\s+(?:0x\w+ in )?(\w+)", output, re.MULTILINE)
    python_frames = re.findall(r'File ".*?", line \d+, in (\w+)', output)
    print("\n".join(line for line in output.splitlines() if line.startswith(("#", " ", "T"))))
    observe("c_frames", c_frames)
    observe("python_frames", python_frames)


if __name__ == "__main__":
    main()
