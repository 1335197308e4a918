"""Inference with and without autograd: latency, and the memory the graph holds on to.

With grad on, every op records a node and saves the tensors backward will need; under
torch.no_grad() (or for a detach()ed input) nothing is recorded or saved. Measured two
ways that do not depend on autograd's own hooks (which never fire under no_grad, so a
count through them is zero by construction): the graph walked from the output's grad_fn,
with the tensors each node saved (its _saved_* fields), and the bytes in use, while the
output is kept, of the allocator the tensors come from: on the CPU malloc's (glibc's
mallinfo2), on a GPU torch's CUDA caching allocator's (the heap would miss them all: an H200
showed 2.5 KB of heap for 5 MiB of saved activations, with torch 2.11.0+cu130 on Python 3.12
outside the lab's images, not the pinned 2.6.0). On a GPU, the allocator's peak too.

The latency is timed with grad on twice, as two contenders taking turns with no_grad (an
A/A test): how far the two with-grad timings come apart is the noise no_grad must clear.
"""

import ctypes
import gc
import time
import weakref
from functools import partial

import torch
from labkit import observe, quick
from labkit.compare import alternating

torch.manual_seed(0)
device = "cuda" if torch.cuda.is_available() else "cpu"
REPEATS = 30 if quick() else 200

# Two shapes of model: many small layers (per-op overhead dominates: recording the graph
# shows up in latency) and a few large ones (the arithmetic dominates).
MODELS = {
    "small_layers": (torch.nn.Sequential(*[m for _ in range(24) for m in
                     (torch.nn.Linear(64, 64), torch.nn.ReLU())]), (8, 64)),
    "large_layers": (torch.nn.Sequential(*[m for _ in range(4) for m in
                     (torch.nn.Linear(1024, 1024), torch.nn.ReLU())]), (256, 1024)),
}  # fmt: skip


def saved_bytes(model, batch) -> int:
    """Bytes of activations autograd saves for backward during one forward pass."""
    params = {p.data_ptr() for p in model.parameters()}
    storages: dict[int, int] = {}

    def pack(tensor):
        ptr = tensor.untyped_storage().data_ptr()
        if ptr not in params:
            storages[ptr] = tensor.untyped_storage().nbytes()
        return tensor.detach()  # the data, not the graph (see Saved below)

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t):
        model(batch)
    return sum(storages.values())


class MallInfo2(ctypes.Structure):
    _fields_ = [
        (name, ctypes.c_size_t)
        for name in ("arena", "ordblks", "smblks", "hblks", "hblkhd", "usmblks", "fsmblks",
                     "uordblks", "fordblks", "keepcost")
    ]  # fmt: skip


libc = ctypes.CDLL("libc.so.6")
libc.mallinfo2.restype = MallInfo2


HELD_IN = "the CUDA caching allocator" if device == "cuda" else "the heap"


def bytes_in_use() -> int:
    """Bytes handed out and not yet given back by the allocator the tensors come from: the
    CUDA caching allocator's tensors on a GPU; malloc's arenas and mmapped chunks on the CPU."""
    if device == "cuda":
        return torch.cuda.memory_allocated()
    info = libc.mallinfo2()
    return info.uordblks + info.hblkhd


def held_bytes(forward) -> int:
    """Bytes still in use while one forward pass's output is kept (the output included)."""
    gc.collect()
    base = bytes_in_use()
    out = forward()
    held = bytes_in_use() - base
    del out
    return held


def graph_saved(output) -> dict:
    """The nodes reachable from OUTPUT's grad_fn and the bytes of activations they saved
    (parameters left out: the model holds those anyway)."""
    params = {p.untyped_storage().data_ptr() for p in model_params}
    nodes, storages, stack = 0, {}, [output.grad_fn]
    while stack:
        node = stack.pop()
        if node is None:
            continue
        nodes += 1
        for field in (f for f in dir(node) if f.startswith("_saved_")):
            try:
                value = getattr(node, field)
            except RuntimeError:  # a saved value that cannot be unpacked: not a tensor here
                continue
            if isinstance(value, torch.Tensor):
                storage = value.untyped_storage()
                if storage.data_ptr() not in params:
                    storages[storage.data_ptr()] = storage.nbytes()
        stack.extend(next_node for next_node, _ in node.next_functions)
    return {"nodes": nodes, "saved_bytes": sum(storages.values())}


def sync():
    if device == "cuda":
        torch.cuda.synchronize()


def elapsed_ms(forward) -> float:
    start = time.perf_counter()
    forward()
    sync()
    return (time.perf_counter() - start) * 1e3


def best_ms(forwards: dict) -> dict[str, float]:
    """Each forward's fastest of REPEATS runs, taken in turns. A busy machine only ever adds
    time, so the fastest run is the nearest to the forward's own cost (a median flipped
    once, on a loaded 2-core host: grad 0.37x of no_grad)."""
    for forward in forwards.values():
        for _ in range(3):  # the allocator's and the kernels' first calls
            forward()
    sync()
    contenders = {name: partial(elapsed_ms, forward) for name, forward in forwards.items()}
    runs = alternating(contenders, REPEATS, warm_up=False)
    return {name: min(ms) for name, ms in runs.items()}


def peak_mb(forward) -> float | None:
    """Peak GPU memory of one forward pass whose output is kept (None on the CPU)."""
    if device != "cuda":
        return None
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    base = torch.cuda.memory_allocated()
    out = forward()
    torch.cuda.synchronize()
    peak = torch.cuda.max_memory_allocated() - base
    del out
    return peak / 2**20


latency, saved, peaks, held, graphs = {}, {}, {}, {}, {}
for name, (model, shape) in MODELS.items():
    model = model.to(device)
    model_params = list(model.parameters())
    batch = torch.randn(*shape, device=device)

    def with_grad(model=model, batch=batch):
        return model(batch)

    def under_no_grad(model=model, batch=batch):
        with torch.no_grad():
            return model(batch)

    def under_inference_mode(model=model, batch=batch):
        with torch.inference_mode():
            return model(batch)

    # "grad again" is with_grad a second time, in the same rounds: the A/A test.
    latency[name] = best_ms(
        {
            "grad": with_grad,
            "no_grad": under_no_grad,
            "inference_mode": under_inference_mode,
            "grad again": with_grad,
        }
    )
    with torch.no_grad():
        no_grad_saved = saved_bytes(model, batch)
    saved[name] = {"grad": saved_bytes(model, batch), "no_grad": no_grad_saved}
    peaks[name] = {"grad": peak_mb(with_grad), "no_grad": peak_mb(under_no_grad)}
    held[name] = {"grad": held_bytes(with_grad), "no_grad": held_bytes(under_no_grad)}
    graphs[name] = {"grad": graph_saved(with_grad()), "no_grad": graph_saved(under_no_grad())}
    ms, mib = latency[name], saved[name]["grad"] / 2**20
    print(f"{name:>13} on {device}, best of {REPEATS}: grad {ms['grad']:.3f} ms, "
          f"no_grad {ms['no_grad']:.3f} ms, inference_mode {ms['inference_mode']:.3f} ms, "
          f"grad again {ms['grad again']:.3f} ms (A/A {ms['grad again'] / ms['grad']:.3f}x); saved "
          f"for backward: {mib:.2f} MiB with grad, {no_grad_saved} B under no_grad")  # fmt: skip
    print(f"{'':>13} graph from grad_fn: {graphs[name]}; {HELD_IN} held with the output kept: "
          f"{held[name]['grad'] / 2**20:.2f} MiB with grad, "
          f"{held[name]['no_grad'] / 2**20:.2f} MiB under no_grad")  # fmt: skip


# detach(): an output keeps its graph, and everything the graph saved, alive; a detached
# view of it shares the data and holds no graph, so the saved activations are freed.
class Saved:
    """What autograd stores for a saved tensor here: weakly referenceable, so we can see
    whether the graph still holds it."""

    __slots__ = ("__weakref__", "tensor")

    def __init__(self, tensor):
        # detach(): the same storage without the grad_fn; holding the tensor itself would
        # tie a saved output to its own graph in a cycle that nothing frees.
        self.tensor = tensor.detach()


def retained_bytes(model, batch, keep_detached: bool) -> int:
    """Bytes of saved activations still alive once only the output (or its detach()) is kept.

    Each storage counts once: a ReLU's output is saved by the ReLU and again by the next
    addmm (its input), two holders of one storage, as the graph walk above counts it."""
    params = {p.data_ptr() for p in model.parameters()}
    holders: dict[int, list] = {}  # storage's data_ptr -> weak refs to what saved it
    sizes: dict[int, int] = {}

    def pack(tensor):
        holder = Saved(tensor)
        storage = tensor.untyped_storage()
        if storage.data_ptr() not in params:
            holders.setdefault(storage.data_ptr(), []).append(weakref.ref(holder))
            sizes[storage.data_ptr()] = storage.nbytes()
        return holder

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda holder: holder.tensor):
        out = model(batch)
    kept = out.detach() if keep_detached else out
    del out
    gc.collect()
    alive = sum(
        sizes[ptr] for ptr, refs in holders.items() if any(ref() is not None for ref in refs)
    )
    del kept
    return alive


model, shape = MODELS["large_layers"]
batch = torch.randn(*shape, device=device)
out = model(batch)
detached = out.detach()
kept_output = retained_bytes(model, batch, keep_detached=False)
kept_detached = retained_bytes(model, batch, keep_detached=True)
print(f"keeping the output holds {kept_output / 2**20:.2f} MiB of saved activations; "
      f"keeping out.detach() holds {kept_detached} B")  # fmt: skip
observe("retained_keeping_output", kept_output, "B")
observe("retained_keeping_detached", kept_detached, "B")
observe("detached_shares_data", detached.data_ptr() == out.data_ptr())
observe("detached_has_graph", detached.grad_fn is not None)
with torch.no_grad():
    observe("no_grad_output_requires_grad", model(batch).requires_grad)

observe("device", device)
observe("latency_ms", {k: {m: round(v, 4) for m, v in d.items()} for k, d in latency.items()}, "ms")
observe("grad_over_no_grad", {k: d["grad"] / d["no_grad"] for k, d in latency.items()}, "x")
observe(
    "grad_over_itself",
    {k: d["grad again"] / d["grad"] for k, d in latency.items()},
    "x (A/A: the noise)",
)
observe("saved_bytes", saved, "B")  # through saved_tensors_hooks: 0 under no_grad by design
observe("held_bytes", held, "B")
observe("held_in", HELD_IN)
observe("graph_saved", graphs)
observe("peak_mb", peaks, "MiB")
