"""Station 4's checks: each returns (passed, what was measured)."""

TASK_IMPLEMENTATIONS = ("python", "c")


def said(warned: bool) -> str:
    return "warning" if warned else "no warning"


def check_slow_callback_warning_needs_debug_mode(obs):
    """The seed's warning fires only in debug mode: slow_callback_duration alone logs nothing"""
    as_written = obs["seed_slow_callback.warned_as_written"]
    asyncio_debug = obs["seed_slow_callback.warned_asyncio_debug"]
    dev_mode = obs["seed_slow_callback.warned_dev_mode"]
    guard = obs["seed_slow_callback.timing_guard"]
    detail = (
        f"as written: {said(as_written)}; PYTHONASYNCIODEBUG=1: {said(asyncio_debug)}; "
        f"-X dev: {said(dev_mode)}; _run_once times callbacks only under `{guard}`"
    )
    return not as_written and asyncio_debug and dev_mode and "_debug" in guard, detail


def check_warning_reports_the_stall(obs):
    """In debug mode the warning names the Task whose step stalled, and the 0.2 s it took"""
    if not obs["seed_slow_callback.warned_asyncio_debug"]:
        return False, "no warning in debug mode, so nothing measured"
    seconds = obs["seed_slow_callback.stall_seconds_asyncio_debug"]
    handle = obs["seed_slow_callback.slow_handle_asyncio_debug"]
    # time.sleep(0.2) takes at least 0.2 s; the warning rounds to the millisecond
    stalled = 0.1995 <= seconds < 1.0
    return stalled and handle.startswith("<Task"), f"took {seconds:.3f} s: {handle[:48]}..."


def first(events: list[dict], event: str, part: str = "", iteration: int | None = None) -> dict:
    """The first EVENT whose callback contains PART (in ITERATION, if given), or {}."""
    return next(
        (
            e
            for e in events
            if e["event"] == event and part in e["callback"] and iteration in (None, e["iteration"])
        ),
        {},
    )


def resumption(events: list[dict]) -> dict:
    """The iterations from a future's set_result to its awaiting coroutine running again."""
    resolved = first(events, "run", "Future.set_result").get("iteration")
    return {
        "parked": first(events, "done_callbacks", "wakeup").get("callback"),
        "resolved": resolved,
        "scheduled": first(events, "call_soon", "wakeup", resolved).get("callback"),
        "woken": first(events, "run", "wakeup").get("iteration"),
        "resumed": first(events, "resume").get("iteration"),
    }


def check_await_resumes_through_a_done_callback(obs):
    """await parks the Task on the future; set_result call_soon()s its wakeup, run next turn"""
    ok, parts = True, []
    for implementation in TASK_IMPLEMENTATIONS:
        seen = resumption(obs[f"await_path.{implementation}_events"])
        resolved = seen["resolved"]
        ok &= bool(seen["parked"] and seen["scheduled"]) and resolved is not None
        ok &= seen["woken"] == seen["resumed"] == (resolved or 0) + 1
        parts.append(
            f"{implementation}: set_result in iteration {resolved} call_soon()s "
            f"{seen['scheduled']}, run in {seen['woken']}, coroutine resumes in {seen['resumed']}"
        )
    return ok, "; ".join(parts)


def check_c_task_resumes_without_python_frames(obs):
    """The C Task resumes the coroutine with no Python frames of its own; _PyTask adds some"""
    python = obs["await_path.python_stack_at_resume"]
    c = obs["await_path.c_stack_at_resume"]
    python_frames = obs["await_path.python_python_frames_at_resume"]
    c_frames = obs["await_path.c_python_frames_at_resume"]
    ok = c_frames < python_frames and "Task.__step" in python and "Task." not in c
    return ok, f"Python Task: {python}; C Task: {c}"


def check_default_loop_waits_in_epoll(obs):
    """On Linux the default loop's _run_once waits for I/O in selectors.EpollSelector"""
    selector = obs["await_path.selector"]
    return selector == "selectors.EpollSelector", f"the loop's selector: {selector}"


def check_synchronous_code_finishes_after_cancel(obs):
    """cancel() mid-way through synchronous code interrupts nothing: every step still runs"""
    steps = obs["cancel_delivery.steps"]
    asked = obs["cancel_delivery.requested_at_step"]
    done = obs["cancel_delivery.steps_done"]
    ok = bool(done) and set(done) == set(asked)  # every case asked for, and done
    ok = ok and all(asked[case] < steps and done[case] == steps for case in done)
    cases = ", ".join(f"{case}: asked at {asked[case]}, {done[case]} done" for case in done)
    return ok, f"{steps} steps; {cases}"


def check_cancelled_error_lands_on_the_next_await(obs):
    """CancelledError arrives at the next await that suspends: its traceback line is that await"""
    landed = obs["cancel_delivery.landed_line"]
    suspending = obs["cancel_delivery.suspending_await_line"]
    cancelled = obs["cancel_delivery.task_cancelled"]
    ok = set(landed.values()) == {suspending} and set(cancelled) == set(landed)
    ok = ok and all(cancelled.values())
    detail = f"the suspending await is line {suspending}; landed on " + ", ".join(
        f"{case}: {line}" for case, line in landed.items()
    )
    return ok, detail


def check_an_await_that_does_not_suspend_is_no_cancellation_point(obs):
    """`await coro()` that never yields to the loop does not deliver a pending cancel"""
    passed_through = obs["cancel_delivery.ran_past_non_suspending_await"]
    line = obs["cancel_delivery.non_suspending_await_line"]
    pending = obs["cancel_delivery.cancelling_after_sync"]
    stopped = [case for case, value in passed_through.items() if value != "ran"]
    if not passed_through or set(passed_through) != set(pending):
        return False, f"the cases that ran {sorted(passed_through)} are not those measured"
    inline_pending = {case: n for case, n in pending.items() if "inline" in case}
    not_pending = [case for case, n in inline_pending.items() if not n]
    if stopped:
        return False, f"line {line} did not run on in: {', '.join(stopped)}"
    if not inline_pending or not_pending:
        return False, (
            f"line {line} ran on in every case, but no cancel was pending there "
            f"(cancelling() = {inline_pending}): nothing was shown"
        )
    return True, (
        f"line {line} ran on in every case, with cancel already pending inline "
        f"(cancelling() = {inline_pending}): the curriculum's 'next await' is the next one "
        "that suspends"
    )


def check_uvloop_is_faster(obs):
    """uvloop serves more echo round trips a second than the default loop, beyond the noise"""
    obs.timed()
    default, uvloop = obs["echo_loops.asyncio_rps"], obs["echo_loops.uvloop_rps"]
    ratio = obs["echo_loops.uvloop_over_asyncio"]
    # The A/A test: the default loop timed against itself in the same rounds.
    same = obs["echo_loops.asyncio_over_itself"]
    detail = (
        f"asyncio {default:,.0f} req/s, uvloop {uvloop:,.0f} req/s (best of "
        f"{obs['echo_loops.repeats']}): uvloop / asyncio = {ratio:.2f}x (median of the rounds; "
        f"{obs['echo_loops.uvloop_over_asyncio_best']:.2f}x best against best); "
        f"{obs['echo_loops.workload']}, {obs['echo_loops.cpus']} CPUs"
    )
    made_of = made_from(uvloop, default, obs["echo_loops.uvloop_over_asyncio_best"])
    if made_of:
        return False, f"{detail}: {made_of}"
    return obs.beyond_noise(ratio, same, detail)


def made_from(top: float, bottom: float, ratio: float) -> str:
    """Why RATIO is not TOP / BOTTOM, the rates or times it was made of ('' where it is):
    a ratio judged apart from its parts could be any number."""
    if not (top > 0 and bottom > 0):
        return f"{top:g} and {bottom:g}: not two rates or times a run can measure"
    if abs(top / bottom - ratio) > 0.02 * ratio:
        return f"best against best is {top / bottom:.2f}x from the figures, not {ratio:.2f}x"
    return ""


def check_uvloop_reads_without_python_frames(obs):
    """uvloop calls data_received straight from C: no Python frames between loop and protocol"""
    counts = obs["echo_loops.python_frames_to_data_received"]
    default = obs["echo_loops.frames_to_data_received_asyncio"]
    detail = f"asyncio {counts['asyncio']} ({default}), uvloop {counts['uvloop']}"
    return counts["uvloop"] < counts["asyncio"], detail


def check_c_task_is_faster(obs):
    """The C Task (_asyncio) runs many small tasks faster than the Python Task, beyond the noise"""
    obs.timed()
    ratio = obs["task_c_vs_python.python_over_c"]
    # The A/A test: the C Task timed against itself in the same rounds.
    same = obs["task_c_vs_python.c_over_itself"]
    c_us, python_us = obs["task_c_vs_python.c_task_us"], obs["task_c_vs_python.python_task_us"]
    detail = (
        f"C {c_us:.2f} us, Python {python_us:.2f} us per task (best): Python / C = {ratio:.2f}x "
        f"(median of {obs['task_c_vs_python.repeats']} rounds; "
        f"{obs['task_c_vs_python.python_over_c_best']:.2f}x best against best; "
        f"{obs['task_c_vs_python.tasks']:,} tasks)"
    )
    made_of = made_from(python_us, c_us, obs["task_c_vs_python.python_over_c_best"])
    if made_of:
        return False, f"{detail}: {made_of}"
    return obs.beyond_noise(ratio, same, detail)


def check_await_compiles_to_send_and_yield(obs):
    """`await future` compiles to GET_AWAITABLE, SEND, YIELD_VALUE: the yield reaches Task.__step"""
    ops = obs["await_path.await_bytecode"]
    wanted = ["GET_AWAITABLE", "SEND", "YIELD_VALUE", "RESUME"]
    found = [op for op in ops if op in wanted]
    return found == wanted, " ".join(ops)
