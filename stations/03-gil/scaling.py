"""Speedup against workers: the prime-counting benchmark run every way Python runs in parallel.

On stock: threads (one GIL), processes, subinterpreters (one GIL each, PEP 684), and a
NumPy thread pool (NumPy lets go of the GIL inside its loops). On ft (3.13t): threads with
no GIL, and threads with the GIL switched back on (`-X gil=1`, as PYTHON_GIL=1 does).
Each point is the best of REPEATS runs of the same total work; speedup = time(1) / time(n).
Beside each speedup: how many cores were busy at once (the workers' CPU seconds over the
wall time), which tells parallel from serialized even when the host slows the whole machine;
how many cores the rest of the host kept busy meanwhile, which tells a busy host from
workers that never ran at once; and an A/A test, each mode's lone worker timed twice in
the same rounds, which says how far the host's noise alone moves a ratio.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from functools import partial
from itertools import repeat
from pathlib import Path

from labkit import machine, observe, output_dir, quick
from labkit.compare import alternating
from primes import timed_count

HERE = Path(__file__).resolve().parent
LIMIT = 150_000 if quick() else 500_000  # one core of a laptop: ~0.15 s, ~0.7 s
NUMPY_ELEMENTS = 2_000_000 if quick() else 8_000_000
NUMPY_BLOCK = 32_768
NUMPY_ROUNDS = 4 if quick() else 10
# Rounds: a quick run's are short (0.1-0.2 s), so take more of them. On an idle 2-core VM,
# best of 5 still ranged 1.41-1.92x for subinterpreters and 1.50-2.16x for the pool; and a
# full run's best of 3 left A/A tests off by up to 37%, which no speedup could clear.
REPEATS = 9 if quick() else 5
# The longest any one wait may take (a worker's share, a thread's join, a queue's get): a
# worker that hangs fails the experiment with a TimeoutError, not the station forever.
WAIT = 120
# The A/A contender: each mode's lone worker, timed a second time in the same rounds.
AGAIN = "1 again"


def usable_cores() -> int:
    return len(os.sched_getaffinity(0))  # what the container may use, not the host's count


def physical_cores(cpus: set[int]) -> int:
    """Distinct (package, core) pairs among CPUS, where sysfs says: 2 hyperthreads of one
    core count once. Where the topology is not readable, every CPU counts."""
    topology = Path("/sys/devices/system/cpu")
    found = set()
    for cpu in cpus:
        try:
            core = (topology / f"cpu{cpu}/topology/core_id").read_text().strip()
            package = (topology / f"cpu{cpu}/topology/physical_package_id").read_text().strip()
        except OSError:
            return len(cpus)
        found.add((package, core))
    return len(found)


def worker_counts(cores: int) -> list[int]:
    """1, 2, ... up to twice the cores; on a big machine, the powers of two and the cores."""
    if cores <= 4:
        return list(range(1, 2 * cores + 1))
    return sorted({2**i for i in range(cores.bit_length() + 1)} | {cores, 2 * cores})


# -- the modes: each starts its most workers once, then yields "run the job on n of them" --
# A run returns what it computed and the CPU seconds its workers spent.
Run = Callable[[int], tuple[int, float]]


def totals(shares) -> tuple[int, float]:
    """(sum of results, sum of CPU seconds) over the workers' (result, seconds) pairs."""
    results, seconds = zip(*shares, strict=True)
    return sum(results), sum(seconds)


def split_job(map_: Callable, workers: int) -> tuple[int, float]:
    """The whole prime count, cut into one share per worker and handed out with map_."""
    return totals(map_(timed_count, range(workers), repeat(workers), repeat(LIMIT)))


@contextmanager
def threads(most: int) -> Iterator[Run]:
    with ThreadPoolExecutor(most) as pool:
        yield lambda workers: split_job(partial(pool.map, timeout=WAIT), workers)


@contextmanager
def processes(most: int) -> Iterator[Run]:
    with ProcessPoolExecutor(most) as pool:
        list(pool.map(abs, range(most), timeout=WAIT))  # start them before the clock does
        yield lambda workers: split_job(partial(pool.map, timeout=WAIT), workers)


@contextmanager
def subinterpreters(most: int) -> Iterator[Run]:
    # 3.13 ships PEP 734's API as test.support.interpreters (concurrent.interpreters in 3.14).
    from test.support import interpreters
    from test.support.interpreters import queues

    results = queues.create()
    pool = [interpreters.create() for _ in range(most)]
    for interp in pool:
        # The queue module must be loaded in an interpreter before a queue can be passed in.
        interp.exec("from test.support.interpreters import queues")
        interp.prepare_main(results=results)
        interp.exec(f"import sys; sys.path.insert(0, {str(HERE)!r}); import primes")

    def run(workers: int) -> tuple[int, float]:
        # exec blocks its thread; each interpreter has its own GIL, so the threads overlap.
        jobs = [
            threading.Thread(
                target=interp.exec,
                args=(f"results.put(primes.timed_count({k}, {workers}, {LIMIT}))",),
            )
            for k, interp in enumerate(pool[:workers])
        ]
        for job in jobs:
            job.start()
        for job in jobs:
            job.join(WAIT)
            if job.is_alive():
                raise TimeoutError(f"a subinterpreter did not finish in {WAIT} s")
        return totals(results.get(timeout=WAIT) for _ in jobs)

    try:
        yield run
    finally:
        for interp in pool:
            interp.close()


@contextmanager
def numpy_threads(most: int) -> Iterator[Run]:
    import numpy as np

    samples = np.linspace(0.0, 100.0, NUMPY_ELEMENTS)

    def crunch(part) -> tuple[int, float]:
        # Blocks that stay in cache, and no allocation in the loop: what is timed is the
        # ufuncs' inner loops, which run without the GIL.
        started = time.thread_time()
        out = np.empty(NUMPY_BLOCK)
        for _ in range(NUMPY_ROUNDS):
            for start in range(0, len(part), NUMPY_BLOCK):
                block = part[start : start + NUMPY_BLOCK]
                result = out[: len(block)]
                np.sin(block, out=result)
                np.multiply(result, result, out=result)
                np.sqrt(result, out=result)
        return len(part), time.thread_time() - started

    with ThreadPoolExecutor(most) as pool:
        parts = np.array_split
        yield lambda workers: totals(pool.map(crunch, parts(samples, workers), timeout=WAIT))


MODES = {
    "threads": threads,
    "processes": processes,
    "subinterpreters": subinterpreters,
    "numpy_threads": numpy_threads,
}


# -- measuring ------------------------------------------------------------------------------
def host_busy_seconds(cpus: set[int]) -> float:
    """CPU seconds every process on the host has spent on CPUS since boot, time stolen by the
    hypervisor included. /proc/stat is the host's, not the container's."""
    ticks = 0
    with open("/proc/stat") as stat:
        for line in stat:
            name, *fields = line.split()
            if name[:3] == "cpu" and name[3:].isdigit() and int(name[3:]) in cpus:
                user, nice, system, _idle, _iowait, irq, softirq, steal = map(int, fields[:8])
                ticks += user + nice + system + irq + softirq + steal
    return ticks / os.sysconf("SC_CLK_TCK")


def timed(run: Run, workers: int) -> tuple[float, float, int]:
    """(wall seconds, cores busy, what it computed) for one run of the job on WORKERS."""
    started = time.perf_counter()
    result, cpu_seconds = run(workers)
    took = time.perf_counter() - started
    return took, cpu_seconds / took, result


def measure(modes: list[str], counts: list[int], label: str = "") -> dict[str, dict]:
    """For each mode, by worker count: the best run's seconds and the cores busy during it;
    what every run computed; and the cores the rest of the host kept busy meanwhile."""
    with ExitStack() as stack:
        started = {mode: stack.enter_context(MODES[mode](max(counts))) for mode in modes}
        # Rounds over every mode and worker count, not one after another: a burst of load
        # from elsewhere then spoils one run of each, not all runs of one; and the process
        # pool, the yardstick the checks judge the other modes by, runs beside them.
        # No warm-up round: keeping each one's best run leaves a cold first one out.
        contenders = {
            (mode, workers): partial(timed, run, workers)
            for mode, run in started.items()
            for workers in counts
        }
        contenders |= {(mode, AGAIN): partial(timed, run, 1) for mode, run in started.items()}
        cpus = os.sched_getaffinity(0)
        host_then, clock = host_busy_seconds(cpus), time.perf_counter()
        runs = alternating(contenders, REPEATS, warm_up=False)
        host_busy, wall = host_busy_seconds(cpus) - host_then, time.perf_counter() - clock
    # What the host's CPUs did beyond our workers' CPU seconds: other processes, the hypervisor's
    # steal, and (a little) this process handing out the work.
    ours = sum(took * cores for timed_runs in runs.values() for took, cores, _ in timed_runs)
    others = max(0.0, host_busy - ours) / wall
    measured = {
        mode: summarize(label or mode, {w: runs[(mode, w)] for w in [*counts, AGAIN]})
        for mode in modes
    }
    print(f"  the rest of the host kept {others:.2f} cores busy meanwhile")
    return {mode: {**figures, "others_busy": others} for mode, figures in measured.items()}


def summarize(label: str, runs: dict) -> dict:
    """Best seconds and cores busy by worker count; SAME, the A/A test: the lone worker's
    second timing (AGAIN) over its first, which only the machine's noise moves off 1."""
    best = {workers: min(timed_runs) for workers, timed_runs in runs.items()}
    again = best.pop(AGAIN)[0]
    seconds = {workers: took for workers, (took, _, _) in best.items()}
    busy = {workers: cores for workers, (_, cores, _) in best.items()}
    results = [result for timed_runs in runs.values() for _, _, result in timed_runs]
    for workers, took in seconds.items():
        speedup = seconds[1] / took
        print(
            f"  {label:<18} {workers:>2} workers  {took:6.3f} s  {speedup:5.2f}x"
            f"  {busy[workers]:4.2f} cores busy"
        )
    same = again / seconds[1]
    print(f"  {label:<18}  1 worker again {again:6.3f} s: A/A {same:.3f}x")
    return {"seconds": seconds, "busy": busy, "results": results, "same": same}


def measure_with_gil_on(counts: list[int]) -> dict:
    """The same threads on the free-threaded build with the GIL back on, in a child process."""
    argv = [sys.executable, "-X", "gil=1", __file__, "--child", ",".join(map(str, counts))]
    done = subprocess.run(argv, capture_output=True, text=True, check=True, timeout=10 * WAIT)
    print(done.stderr, end="")  # the child's progress lines
    measured = json.loads(done.stdout)
    by_workers = {key: {int(w): x for w, x in measured[key].items()} for key in ("seconds", "busy")}
    return {**measured, **by_workers}


def observe_mode(mode: str, measured: dict, cores: int) -> None:
    seconds = measured["seconds"]
    speedups = {w: seconds[1] / s for w, s in seconds.items()}
    observe(f"{mode}_speedup", speedups[cores], f"x at {cores} workers")
    observe(f"{mode}_by_workers", {str(w): round(x, 3) for w, x in speedups.items()}, "x")
    observe(f"{mode}_single_s", seconds[1], "s")
    observe(f"{mode}_seconds_at_cores", seconds[cores], f"s at {cores} workers")
    observe(f"{mode}_busy_cores", measured["busy"][cores], f"cores at {cores} workers")
    observe(f"{mode}_same", measured["same"], "x, 1 worker timed against itself (A/A)")


def main() -> None:
    free_threaded = bool(sysconfig.get_config_var("Py_GIL_DISABLED"))
    variant = "ft" if free_threaded else "stock"
    cores = usable_cores()
    counts = worker_counts(cores)
    print(f"{variant}: {cores} usable cores, workers {counts}, primes below {LIMIT:,}")
    # The process pool is the yardstick: no GIL or lock limits it, so what it reaches is
    # what this host gives parallel work now. It runs on ft too, beside ft's threads.
    modes = ["threads", "processes"] if free_threaded else list(MODES)
    throttled_before = machine.throttled()
    measured = measure(modes, counts)
    if free_threaded:
        measured["threads_gil"] = measure_with_gil_on(counts)
        observe("gil_on_really_on", measured["threads_gil"]["gil_enabled"])
    for mode, figures in measured.items():
        observe_mode(mode, figures, cores)
    # All modes ran in the same rounds: one figure for the rest of the host's load.
    observe(
        "others_busy_cores", measured["processes"]["others_busy"], "cores, the rest of the host"
    )
    # Every mode and worker count must find the same number of primes.
    found = {r for mode, m in measured.items() if mode != "numpy_threads" for r in m["results"]}
    observe("prime_counts_found", sorted(found))
    observe("prime_counts_by_mode", {
        mode: sorted(set(m["results"])) for mode, m in measured.items() if mode != "numpy_threads"
    })  # fmt: skip
    observe("limit", LIMIT)
    observe("quick", quick())  # the workloads' size: a check judges floors on full ones only
    observe("cores", cores)
    observe("physical_cores", physical_cores(os.sched_getaffinity(0)))
    # What else of the machine limits parallel work: the container's CPU quota (it may use
    # fewer CPUs than it sees) and the time the kernel held it back for that quota.
    observe("cpu_quota", machine.cpu_quota(), "CPUs (cgroup; null: no quota)")
    observe("host_cpus", os.cpu_count(), "CPUs of the machine (or VM) the engine runs on")
    observe("throttled_s", machine.throttled_since(throttled_before), "s held back (cgroup)")
    table = {"variant": variant, "cores": cores, "limit": LIMIT, "modes": {
        mode: {str(w): s for w, s in m["seconds"].items()} for mode, m in measured.items()
    }}  # fmt: skip
    (output_dir() / f"scaling-{variant}.json").write_text(json.dumps(table, indent=1))


def child(counts: list[int]) -> None:
    """Run by measure_with_gil_on: progress to stderr, figures as JSON on stdout."""
    sys.stdout, real_stdout = sys.stderr, sys.stdout
    figures = measure(["threads"], counts, label="threads, GIL on")["threads"]
    real_stdout.write(json.dumps({**figures, "gil_enabled": sys._is_gil_enabled()}))


if __name__ == "__main__":
    if sys.argv[1:2] == ["--child"]:
        child([int(w) for w in sys.argv[2].split(",")])
    else:
        main()
