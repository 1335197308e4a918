"""CPU <-> GPU synchronisation: a kernel launch returns before the GPU has done the work;
.item() and torch.cuda.synchronize() block until it has. Timed with and without.

Needs a CUDA device. Without one it says so, observes cuda_available = False (the checks
then skip, with that reason) and shows the CPU's contrast: there an op returns done.
"""

import time
import warnings

import torch
from labkit import observe, quick

N = 4096 if quick() else 8192
KERNELS = 10

observe("cuda_available", torch.cuda.is_available())
if not torch.cuda.is_available():
    reason = "torch.cuda.is_available() is False: no CUDA device visible here"
    print(f"no GPU ({reason}): the GPU experiment is skipped")
    a = torch.randn(1024, 1024)
    start = time.perf_counter()
    c = a @ a
    returned = time.perf_counter() - start
    print(f"on the CPU, a 1024x1024 matmul returns when done: {returned * 1e3:.2f} ms")
    observe("skipped_reason", reason)
    observe("cpu_matmul_returned_ms", returned * 1e3, "ms")
    raise SystemExit(0)

device = torch.device("cuda")
print(f"{torch.cuda.get_device_name(device)}; current stream: {torch.cuda.current_stream()}")
a = torch.randn(N, N, device=device)
b = torch.randn(N, N, device=device)
# Warm-up: cuBLAS's handle and kernel choice, and every kernel timed below loaded once. CUDA
# loads a kernel's module at its first launch (lazy loading, torch's default), and that
# launch waits for the GPU to go idle: on an H200 a first .sum() after ten queued matmuls
# took 223 ms to launch, leaving .item() 1.3 ms; with CUDA_MODULE_LOADING=EAGER, or the
# sum's kernel run once before, the launch took 0.1-4.5 ms and .item() waited 211-215 ms.
# (Those figures are torch 2.11.0+cu130 on Python 3.12, outside the lab's images: not the
# pinned image's torch 2.6.0, whose own figures are the ones this run prints.)
for _ in range(3):
    (a @ b).sum().item()
torch.cuda.synchronize()

# 1. Launches return at once; the GPU works on; synchronize() waits for it.
begin, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
t0 = time.perf_counter()
begin.record()
for _ in range(KERNELS):
    c = a @ b
end.record()
launched = time.perf_counter() - t0
still_running = not end.query()  # has the GPU reached the end marker yet?
t1 = time.perf_counter()
torch.cuda.synchronize()
waited = time.perf_counter() - t1
gpu_ms = begin.elapsed_time(end)
print(f"{KERNELS} matmuls {N}x{N}: launches returned in {launched * 1e3:.2f} ms, "
      f"GPU busy {gpu_ms:.1f} ms; synchronize() blocked {waited * 1e3:.1f} ms")  # fmt: skip

# 2. .item() copies one number to the host, so it waits for everything queued before it.
t2 = time.perf_counter()
for _ in range(KERNELS):
    c = a @ b
total = c.sum()  # queued as well: returns a GPU tensor at once
asked = time.perf_counter()
value = total.item()
item_blocked, queued = time.perf_counter() - asked, asked - t2
print(f".item() after {KERNELS} queued matmuls and a sum blocked {item_blocked * 1e3:.1f} ms "
      f"(queueing them took {queued * 1e3:.2f} ms)")  # fmt: skip

# 3. Timing without synchronising measures the launch, not the work.
torch.cuda.synchronize()
t3 = time.perf_counter()
c = a @ b
naive = time.perf_counter() - t3
torch.cuda.synchronize()
synced = time.perf_counter() - t3
print(f"one matmul timed without sync: {naive * 1e3:.3f} ms; with sync: {synced * 1e3:.2f} ms")

# 4. A second stream: its work runs asynchronously too, and query() says when it is done.
side = torch.cuda.Stream()
side.wait_stream(torch.cuda.current_stream())
with torch.cuda.stream(side):
    inside = str(torch.cuda.current_stream())
    d = a @ b
pending = not side.query()
side.synchronize()
print(f"side stream {inside}: pending right after launch: {pending}; after sync: {side.query()}")


# 5. torch.cuda.set_sync_debug_mode("warn") warns only where PyTorch calls
# warn_or_error_on_sync: in memcpy_and_sync (.item(), a copy to the host) and in
# stream_synchronize (Stream.synchronize()). torch.cuda.synchronize() calls
# c10::cuda::device_synchronize and Event.synchronize() cudaEventSynchronize: both wait
# without a word. Each wait below follows a queued matmul, so each really waits.
def warns(wait) -> bool:
    """Whether WAIT, given a matmul's queued result and run in sync debug mode "warn", warned."""
    queued = a @ b
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        torch.cuda.set_sync_debug_mode("warn")
        try:
            wait(queued)
        finally:
            torch.cuda.set_sync_debug_mode("default")
    torch.cuda.synchronize()
    return any("synchronizing CUDA operation" in str(w.message) for w in caught)


def event_synchronize(queued):
    event = torch.cuda.Event()
    event.record()  # on the current stream, after the queued matmul
    event.synchronize()


WAITS = {
    ".item()": lambda queued: queued.sum().item(),
    ".cpu()": lambda queued: queued[0].cpu(),
    "Stream.synchronize()": lambda queued: torch.cuda.current_stream().synchronize(),
    "Event.synchronize()": event_synchronize,
    "torch.cuda.synchronize()": lambda queued: torch.cuda.synchronize(),
}
sync_warns = {name: warns(wait) for name, wait in WAITS.items()}
print("sync debug mode 'warn':", ", ".join(
    f"{name} {'warns' if warned else 'waits silently'}" for name, warned in sync_warns.items()
))  # fmt: skip
observe("sync_debug_warns", sync_warns)
observe("device_name", torch.cuda.get_device_name(device))
observe("launch_ms", launched * 1e3, "ms")
observe("gpu_ms", gpu_ms, "ms")
observe("still_running_after_launch", still_running)
observe("synchronize_blocked_ms", waited * 1e3, "ms")
observe("item_blocked_ms", item_blocked * 1e3, "ms")
observe("item_queue_ms", queued * 1e3, "ms")
observe("unsynced_ms", naive * 1e3, "ms")
observe("synced_ms", synced * 1e3, "ms")
observe("side_stream", inside)
observe("side_stream_pending_after_launch", pending)
