"""From `await future` back to the coroutine: every callback the loop schedules and runs.

A loop subclass numbers the iterations of `_run_once` and logs every `call_soon` and
`call_later` (what is scheduled, and by which Python function); a wrapper around
`Handle._run` logs what each iteration runs. A `call_later` timer resolves the future.
The same scenario runs with the pure-Python Task and Future (asyncio.tasks._PyTask,
futures._PyFuture) and with the C ones from `_asyncio`, and the Python stack is taken
where the coroutine resumes.
"""

import asyncio
import dis
import sys
from asyncio import events, futures, tasks

from labkit import observe

events_seen: list[dict] = []


def name(callback) -> str:
    """A callback's name as the source spells it (Task.__wakeup, Future.set_result)."""
    return getattr(callback, "__qualname__", type(callback).__name__)


def log(loop, event: str, callback: str, by: str = "") -> None:
    iteration = getattr(loop, "iteration", None)
    events_seen.append({"iteration": iteration, "event": event, "callback": callback, "by": by})


def nearest_python_caller(depth: int) -> str:
    """Who scheduled it: C code (the C Future's set_result) has no frame of its own."""
    return sys._getframe(depth).f_code.co_qualname


class TracingLoop(asyncio.SelectorEventLoop):
    """The default loop, numbering its iterations and logging what is scheduled on it."""

    iteration = 0

    def _run_once(self):
        self.iteration += 1
        super()._run_once()

    def call_soon(self, callback, *args, context=None):
        log(self, "call_soon", name(callback), nearest_python_caller(2))
        return super().call_soon(callback, *args, context=context)

    def call_at(self, when, callback, *args, context=None):  # call_later comes through here
        log(self, "call_later", name(callback), nearest_python_caller(3))
        return super().call_at(when, callback, *args, context=context)


def traced_run(handle, run=events.Handle._run):
    """Handle._run, logged: _run_once calls every callback through it."""
    log(handle._loop, "run", name(handle._callback), type(handle).__name__)
    return run(handle)


events.Handle._run = traced_run


def stack_from_loop_to(frame) -> list[str]:
    """The Python frames from _run_once down to FRAME, leaving out this file's tracing."""
    names = []
    while frame is not None and frame.f_code.co_name != "_run_once":
        if frame.f_code.co_filename != __file__ or frame.f_code.co_name == "awaiter":
            names.append(frame.f_code.co_qualname)
        frame = frame.f_back
    return ["_run_once", *reversed(names)]


async def awaiter(future, resumed: dict):
    value = await future
    log(asyncio.get_running_loop(), "resume", f"awaiter, `await future` = {value}")
    resumed["stack"] = stack_from_loop_to(sys._getframe())
    return value


def scenario(task_type, future_type) -> dict:
    """Await a future that a timer resolves; the events and the stack at resume."""
    events_seen.clear()
    loop = TracingLoop()
    loop.set_task_factory(lambda loop, coro, **kw: task_type(coro, loop=loop, **kw))
    resumed: dict = {}
    future = future_type(loop=loop)
    loop.call_later(0.01, future.set_result, 42)
    task = loop.create_task(awaiter(future, resumed))

    def after_first_step():  # runs right after the task's first step, same iteration
        callbacks = [name(cb) for cb, _context in future._callbacks or ()]
        log(loop, "done_callbacks", ", ".join(callbacks), "the awaited future")

    loop.call_soon(after_first_step)
    loop.run_until_complete(task)
    selector = type(loop._selector)  # what _run_once waits in; close() drops it
    loop.close()
    return {
        "events": list(events_seen),
        "stack": resumed["stack"],
        "result": task.result(),
        "selector": f"{selector.__module__}.{selector.__qualname__}",
    }


def describe(event: dict) -> str:
    what = {
        "call_soon": "{by} -> call_soon({callback})",
        "call_later": "{by} -> call_later({callback})",
        "run": "_run_once runs {by}({callback})",
        "resume": "coroutine resumes: {callback}",
        "done_callbacks": "{by} has done callbacks: {callback}",
    }[event["event"]]
    return f"iteration {event['iteration']}: " + what.format(**event)


PATH_STEP = {
    "run": "[{iteration}] {by}({callback})",
    "call_soon": "call_soon({callback})",
    "call_later": "call_later({callback})",
    "done_callbacks": "future has done callback {callback}",
    "resume": "coroutine resumes",
}


def path(events: list[dict]) -> str:
    """From the task's first step to the coroutine running again, in one line."""
    start = next(i for i, e in enumerate(events) if e["event"] == "run")
    end = next(i for i, e in enumerate(events) if e["event"] == "resume")
    return " -> ".join(
        PATH_STEP[event["event"]].format(**event)
        for event in events[start : end + 1]
        if "after_first_step" not in event["callback"]  # the probe, not part of the path
    )


implementations = {
    "python": (tasks._PyTask, futures._PyFuture),
    "c": (tasks._CTask, futures._CFuture),
}
print("iteration 0 is before the loop starts; `by` is the nearest Python frame")
for label, (task_type, future_type) in implementations.items():
    seen = scenario(task_type, future_type)
    print(f"-- {label}: {task_type.__module__}.{task_type.__name__}")
    for event in seen["events"]:
        print(f"   {describe(event)}")
    print(f"   Python stack at resume: {' -> '.join(seen['stack'])}")
    observe(f"{label}_events", seen["events"])
    observe(f"{label}_path", path(seen["events"]))
    observe(f"{label}_stack_at_resume", " -> ".join(seen["stack"]))
    observe(f"{label}_python_frames_at_resume", len(seen["stack"]), "frames")
    observe(f"{label}_result", seen["result"])
observe("selector", seen["selector"])

# The bytecode of `value = await future`: GET_AWAITABLE asks for the iterator (a Future's
# __await__), SEND drives it, YIELD_VALUE hands what it yields (the future itself) up
# through the coroutine to Task.__step, and RESUME is where the coroutine continues.
line = awaiter.__code__.co_firstlineno + 1
await_ops = [
    i.opname
    for i in dis.get_instructions(awaiter)
    if i.positions.lineno == line and not i.opname.startswith(("LOAD", "STORE", "JUMP"))
]
print(f"`value = await future` compiles to: {' '.join(await_ops)}")
observe("await_bytecode", await_ops)
