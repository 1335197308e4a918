"""py-spy, the eval loop's and the C functions' columns: flame graphs of two workloads.

py-spy reads the interpreter's frames from outside the process (no code change, no
restart): here it attaches to a running workload for SECONDS. With --native it also
unwinds the C stack, so the time inside NumPy's C loops shows under the Python line that
called them. The SVGs land in the results folder.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from labkit import observe, output_dir, quick
from workload import running

SECONDS = 1 if quick() else 4  # of sampling, at RATE samples a second
RATE = 250
# A flame graph's boxes: <title>function (file:line) (N samples, P%)</title>
BOX = re.compile(r"<title>(.+?) \((\d[\d,]*) samples?, ([\d.]+)%\)</title>")


def record(kind: str, native: bool) -> Path:
    """Attach py-spy to a running workload for SECONDS; the flame graph's path."""
    svg = output_dir() / f"flame-{kind}{'-native' if native else ''}.svg"
    # Attaching (--pid), not launching: sampling ends while the workload still runs, so
    # py-spy never races the process's exit (`py-spy record -- cmd --native` can).
    with running(kind, seconds=SECONDS + 30, settle=0.5) as pid:  # 0.5 s: NumPy imported
        argv = ["py-spy", "record", "--pid", str(pid), "--duration", str(SECONDS)]
        argv += ["--rate", str(RATE), "--output", str(svg), "--format", "flamegraph"]
        # --function: one box per function (by default py-spy splits a function by line)
        argv += ["--native"] if native else ["--function"]
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, timeout=SECONDS + 60)
    return svg


def share(svg: Path, pattern: str) -> float:
    """The largest share of samples (%) in a box whose name matches PATTERN."""
    found = [float(p) for name, _, p in BOX.findall(svg.read_text()) if re.search(pattern, name)]
    return max(found, default=0.0)


def main() -> None:
    python_svg = record("python", native=False)
    in_is_prime = share(python_svg, r"^is_prime ")
    print(f"{python_svg.name}: {in_is_prime:.0f}% of the samples are inside is_prime")
    observe("python_flame", python_svg.name)
    observe("is_prime_share", in_is_prime, "%")

    native_svg = record("numpy", native=True)
    # NumPy's C inner loops, named like DOUBLE_sin or npy_sqrt, in _multiarray_umath.
    in_c_loops = share(native_svg, r"(?i)(sin|sqrt|square|umath|ufunc)")
    print(f"{native_svg.name}: {in_c_loops:.0f}% of the samples are in NumPy's C loops")
    observe("native_flame", native_svg.name)
    observe("numpy_c_share", in_c_loops, "%")


if __name__ == "__main__":
    main()
