"""uvloop against asyncio's default loop: one echo workload over loopback, round trips/s.

The server and the clients share one loop (one core's worth of work, no thread noise);
each client sends a message, waits for all of it to come back, and sends the next, for a
fixed number of round trips. Protocols, not streams: the loop's own cost per read and
write is what differs, and streams would add the same Python layer to both. Runs of the
loops alternate, and the ratio is the median over those rounds: a neighbour's burst slows
one round, not the verdict. The noise is measured in the same rounds: the default loop
runs twice per round, as if it were two contenders (an A/A test), and how far apart its
two rates come out is the margin uvloop has to beat. Requests/s are the best of each
loop's runs. The Python frames between the loop and `data_received` are counted in each
loop as well.
"""

import asyncio
import functools
import gc
import os
import statistics
import sys
import time

import uvloop
from labkit import observe, quick
from labkit.compare import alternating

CLIENTS = 10
ROUND_TRIPS = 4_000 if quick() else 20_000  # in all, shared by the clients
REPEATS = 5
MESSAGE = b"x" * 100

frames_at_read: dict[str, list[str]] = {}


class EchoServer(asyncio.Protocol):
    def connection_made(self, transport):
        self.transport = transport

    def data_received(self, data):
        self.transport.write(data)


class ProbingEchoServer(EchoServer):
    """The echo server, noting which Python frames call data_received (warm-up runs only)."""

    def data_received(self, data):
        loop_name = type(asyncio.get_running_loop()).__module__.split(".")[0]
        frames_at_read.setdefault(loop_name, python_frames_above(sys._getframe(1)))
        super().data_received(data)


def python_frames_above(frame) -> list[str]:
    """The Python frames that called data_received, up to this benchmark's own code."""
    names = []
    while frame is not None and frame.f_code.co_filename != __file__:
        names.append(frame.f_code.co_qualname)
        frame = frame.f_back
    return names


class EchoClient(asyncio.Protocol):
    def __init__(self, round_trips: int, done: asyncio.Future):
        self.left, self.done, self.waiting_for = round_trips, done, 0

    def connection_made(self, transport):
        self.transport = transport
        self.send()

    def send(self):
        self.waiting_for = len(MESSAGE)
        self.transport.write(MESSAGE)

    def data_received(self, data):
        self.waiting_for -= len(data)
        if self.waiting_for:  # TCP may split the echo: wait for all of it
            return
        self.left -= 1
        if self.left:
            self.send()
        else:
            self.transport.close()
            self.done.set_result(None)


async def echo_round_trips(total: int, server_protocol=EchoServer) -> float:
    """Seconds for TOTAL round trips, spread over CLIENTS connections."""
    loop = asyncio.get_running_loop()
    server = await loop.create_server(server_protocol, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    dones = [loop.create_future() for _ in range(CLIENTS)]
    started = time.perf_counter()
    for done in dones:
        await loop.create_connection(
            lambda d=done: EchoClient(total // CLIENTS, d), "127.0.0.1", port
        )
    await asyncio.gather(*dones)
    elapsed = time.perf_counter() - started
    server.close()
    await server.wait_closed()
    return elapsed


def requests_per_second(new_loop, server_protocol=EchoServer) -> float:
    gc.collect()  # every run starts from the same collector state, not the last one's garbage
    loop = new_loop()
    try:
        seconds = loop.run_until_complete(echo_round_trips(ROUND_TRIPS, server_protocol))
    finally:
        loop.close()
    return ROUND_TRIPS // CLIENTS * CLIENTS / seconds


def best_and_median(runs: list[float]) -> str:
    return f"best {max(runs):>9,.0f} req/s, median {statistics.median(runs):>9,.0f}"


def median_ratio(rates: dict[str, list[float]], faster: str, slower: str) -> float:
    """The median over the rounds of FASTER's rate over SLOWER's."""
    pairs = zip(rates[faster], rates[slower], strict=True)
    return statistics.median(f / s for f, s in pairs)


loops = {"asyncio": asyncio.new_event_loop, "uvloop": uvloop.new_event_loop}
for new_loop in loops.values():
    # Notes the frames above data_received, and warms each loop up for the timed runs.
    requests_per_second(new_loop, ProbingEchoServer)
# The default loop twice a round, uvloop between: the A/A pair spans what uvloop meets.
contenders = {**loops, "asyncio again": asyncio.new_event_loop}
rates = alternating(
    {
        name: functools.partial(requests_per_second, new_loop)
        for name, new_loop in contenders.items()
    },
    REPEATS,
    warm_up=False,
)

ratio = median_ratio(rates, "uvloop", "asyncio")
same = median_ratio(rates, "asyncio again", "asyncio")
best = {name: max(runs) for name, runs in rates.items()}
for name in loops:
    print(f"{name:>8}: {best_and_median(rates[name])}")
    print(f"{'':>8}  frames from the loop to data_received: {frames_at_read[name] or '(none)'}")
print(
    f"uvloop / asyncio: {ratio:.2f}x (median of {REPEATS} rounds), "
    f"{best['uvloop'] / best['asyncio']:.2f}x (best against best); "
    f"asyncio against itself: {same:.3f}x (the noise)"
)

observe("cpus", len(os.sched_getaffinity(0)))
observe("workload", f"{ROUND_TRIPS:,} round trips of {len(MESSAGE)} B over {CLIENTS} connections")
observe("repeats", REPEATS)
observe("asyncio_rps", best["asyncio"], "req/s")
observe("uvloop_rps", best["uvloop"], "req/s")
observe("runs_rps", {name: [round(r) for r in runs] for name, runs in rates.items()}, "req/s")
observe("uvloop_over_asyncio", ratio, "x (median of the rounds)")
observe("asyncio_over_itself", same, "x (A/A: the noise)")
observe("uvloop_over_asyncio_best", best["uvloop"] / best["asyncio"], "x")
observe("python_frames_to_data_received", {k: len(v) for k, v in frames_at_read.items()})
for name in loops:  # innermost first: data_received's caller, its caller, ...
    observe(f"frames_to_data_received_{name}", " <- ".join(frames_at_read[name]) or "(none)")
