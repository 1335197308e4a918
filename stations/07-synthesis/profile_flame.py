"""py-spy, the eval loop's and the C functions' columns: flame graphs of two workloads.

py-spy reads the interpreter's frames from outside the process (no code change, no
restart): here it attaches to a running workload for SECONDS. With --native it also
unwinds the C stack, so the time inside NumPy's C code shows under the Python line that
called it: the ufunc machinery that picks a loop (ufunc_generic_fastcall, ...) and, under
it, the inner loops that do the arithmetic, one C function per type and operation, built
for several instruction sets where NumPy dispatches by CPU (DOUBLE_sin_AVX512_SKX,
DOUBLE_sqrt_SSE41: which one runs depends on the CPU). The SVGs land in the results folder.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from labkit import observe, output_dir, quick
from workload import running

SECONDS = 1 if quick() else 4  # of sampling, at RATE samples a second
RATE = 250
# A flame graph's boxes (inferno's SVG): the title names the function, fg:x and fg:w are the
# box's first sample and its width in samples.
BOX = re.compile(r'<title>(.+?) \(\d[\d,]* samples?, [\d.]+%\)</title><rect [^>]*?'
                 r'fg:x="(\d+)" fg:w="(\d+)"')  # fmt: skip
# NumPy's inner loops: TYPE_operation, with the instruction set it was built for where the
# loop is dispatched by CPU (DOUBLE_sin_AVX512_SKX, DOUBLE_pairwise_sum): the functions
# that walk the arrays, not the ufunc dispatch above them.
NUMPY_MODULE = r"\(numpy/_core/_multiarray_umath[^)]*\)$"
INNER_LOOP = re.compile(
    r"^[A-Z]+_(?:sin|sqrt|square|add|pairwise_sum)(?:_[A-Z0-9_]+)? " + NUMPY_MODULE
)


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


def boxes(svg: Path) -> list[tuple[str, int, int]]:
    """Each box of a flame graph: its function, first sample and width in samples."""
    return [(name, int(x), int(w)) for name, x, w in BOX.findall(svg.read_text())]


def share(found: list[tuple[str, int, int]], pattern: str | re.Pattern[str]) -> float:
    """The share of samples (%) with a function matching PATTERN anywhere on their stack.

    A box spans its samples; a caller's box spans its callees', so the union of the
    matching boxes' spans counts each sample once, recursion (pairwise_sum) included."""
    total = max((w for name, _, w in found if name == "all"), default=0)
    spans = sorted((x, x + w) for name, x, w in found if re.search(pattern, name))
    covered, reached = 0, 0
    for start, end in spans:
        covered += max(0, end - max(start, reached))
        reached = max(reached, end)
    return 100 * covered / total if total else 0.0


def inner_loops(found: list[tuple[str, int, int]]) -> dict[str, float]:
    """Each NumPy inner loop in the profile and its share of the samples (%), largest first."""
    names = {name for name, _, _ in found if INNER_LOOP.search(name)}
    shares = {name.split(" ")[0]: share(found, f"^{re.escape(name)}$") for name in names}
    return dict(sorted(shares.items(), key=lambda item: (-item[1], item[0])))


def main() -> None:
    python_svg = record("python", native=False)
    in_is_prime = share(boxes(python_svg), r"^is_prime ")
    print(f"{python_svg.name}: {in_is_prime:.0f}% of the samples are inside is_prime")
    observe("python_flame", python_svg.name)
    observe("is_prime_share", in_is_prime, "%")

    native_svg = record("numpy", native=True)
    found = boxes(native_svg)
    in_numpy_c = share(found, NUMPY_MODULE)
    loops = inner_loops(found)
    in_loops = share(found, INNER_LOOP)
    print(f"{native_svg.name}: {in_numpy_c:.0f}% of the samples are in NumPy's C code,"
          f" {in_loops:.0f}% in its inner loops:")  # fmt: skip
    for name, percent in loops.items():
        print(f"  {percent:5.1f}%  {name}")
    observe("native_flame", native_svg.name)
    observe("numpy_c_share", in_numpy_c, "%")
    observe("inner_loop_share", in_loops, "%")
    observe("inner_loops", {name: round(percent, 1) for name, percent in loops.items()})


if __name__ == "__main__":
    main()
