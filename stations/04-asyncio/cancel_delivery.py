"""Where a cancellation lands: the synchronous code runs on, CancelledError comes at an await.

Two ways to ask, each with the C Task and the pure-Python one:
- "thread": another thread asks (loop.call_soon_threadsafe(task.cancel)) while the task
  runs synchronous steps; the request is a callback, and callbacks wait for the task to
  give the loop back.
- "inline": the task's own synchronous code calls task.cancel() (as any code it calls
  into might); Task.cancel only sets a flag (_must_cancel) and returns.
After its synchronous steps the worker awaits a coroutine that returns without suspending,
then one that suspends. The traceback of the CancelledError names the line it arrived on.
"""

import asyncio
import inspect
import threading
import time
import traceback
from asyncio import tasks

from labkit import observe, quick

STEPS = 10 if quick() else 40
STEP_SECONDS = 0.002  # time.sleep: synchronous, and no CPU spent


async def returns_at_once():
    return "no suspension"


async def worker(state: dict):
    try:
        await asyncio.sleep(0)  # let the loop run once, so the task is under way
        for step in range(STEPS):  # synchronous: nothing here gives the loop back
            if step == STEPS // 2:
                ask_to_cancel(state)
            time.sleep(STEP_SECONDS)
            state["steps_done"] = step + 1
        state["cancelling_after_sync"] = asyncio.current_task().cancelling()
        await returns_at_once()  # MARK: non-suspending
        state["after_non_suspending_await"] = "ran"
        await asyncio.sleep(3600)  # MARK: suspending
        state["after_suspending_await"] = "ran"
    except asyncio.CancelledError as error:
        state["landed_line"], state["landed_text"] = landing(error)
        state["traceback"] = [
            f"{f.name}: {f.line}" for f in traceback.extract_tb(error.__traceback__)
        ]
        raise


def ask_to_cancel(state: dict) -> None:
    """Halfway through the synchronous steps, cancel is asked for (and returns)."""
    state["requested_at_step"] = state.get("steps_done", 0)
    task = asyncio.current_task()
    if state["how"] == "inline":
        state["cancel_returned"] = task.cancel()
        return
    asked = threading.Event()
    loop = asyncio.get_running_loop()

    def from_another_thread():
        loop.call_soon_threadsafe(task.cancel)
        asked.set()

    threading.Thread(target=from_another_thread).start()
    asked.wait(timeout=10)  # blocks this thread, synchronously: the loop cannot run


def marked_line(mark: str) -> int:
    """The number of the worker's line marked `# MARK: <mark>`, found in its source."""
    lines, first = inspect.getsourcelines(worker)
    return next(first + i for i, text in enumerate(lines) if text.rstrip().endswith(f": {mark}"))


def landing(error: BaseException) -> tuple[int, str]:
    """The worker's line in the exception's traceback: where CancelledError came in."""
    frame = next(f for f in traceback.extract_tb(error.__traceback__) if f.name == "worker")
    return frame.lineno, frame.line


async def run_worker(how: str) -> dict:
    state: dict = {"how": how}
    task = asyncio.create_task(worker(state))
    try:
        await task
    except asyncio.CancelledError:
        state["cancelled"] = task.cancelled()
    return state


def run_with(task_type, how: str) -> dict:
    async def main():
        loop = asyncio.get_running_loop()
        loop.set_task_factory(lambda loop, coro, **kw: task_type(coro, loop=loop, **kw))
        return await run_worker(how)

    return asyncio.run(main())


def by_case(results: dict, field: str) -> dict:
    return {case: state.get(field) for case, state in results.items()}


results = {}
for task_label, task_type in {"C": tasks._CTask, "Python": tasks._PyTask}.items():
    for how in ("thread", "inline"):
        state = run_with(task_type, how)
        case = f"{task_label} Task, {how}"
        results[case] = state
        print(
            f"{case:>20}: asked at step {state['requested_at_step']}/{STEPS}, "
            f"{state['steps_done']} steps done, cancelling() then {state['cancelling_after_sync']}"
        )
        print(f"{'':>20}  CancelledError at line {state['landed_line']}: {state['landed_text']}")
# In traceback order. Its last entry is where the exception was first raised: Task.__wakeup,
# once task.cancel() had cancelled the future sleep() awaits; __step then threw it in.
chain = " -> ".join(results["Python Task, thread"]["traceback"])
print(f"traceback (Python Task, thread): {chain}")

observe("steps", STEPS)
observe("requested_at_step", by_case(results, "requested_at_step"))
observe("steps_done", by_case(results, "steps_done"))
observe("cancelling_after_sync", by_case(results, "cancelling_after_sync"))
observe("non_suspending_await_line", marked_line("non-suspending"))
observe("suspending_await_line", marked_line("suspending"))
observe("landed_line", by_case(results, "landed_line"))
observe("landed_on", sorted({state["landed_text"] for state in results.values()}))
observe("ran_past_non_suspending_await", by_case(results, "after_non_suspending_await"))
observe("task_cancelled", by_case(results, "cancelled"))
observe("traceback", chain)
