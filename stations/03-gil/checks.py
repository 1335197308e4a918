"""Station 3's checks. The thresholds follow the machine: C usable cores, read at C workers."""

PARALLEL = 0.7  # a mode that runs in parallel reaches at least 0.7 x C at C workers
SERIAL = 1.2  # a mode the GIL serializes stays under 1.2x


def cores(obs) -> int:
    return max(obs.by_variant("scaling.cores").values())


def parallel(obs, mode: str, variant: str, what: str, want: float | None = None):
    """(passed, detail) for a mode expected to scale; skipped on one core.

    It passes on its speedup at C workers. Where a busy host stretched the wall clock (a VM's
    neighbours, steal), it passes on the cores its workers kept busy at once, which a GIL
    holds near 1 whatever the host does, provided the speedup still beats any GIL's: workers
    busy spinning on a lock would keep the cores busy too, and get nowhere.
    """
    c = cores(obs)
    speedup = obs[f"scaling.{mode}_speedup@{variant}"]
    busy = obs[f"scaling.{mode}_busy_cores@{variant}"]
    if c < 2:
        return None, f"{c} usable core: nothing can run in parallel ({what}: {speedup:.2f}x)"
    want = PARALLEL * c if want is None else want
    detail = (
        f"{what}: {speedup:.2f}x at {c} workers, {busy:.2f} cores busy"
        f" (want >= {want:.1f}x, or {want:.1f} cores busy and over {SERIAL}x)"
    )
    slowed_by_host = SERIAL <= speedup < want <= busy
    if slowed_by_host:
        detail += "; the workers ran side by side but the host gave them less time"
    return speedup >= want or slowed_by_host, detail


def check_every_mode_counts_the_same_primes(obs):
    """Every mode and worker count found the same number of primes"""
    found = set()
    for counts in obs.by_variant("scaling.prime_counts_found").values():
        found.update(counts)
    return len(found) == 1, f"counts found: {sorted(found)}"


def check_stock_threads_do_not_scale(obs):
    """On stock, pure-Python threads take turns holding the GIL: no speedup"""
    speedup = obs["scaling.threads_speedup@stock"]
    busy = obs["scaling.threads_busy_cores@stock"]
    detail = f"{speedup:.2f}x at {cores(obs)} workers, {busy:.2f} cores busy (want < {SERIAL}x)"
    return speedup < SERIAL, detail


def check_ft_threads_scale(obs):
    """On 3.13t the same threads run in parallel (the single-thread cost is reported)"""
    passed, detail = parallel(obs, "threads", "ft", "ft threads")
    single = obs["scaling.threads_single_s@ft"] / obs["scaling.threads_single_s@stock"]
    return passed, f"{detail}; one thread on ft takes {single:.2f}x stock's time"


def check_gil_switched_back_on_serializes(obs):
    """On 3.13t with PYTHON_GIL=1 the GIL is back and the threads serialize again"""
    really_on = obs["scaling.gil_on_really_on@ft"]
    speedup = obs["scaling.threads_gil_speedup@ft"]
    busy = obs["scaling.threads_gil_busy_cores@ft"]
    detail = (
        f"GIL enabled: {really_on}, {speedup:.2f}x at {cores(obs)} workers, {busy:.2f} cores busy"
    )
    return really_on and speedup < SERIAL, detail


def check_numpy_threads_scale_on_stock(obs):
    """NumPy releases the GIL inside its loops, so its threads scale even on stock"""
    return parallel(obs, "numpy_threads", "stock", "NumPy threads", want=1.3)


def check_processes_scale(obs):
    """Processes scale on stock: one interpreter, and one GIL, each"""
    return parallel(obs, "processes", "stock", "processes")


def check_subinterpreters_scale(obs):
    """Subinterpreters scale on stock: a GIL per interpreter (PEP 684)"""
    return parallel(obs, "subinterpreters", "stock", "subinterpreters")


def check_subinterpreter_starts_faster_than_a_fresh_process(obs):
    """A subinterpreter starts faster than a spawned process (fork is reported beside it)"""
    sub, spawn, fork = (
        obs[f"interpreters_cost.start_{k}_ms"] for k in ("subinterpreter", "spawn", "fork")
    )
    detail = f"subinterpreter {sub:.1f} ms, spawn {spawn:.1f} ms, fork {fork:.1f} ms"
    return sub < spawn, detail


def check_shared_memory_beats_the_pipe(obs):
    """Handing a subinterpreter a memoryview beats pickling the bytes to a process"""
    shared = obs["interpreters_cost.send_subinterpreter_shared_ms"]
    pipe = obs["interpreters_cost.send_process_pipe_ms"]
    mb = obs["interpreters_cost.payload_mb"]
    return shared < pipe, f"{mb} MB: shared view {shared:.3f} ms, pipe to a process {pipe:.1f} ms"
