"""The C Task (_asyncio) against the pure-Python one (asyncio.tasks._PyTask), same workload.

The loop's task factory decides which class `create_task` (and so `gather`) makes. Each
of many small tasks yields once (a bare `sleep(0)`, which reschedules its step) and then
awaits a future that a `call_soon` resolves (a done callback wakes it): both ways a Task
is resumed. The loop is the default one either way. Runs alternate, and the ratio is the
median over those rounds; the times per task are each one's best. The noise is measured
in the same rounds: the C Task runs twice per round, as if it were two contenders (an A/A
test), and how far apart its two times come out is the margin the C Task has to clear.
"""

import asyncio
import functools
import gc
import statistics
import time
from asyncio import tasks

from labkit import observe, quick
from labkit.compare import alternating

TASKS = 5_000 if quick() else 20_000
REPEATS = 5


async def small_task() -> int:
    loop = asyncio.get_running_loop()
    await asyncio.sleep(0)
    future = loop.create_future()
    loop.call_soon(future.set_result, 1)
    return await future


async def many_tasks() -> float:
    started = time.perf_counter()
    done = await asyncio.gather(*(small_task() for _ in range(TASKS)))
    elapsed = time.perf_counter() - started
    assert sum(done) == TASKS
    return elapsed


def seconds_with(task_type) -> float:
    # Each run starts from the same collector state: without this, whichever contender
    # meets the full collection the previous runs' garbage triggers pays for it.
    gc.collect()
    loop = asyncio.new_event_loop()
    loop.set_task_factory(lambda loop, coro, **kw: task_type(coro, loop=loop, **kw))
    try:
        return loop.run_until_complete(many_tasks())
    finally:
        loop.close()


def median_ratio(runs: dict[str, list[float]], slower: str, faster: str) -> float:
    """The median over the rounds of SLOWER's time over FASTER's."""
    return statistics.median(s / f for s, f in zip(runs[slower], runs[faster], strict=True))


implementations = {"C": tasks._CTask, "Python": tasks._PyTask}
# The C Task twice a round, the Python one between: the A/A pair spans what _PyTask meets.
contenders = {**implementations, "C again": tasks._CTask}
runs = alternating(
    {name: functools.partial(seconds_with, kind) for name, kind in contenders.items()},
    REPEATS,
)

ratio = median_ratio(runs, "Python", "C")
same = median_ratio(runs, "C again", "C")
best = {name: min(seconds) for name, seconds in runs.items()}
for name, task_type in implementations.items():
    per_task = best[name] / TASKS * 1e6
    print(f"{name:>6} Task ({task_type.__module__}): {per_task:6.2f} us per task (best)")
print(
    f"Python / C: {ratio:.2f}x (median of {REPEATS} rounds); "
    f"the C Task against itself: {same:.3f}x (the noise)"
)

observe("tasks", TASKS)
observe("repeats", REPEATS)
observe("c_task_us", best["C"] / TASKS * 1e6, "us")
observe("python_task_us", best["Python"] / TASKS * 1e6, "us")
observe("python_over_c", ratio, "x (median of the rounds)")
observe("c_over_itself", same, "x (A/A: the noise)")
observe("python_over_c_best", best["Python"] / best["C"], "x")
classes = {name: f"{t.__module__}.{t.__qualname__}" for name, t in implementations.items()}
observe("task_classes", classes)
