"""The single-thread cost of 3.13t on a standard suite: pyperformance's benchmarks, run
offline with pyperf (installed in the images from the hashed lock; nothing is downloaded).

Station 3's prime count is one workload, and an arithmetic loop at that: the tax a
learner should take away comes from a suite. Each benchmark module is run as pyperf
runs it (worker processes, calibrated loops), and the mean time per call observed; the
checks put ft's beside stock's. Then each benchmark's code is run once in this process
and its instructions read back with dis: what the specializing interpreter rewrote on
stock (attribute loads, calls, ...) is what 3.13t, which does not specialize, goes without.
The HOWTO gives "about 40% on the pyperformance suite" and does not say how its builds were
made; the lab's images are built without PGO and LTO (OPTIMIZE=no in images/cpython/
Dockerfile) unless `invoke images --optimize` built them: the build is observed and shown.
"""

from __future__ import annotations

import argparse
import dis
import hashlib
import runpy
import subprocess
import sys
import sysconfig
import tempfile
import time
from collections import Counter
from pathlib import Path

from labkit import observe, quick

BENCHMARKS = ["chaos", "deltablue", "float", "go", "nbody", "raytrace", "richards", "spectral_norm"]
QUICK_BENCHMARKS = ["float", "nbody", "richards"]
# --fast: pyperf's rough answers (10 worker processes, 2 values each); quick: fewer still.
PYPERF_ARGS = ["-p", "2", "-n", "2", "-w", "1"] if quick() else ["--fast"]
WAIT = 300  # the longest one benchmark may take: a hang fails, loudly


def benchmarks_dir() -> Path:
    try:
        import pyperformance
    except ImportError:
        raise SystemExit("single_thread_tax: pyperformance is not in this image") from None
    return Path(pyperformance.__file__).parent / "data-files" / "benchmarks"


def mean_seconds(script: Path) -> float:
    """pyperf's mean time per call of one benchmark, run in pyperf's own worker processes."""
    import pyperf

    with tempfile.TemporaryDirectory() as scratch:
        out = Path(scratch) / "result.json"
        argv = [sys.executable, str(script), *PYPERF_ARGS, "--quiet", "-o", str(out)]
        subprocess.run(argv, check=True, timeout=WAIT, stdout=subprocess.DEVNULL)
        return pyperf.Benchmark.load(str(out)).mean()


class OnceRunner:
    """Stands in for pyperf.Runner when a benchmark runs in-process: each function once."""

    def __init__(self, *args, **kwargs) -> None:
        self.metadata: dict = {}
        self.argparser = argparse.ArgumentParser()

    def parse_args(self, *args):
        return self.argparser.parse_args([])

    def bench_func(self, name, function, *args, **kwargs):
        return function(*args)

    def bench_time_func(self, name, function, *args, **kwargs):
        return function(1, *args)

    def bench_command(self, *args, **kwargs):
        return None


def specializations(script: Path) -> Counter:
    """The specialized instructions in SCRIPT's functions after its benchmark ran once."""
    import pyperf

    real_runner, pyperf.Runner = pyperf.Runner, OnceRunner
    try:
        namespace = runpy.run_path(str(script), run_name="__main__")
    finally:
        pyperf.Runner = real_runner
    functions = [f for f in namespace.values() if callable(f)]
    functions += [m for cls in namespace.values() if isinstance(cls, type)
                  for m in vars(cls).values() if callable(m)]  # fmt: skip
    found: Counter = Counter()
    for function in functions:
        code = getattr(function, "__code__", None)
        if code is None or code.co_filename != str(script):
            continue
        plain = dis.get_instructions(function)
        for old, new in zip(plain, dis.get_instructions(function, adaptive=True), strict=True):
            if new.opname != old.opname and not new.opname.startswith("RESUME"):
                found[new.opname] += 1
    return found


def pgo_lto() -> bool:
    """Whether this interpreter was built with PGO and LTO. The lab's images are not, unless
    built with `invoke images --optimize` (OPTIMIZE=no is images/cpython/Dockerfile's
    default): both builds run slower, and their ratio may move."""
    configured = sysconfig.get_config_var("CONFIG_ARGS") or ""
    return "--enable-optimizations" in configured and "--with-lto" in configured


def same_code_seconds() -> float:
    """The host's speed, read with code that is the same on both builds: SHA-256 over 16 MB
    (OpenSSL's C, no bytecode, no specializer, no GIL held). Best of 3. Stock and 3.13t run
    in separate containers at different times; this, before and after each suite, is the
    A/A test that says how much of their ratio the host alone could make."""
    data = bytes(16 << 20)
    best = float("inf")
    for _ in range(3):
        started = time.perf_counter()
        hashlib.sha256(data).digest()
        best = min(best, time.perf_counter() - started)
    return best


def main() -> None:
    where = benchmarks_dir()
    names = QUICK_BENCHMARKS if quick() else BENCHMARKS
    same_code = [same_code_seconds()]
    means, specialized = {}, Counter()
    for name in names:
        script = where / f"bm_{name}" / "run_benchmark.py"
        means[name] = mean_seconds(script)
        specialized += specializations(script)
        print(f"  {name:<14} {means[name] * 1e3:9.2f} ms per call")
    same_code.append(same_code_seconds())
    total = sum(specialized.values())
    print(f"specialized instructions in the benchmarks' code after one run: {total}")
    for opname, n in specialized.most_common(8):
        print(f"  {opname:<32} {n}")
    observe("benchmarks", names)
    observe("pyperf_args", " ".join(PYPERF_ARGS))
    observe("mean_s", means, "s per call")
    observe("same_code_s", same_code, "s, before and after the suite")
    observe("specialized_count", sum(specialized.values()))
    observe("specialized_commonest", dict(specialized.most_common(8)))
    observe("python", sys.version.split()[0])
    observe("pgo_lto", pgo_lto())


if __name__ == "__main__":
    main()
