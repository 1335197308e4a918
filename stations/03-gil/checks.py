"""Station 3's checks. Parallel modes are judged against a yardstick measured in the same run:
the process pool's speedup, which no GIL or lock limits, on the same host at the same time;
and against an A/A test, the lone worker timed twice in the same rounds, whose ratio is what
the host's noise alone makes of no difference: a speedup within twice that is not one.
"""

PARALLEL = 0.7  # a mode that runs in parallel reaches 0.7 x what the process pool reaches
# ft's threads share nothing in the prime count: they reach 0.8 of the process pool, both in
# speedup and in work done per busy core (below that, cores are busy contending, not counting).
FT_SHARE = 0.8
SERIAL = 1.2  # a mode the GIL serializes stays under 1.2x
FLOOR = 1.3  # a yardstick under this: the host gave even processes no parallelism today
QUIET = 0.3  # cores the rest of the host kept busy, under which it was quiet
SLOWED = 0.75  # a busy core doing less than this of one lone worker's work wasted its time
# The pool's own work per busy core under this: the host took the cores back (other work,
# a noisy neighbour), and a floor for threads would judge the host, not the threads.
CONTENDED = 0.85
COUNTING_MODES = {"threads", "processes"}  # what counts primes on both builds, at the least
# The number of primes below LIMIT (a sieve's answer, not the benchmark's).
KNOWN_PRIMES = {150_000: 13_848, 500_000: 41_538}


def cores(obs) -> int:
    return max(obs.by_variant("scaling.cores").values())


def quick_run(obs) -> bool:
    """Whether scaling ran --quick's small workloads (a run from before it said: no)."""
    try:
        return any(obs.by_variant("scaling.quick").values())
    except KeyError:
        return False


def physical(obs) -> int:
    return max(obs.by_variant("scaling.physical_cores").values())


def quota(obs) -> float | None:
    """The container's CPU quota in CPUs (cgroup), where it had one (a run from before the
    lab read it: none)."""
    try:
        values = [q for q in obs.by_variant("scaling.cpu_quota").values() if q]
    except KeyError:
        return None
    return min(values) if values else None


def usable(obs) -> int:
    """CPUs that could run workers at once: the ones the container sees, one per physical
    core (two hyperthreads of a core count once), and no more than its CPU quota."""
    limit = quota(obs)
    return min(cores(obs), physical(obs), *([int(limit)] if limit else []))


def largest(obs, key: str) -> float | None:
    """KEY's largest value over the variants, or None (a run from before the lab read it)."""
    try:
        values = [v for v in obs.by_variant(key).values() if isinstance(v, (int, float))]
    except KeyError:
        return None
    return max(values) if values else None


def machine(obs) -> str:
    """What of the machine bounds parallel work, read in the run (not guessed)."""
    said = f"{cores(obs)} CPUs visible, {physical(obs)} physical core(s)"
    host, limit = largest(obs, "scaling.host_cpus"), quota(obs)
    held, others = largest(obs, "scaling.throttled_s"), largest(obs, "scaling.others_busy_cores")
    said += f" of the host's {host} CPUs" if host else ""
    said += f", a CPU quota of {limit:g} (the container's cgroup)" if limit else ""
    said += f", throttled {held:.1f} s during the run" if held else ""
    said += f", the rest of the host kept {others:.2f} cores busy" if others is not None else ""
    return said


def against_stock(obs, mode: str, variant: str) -> str:
    """MODE's time at C workers against stock's one thread: ft's slower thread is no flattery."""
    took = obs[f"scaling.{mode}_seconds_at_cores@{variant}"]
    base = obs["scaling.threads_single_s@stock"]
    return f"{took:.3f} s at {cores(obs)} workers = {base / took:.2f}x stock's one thread"


def no_parallelism(obs, variant: str) -> str | None:
    """Why the host gave VARIANT no parallelism in this run, or None where it did: one usable
    core, or a process pool (the yardstick, which no GIL limits) that did not scale. Where
    there was none, neither "threads scale" nor "threads serialize" can be told from a ratio:
    one worker's ratio is 1.0 by construction."""
    if usable(obs) < 2:
        return f"{machine(obs)}: fewer than 2 usable, no parallelism to deny"
    yardstick = obs[f"scaling.processes_speedup@{variant}"]
    if yardstick < FLOOR:
        return (
            f"the process pool reached only {yardstick:.2f}x on {variant} (under {FLOOR}x):"
            " the host gave no parallelism to deny"
        )
    return None


def parallel(obs, mode: str, variant: str, what: str):
    """(passed, detail) for a mode expected to scale, judged against the process pool's
    speedup on the same variant; skipped where the host gave no parallelism to judge by."""
    c = cores(obs)
    speedup = obs[f"scaling.{mode}_speedup@{variant}"]
    busy = obs[f"scaling.{mode}_busy_cores@{variant}"]
    yardstick = obs[f"scaling.processes_speedup@{variant}"]
    if usable(obs) < 2:
        return None, f"{machine(obs)}: fewer than 2 usable, nothing runs in parallel"
    if yardstick < FLOOR:
        return None, (
            f"the process pool reached only {yardstick:.2f}x at {c} workers on {variant}: the"
            f" host gave no parallelism to judge {what} by ({speedup:.2f}x)"
        )
    # A pool faster than linear (a lone worker slowed by a burst of load) sets no higher bar.
    want = max(FLOOR, PARALLEL * min(yardstick, usable(obs)))
    detail = (
        f"{what}: {speedup:.2f}x at {c} workers against the process pool's {yardstick:.2f}x"
        f" (want >= {want:.2f}x); {busy:.2f} cores busy"
    )
    return beyond_noise(obs, mode, variant, speedup, detail, speedup >= want)


def beyond_noise(obs, mode: str, variant: str, speedup: float, detail: str, passed: bool):
    """PASSED, where the speedup also clears the noise of MODE's A/A test (its lone worker
    timed twice in the same rounds); a skip where that noise swallows it."""
    same = obs[f"scaling.{mode}_same@{variant}"]
    clear, detail = obs.beyond_noise(speedup, same, detail)
    return (None if clear is None else clear and passed), detail


def check_every_mode_counts_the_right_primes(obs):
    """Every mode and worker count found the known number of primes (41,538 below 500,000)"""
    limits = set(obs.by_variant("scaling.limit").values())
    wrong, seen = [], []
    for variant, by_mode in obs.by_variant("scaling.prime_counts_by_mode").items():
        for mode, counts in by_mode.items():
            seen.append(f"{mode}@{variant} {counts}")
            if len(limits) != 1 or counts != [KNOWN_PRIMES.get(next(iter(limits)))]:
                wrong.append(f"{mode}@{variant}")
        missing = COUNTING_MODES - set(by_mode)  # a mode that counted nothing is no answer
        wrong += [f"{mode}@{variant} (not run)" for mode in sorted(missing)]
    limit = next(iter(limits)) if len(limits) == 1 else sorted(limits)
    detail = f"below {limit}: want {KNOWN_PRIMES.get(limit, '?')}; found " + ", ".join(seen)
    return not wrong, detail + (f"; wrong: {', '.join(wrong)}" if wrong else "")


def check_stock_threads_do_not_scale(obs):
    """On stock, pure-Python threads take turns holding the GIL: no speedup"""
    obs.timed()
    speedup = obs["scaling.threads_speedup@stock"]
    busy = obs["scaling.threads_busy_cores@stock"]
    yardstick = obs["scaling.processes_speedup@stock"]
    detail = (
        f"{speedup:.2f}x at {cores(obs)} workers, {busy:.2f} cores busy (want < {SERIAL}x);"
        f" the process pool {yardstick:.2f}x"
    )
    why_not = no_parallelism(obs, "stock")
    if why_not:  # a low ratio where nothing could run in parallel is no evidence of the GIL
        return None, f"{detail}: {why_not}"
    return speedup < SERIAL, detail


def check_ft_threads_scale(obs):
    """On 3.13t the same threads run in parallel, as far as ft's own process pool does"""
    obs.timed()
    c, at_once = cores(obs), usable(obs)
    speedup, busy = obs["scaling.threads_speedup@ft"], obs["scaling.threads_busy_cores@ft"]
    pool, pool_busy = obs["scaling.processes_speedup@ft"], obs["scaling.processes_busy_cores@ft"]
    per_core = speedup / min(busy, at_once)
    pool_per_core = pool / min(pool_busy, at_once)
    single = obs["scaling.threads_single_s@ft"] / obs["scaling.threads_single_s@stock"]
    measured = (
        f"ft threads {speedup:.2f}x at {c} workers with {busy:.2f} cores busy, each core doing"
        f" {per_core:.2f} of a lone thread's work; ft's process pool {pool:.2f}x,"
        f" {pool_per_core:.2f} per busy core; {against_stock(obs, 'threads', 'ft')};"
        f" one thread on ft takes {single:.2f}x stock's time"
    )
    if at_once < 2:
        return None, f"{measured}: {machine(obs)}: fewer than 2 usable, the check needs 2"
    if pool < FLOOR:
        return None, (
            f"{measured}: the pool's {pool:.2f}x (under {FLOOR}x) says the host gave no"
            " parallelism today, so the threads' figure says nothing"
        )
    if quick_run(obs):
        return None, (
            f"{measured}: a --quick run's workers count primes for 0.1-0.2 s, and their 2-thread"
            " speedup ranged 1.42-1.92x from run to run on an idle 2-core VM: too short to hold"
            " threads to the pool's speedup; a full run judges it"
        )
    if pool_per_core < CONTENDED:
        return None, (
            f"{measured}: even the pool kept only {pool_per_core:.2f} of a lone worker's work on"
            f" each busy core (under {CONTENDED}): the host is too busy today to hold threads to"
            " a floor; run the station again on an idle machine"
        )
    # Threads count as parallel when they do what the host gives processes: most of the pool's
    # speedup (up to the cores) and most of its work on each core they keep busy. Cores busy
    # without the work done (1.34x on 1.98 cores) are threads contending, not scaling.
    want = max(FLOOR, FT_SHARE * min(pool, at_once))
    want_per_core = max(SLOWED, FT_SHARE * min(pool_per_core, 1.0))
    detail = (
        f"{measured}. To count on {at_once} cores, the threads must reach {FT_SHARE} of the"
        f" pool's speedup (want >= {want:.2f}x) and of its work per busy core, never under"
        f" {SLOWED} (want >= {want_per_core:.2f})"
    )
    passed = speedup >= want and per_core >= want_per_core
    return beyond_noise(obs, "threads", "ft", speedup, detail, passed)


def check_gil_switched_back_on_serializes(obs):
    """On 3.13t with PYTHON_GIL=1 the GIL is back and the threads serialize again"""
    obs.timed()
    really_on = obs["scaling.gil_on_really_on@ft"]
    speedup = obs["scaling.threads_gil_speedup@ft"]
    busy = obs["scaling.threads_gil_busy_cores@ft"]
    detail = (
        f"GIL enabled: {really_on}, {speedup:.2f}x at {cores(obs)} workers, {busy:.2f} cores busy"
    )
    why_not = no_parallelism(obs, "ft")
    if why_not and really_on:
        return None, f"{detail}: {why_not}"
    return really_on and speedup < SERIAL, detail


def check_numpy_threads_scale_on_stock(obs):
    """NumPy releases the GIL inside its loops, so its threads scale even on stock"""
    obs.timed()
    return parallel(obs, "numpy_threads", "stock", "NumPy threads")


def check_processes_scale(obs):
    """Processes scale on stock: one interpreter, and one GIL, each (the yardstick itself)"""
    obs.timed()
    c, p = cores(obs), usable(obs)
    speedup = obs["scaling.processes_speedup@stock"]
    busy = obs["scaling.processes_busy_cores@stock"]
    others = obs["scaling.others_busy_cores@stock"]
    if p < 2:
        return None, f"{machine(obs)}: fewer than 2 usable, nothing runs in parallel"
    want = PARALLEL * p
    done_per_core = speedup / busy  # what a busy core did, against one worker alone
    detail = (
        f"{speedup:.2f}x at {c} workers on {p} usable cores (want >= {want:.1f}x);"
        f" {busy:.2f} cores busy, each doing {done_per_core:.2f} of a lone worker's work;"
        f" the rest of the host {others:.2f} cores; {against_stock(obs, 'processes', 'stock')}"
    )
    if speedup >= want:
        return beyond_noise(obs, "processes", "stock", speedup, detail, True)
    # Short of the speedup: a busy host, or a pool that does not run in parallel? The rest of
    # the host's load tells them apart; on a quiet host the workers must have run at once,
    # and each busy core must have done its share.
    if others >= QUIET:
        return None, f"{detail}: the host was busy with other work, too busy to judge"
    if busy < want:
        return False, f"{detail}: on a quiet host the workers did not run at once"
    if done_per_core < SLOWED:
        return False, f"{detail}: the workers burned the cores without doing the work"
    return (
        None,
        f"{detail}: the workers had the cores and each ran slower, as cores that share"
        " a physical CPU or a power budget do: this host cannot show the speedup",
    )


def check_subinterpreters_scale(obs):
    """Subinterpreters scale on stock: a GIL per interpreter (PEP 684)"""
    obs.timed()
    passed, detail = parallel(obs, "subinterpreters", "stock", "subinterpreters")
    return passed, f"{detail}; {against_stock(obs, 'subinterpreters', 'stock')}"


def check_subinterpreter_starts_faster_than_a_fresh_process(obs):
    """A subinterpreter starts faster than a spawned process (fork is reported beside it)"""
    obs.timed()
    sub, spawn, fork = (
        obs[f"interpreters_cost.start_{k}_ms"] for k in ("subinterpreter", "spawn", "fork")
    )
    detail = f"subinterpreter {sub:.1f} ms, spawn {spawn:.1f} ms, fork {fork:.1f} ms"
    return sub < spawn, detail


def check_sharing_not_the_worker_kind_removes_the_copy(obs):
    """Shared, neither a process nor a subinterpreter pays for the bytes: pickled, both do"""
    obs.timed()
    mb = obs["interpreters_cost.payload_mb"]
    sub_shared = obs["interpreters_cost.send_subinterpreter_shared_ms"]
    sub_pickled = obs["interpreters_cost.send_subinterpreter_pickled_ms"]
    proc_shared = obs["interpreters_cost.send_process_shared_ms"]
    proc_pickled = obs["interpreters_cost.send_process_pipe_ms"]
    detail = (
        f"{mb} MB shared: subinterpreter (memoryview) {sub_shared:.3f} ms, process"
        f" (shared_memory) {proc_shared:.3f} ms; pickled: subinterpreter {sub_pickled:.1f} ms,"
        f" process (pipe) {proc_pickled:.1f} ms"
    )
    return sub_shared < sub_pickled / 10 and proc_shared < proc_pickled / 10, detail


IMMORTAL = 2**32 - 1  # sys.getrefcount of an immortal object on 3.13t (ob_ref_local's max)


def check_first_thread_immortalizes_deferred_objects(obs):
    """On 3.13t, starting a thread makes deferred-refcount objects (top-level functions) immortal"""
    before = obs["ft_internals.refcounts_before_first_thread@ft"]
    after = obs["ft_internals.refcounts_after_first_thread@ft"]
    ok = before["top-level deferred bit"] and before["top-level function"] < 100
    ok = ok and after["top-level function"] >= IMMORTAL
    ok = ok and after["nested"] == before["nested"] < 100  # not deferred, left alone
    return ok, f"before the first thread: {before}; after: {after}"


def check_counter_loses_updates_without_a_lock(obs):
    """On 3.13t, `counter += 1` from several threads loses updates; a lock makes it exact"""
    expected = obs["ft_internals.counter_expected@ft"]
    unlocked, locked = (obs["ft_internals.counter_unlocked@ft"],
                        obs["ft_internals.counter_locked@ft"])  # fmt: skip
    stock = obs["ft_internals.counter_unlocked@stock"]
    detail = (
        f"want {expected:,}: ft {unlocked:,} without a lock ({expected - unlocked:,} lost),"
        f" {locked:,} with one; stock without a lock {stock:,} (the GIL hid it, no promise)"
    )
    return unlocked < expected and locked == expected, detail


def check_undeclared_extension_turns_the_gil_on(obs):
    """On 3.13t, importing an extension that does not declare Py_mod_gil turns the GIL on"""
    gil = obs["ft_internals.gil_enabled@ft"]
    warning = obs["ft_internals.gil_warning@ft"]
    ok = not gil["at start"] and not gil["after importing declares_no_gil"]
    ok = ok and gil["after importing says_nothing"] and "has not declared" in warning
    return ok, f"GIL enabled: {gil}; {warning[:90] or 'no warning'}"


CLOSE = 1.5  # blocks that straddle the threshold closely: neither more than 1.5x away from it
# The call's own cost (a 1-element np.sin), held under the GIL at any size: past this share of
# the small block's call, the contrast would be the dispatch's, not the threshold's.
DISPATCH_SHARE = 0.25


def straddles(threshold: int | None, under: int, over: int) -> bool:
    """UNDER is at or below THRESHOLD and OVER above it, neither more than CLOSE times away."""
    return threshold is not None and threshold / CLOSE <= under <= threshold < over <= (
        threshold * CLOSE
    )


def check_numpy_keeps_the_gil_on_small_arrays(obs):
    """NumPy threads scale on blocks just over 500 elements, not just under (the GIL is kept)"""
    obs.timed()
    speedups = obs["numpy_threshold.speedups"]
    under, over, far = obs["numpy_threshold.blocks"]
    threshold = obs["numpy_threshold.threshold_elements"]
    workers = obs["numpy_threshold.workers"]
    on_under, on_over, on_far = (
        speedups[f"threads, {b}-element blocks"] for b in (under, over, far)
    )
    yardstick = speedups[f"processes, {over}-element blocks"]
    dispatch = obs["numpy_threshold.dispatch_us"] / obs["numpy_threshold.per_call_us"][str(under)]
    detail = (
        f"threshold in NumPy's source: {threshold} elements; {workers} threads on {under}-element"
        f" blocks {on_under:.2f}x, on {over} {on_over:.2f}x (on {far}, far past it,"
        f" {on_far:.2f}x); processes on {over} {yardstick:.2f}x; dispatch {dispatch:.0%} of a"
        f" {under}-element call"
    )
    if not straddles(threshold, under, over):
        return False, f"{detail}: the blocks do not straddle the threshold closely"
    if dispatch > DISPATCH_SHARE:
        return False, f"{detail}: the small block measures the call's dispatch, not the threshold"
    if obs["numpy_threshold.cores"] < 2:
        return None, f"{detail}: one usable CPU, nothing runs side by side"
    if yardstick < FLOOR:
        return None, f"{detail}: the host gave even processes no parallelism to judge by"
    # Over the threshold, each call still lets go of the GIL and takes it back: the handoffs,
    # not the host, keep 640-element blocks under the pool (1.44-1.75x on a 2-core VM), so
    # no more is asked of them than the clear parallelism of FLOOR.
    detail = (
        f"{detail} (want < {SERIAL}x under it, >= {FLOOR}x over it, and the contrast"
        f" {on_over / on_under:.2f}x beyond the noise)"
    )
    # The contrast is judged like any A/B: two sizes that behave alike cannot clear it.
    clear, detail = obs.beyond_noise(on_over / on_under, obs["numpy_threshold.same"], detail)
    if clear is None:
        return None, detail
    return clear and on_under < SERIAL and on_over >= FLOOR, detail


def check_numpy_refuses_an_isolated_subinterpreter(obs):
    """NumPy's extension refuses to load in a subinterpreter with its own GIL"""
    outcomes = obs["numpy_subinterpreter.outcomes"]
    loaded = outcomes["NumPy already loaded in the main interpreter"]
    fresh = outcomes["NumPy never loaded in the main interpreter"]
    refused = "does not support loading in subinterpreters" in loaded["said"]
    detail = (
        f"with NumPy loaded in main: {loaded['process']}, {loaded['said']}; never loaded in"
        f" main: {fresh['process']}, {fresh['said'] or 'nothing said'}"
    )
    return refused and loaded["process"] == "exit 0", detail


HOWTO_TAX = 1.4  # the 3.13 free-threading HOWTO's "about 40% on the pyperformance suite"


def geometric_mean(values: list[float]) -> float:
    product = 1.0
    for value in values:
        product *= value
    return product ** (1 / len(values))


def against_the_howto(obs, suite: float, prime: float) -> str:
    """The HOWTO's ~1.4x beside ours, and how the images here were built. The HOWTO
    (Doc/howto/free-threading-python.rst, "Single-threaded performance") gives "about 40% on
    the pyperformance suite", mostly from the disabled specializer, and says nothing of how
    its builds were made: the lab shows its own build (PGO+LTO or not), and claims no more."""
    optimized = obs.by_variant("single_thread_tax.pgo_lto")
    near = f"within 0.2 of the HOWTO's ~{HOWTO_TAX}x: the suite {abs(suite - HOWTO_TAX) < 0.2},"
    near += f" the prime count {abs(prime - HOWTO_TAX) < 0.2}"
    if all(optimized.values()):
        return f"{near} (both images built with PGO+LTO here)"
    plain = sorted(variant for variant, built in optimized.items() if not built)
    images = f"{' and '.join(plain)} {'were' if len(plain) > 1 else 'was'}"
    return (
        f"{near}; {images} built here without PGO+LTO (OPTIMIZE=no, images/cpython/"
        "Dockerfile's default; `invoke images --optimize` builds with them), and the HOWTO "
        "does not say how its builds were made: the two may not be like for like"
    )


def check_single_thread_tax_on_a_standard_suite(obs):
    """One thread on 3.13t is slower than on stock across pyperformance, where stock specializes"""
    obs.timed()
    stock, ft = obs["single_thread_tax.mean_s@stock"], obs["single_thread_tax.mean_s@ft"]
    ratios = {name: ft[name] / stock[name] for name in stock if name in ft}
    suite = geometric_mean(list(ratios.values())) if ratios else 0.0
    prime = obs["scaling.threads_single_s@ft"] / obs["scaling.threads_single_s@stock"]
    stock_specialized = obs["single_thread_tax.specialized_count@stock"]
    ft_specialized = obs["single_thread_tax.specialized_count@ft"]
    cells = ", ".join(f"{name} {ratio:.2f}x" for name, ratio in ratios.items())
    # The specialized counts are constants of the builds (3.13t's specializer is off): shown,
    # not judged. What is judged is the time, against what the host alone made of the same
    # C code timed before and after each build's suite (an A/A across the two containers).
    same = same_code_ratio(obs)
    detail = (
        f"ft / stock: {cells}; geometric mean {suite:.2f}x, the prime count {prime:.2f}x;"
        f" {against_the_howto(obs, suite, prime)}; instructions specialized in the"
        f" benchmarks' code (the builds', not a measurement): stock {stock_specialized},"
        f" ft {ft_specialized}"
    )
    if len(ratios) < 3:
        return False, f"{detail}: fewer than 3 benchmarks ran on both"
    clear, detail = obs.beyond_noise(suite, same, detail, min_margin=TAX_MARGIN)
    return clear, detail


TAX_MARGIN = 0.1  # a tax under 10% is not the one the HOWTO describes


def same_code_ratio(obs) -> float:
    """The A/A test of the tax: ft's time over stock's for the same C code, at whichever of
    the times before and after each suite are furthest apart (the host's worst drift)."""
    stock = obs["single_thread_tax.same_code_s@stock"]
    ft = obs["single_thread_tax.same_code_s@ft"]
    if not (stock and ft and all(t > 0 for t in [*stock, *ft])):
        raise KeyError("single_thread_tax.same_code_s holds no time")
    ratios = [f / s for f in ft for s in stock] + [stock[-1] / stock[0], ft[-1] / ft[0]]
    return max(ratios, key=lambda r: abs(r - 1))
