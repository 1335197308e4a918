"""What a worker costs to start and to hand data to: processes against subinterpreters.

Subinterpreters (PEP 684, one GIL each) run in parallel like processes; the question is
when they win. Measured here: starting one (fork, spawn, forkserver, a subinterpreter)
and giving one PAYLOAD_MB of data, in a fair contest: pickled to each (through a pipe to a
process, through an interpreter queue to a subinterpreter), and shared with each (a
multiprocessing.shared_memory block's name to a process, a memoryview to a subinterpreter).
"""

from __future__ import annotations

import multiprocessing
import statistics
import time
from collections.abc import Callable
from multiprocessing import shared_memory

from labkit import observe, quick

STARTS = 5 if quick() else 20
PAYLOAD_MB = 16
SENDS = 5 if quick() else 20
WAIT = 120  # the longest one start, send or answer may take: a hang fails, loudly


def median_ms(action: Callable[[], object], times: int) -> float:
    samples = []
    for _ in range(times):
        started = time.perf_counter()
        action()
        samples.append((time.perf_counter() - started) * 1e3)
    return statistics.median(samples)


def noop() -> None:
    pass


# -- starting a worker and running nothing in it -------------------------------------------
def start_process(method: str) -> Callable[[], None]:
    context = multiprocessing.get_context(method)

    def start() -> None:
        process = context.Process(target=noop)
        process.start()
        process.join(WAIT)
        if process.exitcode is None:
            process.kill()
            raise TimeoutError(f"a {method} worker did not finish in {WAIT} s")

    return start


def start_subinterpreter() -> None:
    from test.support import interpreters

    interp = interpreters.create()
    interp.exec("pass")
    interp.close()


# -- handing a worker PAYLOAD_MB and having it read the length -------------------------------
def receive_and_ack(connection) -> None:
    while (data := connection.recv()) is not None:
        if isinstance(data, str):  # the name of a shared-memory block: attach, read, detach
            block = shared_memory.SharedMemory(name=data, track=False)
            size = len(block.buf)
            block.close()
            connection.send(size)
        else:
            connection.send(len(data))


def send_to_process(payload: bytes, shared: bool = False) -> float:
    """Hand a process the payload: pickled through a pipe, or (SHARED) the name of a
    multiprocessing.shared_memory block holding it, which the process attaches to."""
    parent, child = multiprocessing.Pipe()
    worker = multiprocessing.get_context("fork").Process(target=receive_and_ack, args=(child,))
    worker.start()
    block = shared_memory.SharedMemory(create=True, size=len(payload)) if shared else None
    if block is not None:
        block.buf[:] = payload  # once, before the clock: the data lives in shared memory
    item = block.name if block is not None else payload

    def send() -> None:
        parent.send(item)
        if not parent.poll(WAIT):
            raise TimeoutError(f"the process did not answer in {WAIT} s")
        assert parent.recv() == len(payload)

    try:
        return median_ms(send, SENDS)
    finally:
        parent.send(None)
        worker.join(WAIT)
        if worker.exitcode is None:
            worker.kill()
        if block is not None:
            block.close()
            block.unlink()


def send_to_subinterpreter(payload: bytes, shared: bool) -> float:
    from test.support import interpreters
    from test.support.interpreters import queues

    inbox = queues.create(syncobj=shared)  # syncobj: shareable objects pass without pickling
    interp = interpreters.create()
    interp.exec("from test.support.interpreters import queues")
    interp.prepare_main(inbox=inbox)
    item = memoryview(payload) if shared else payload

    def send() -> None:
        inbox.put(item)
        interp.exec(f"data = inbox.get(timeout={WAIT}); size = len(data); del data")

    try:
        return median_ms(send, SENDS)
    finally:
        interp.close()


def main() -> None:
    for method in ("fork", "forkserver", "spawn"):
        start_process(method)()  # the first forkserver start also starts the server
        observe(f"start_{method}_ms", median_ms(start_process(method), STARTS), "ms")
    start_subinterpreter()
    observe("start_subinterpreter_ms", median_ms(start_subinterpreter, STARTS), "ms")

    payload = bytes(PAYLOAD_MB * 1024 * 1024)
    observe("payload_mb", PAYLOAD_MB, "MB")
    observe("send_process_pipe_ms", send_to_process(payload), "ms")
    observe("send_process_shared_ms", send_to_process(payload, shared=True), "ms")
    observe("send_subinterpreter_pickled_ms", send_to_subinterpreter(payload, False), "ms")
    observe("send_subinterpreter_shared_ms", send_to_subinterpreter(payload, True), "ms")


if __name__ == "__main__":
    main()
