"""PagedAttention's argument, simulated: a KV cache reserved in one contiguous piece per
request, against one handed out in fixed-size blocks as a sequence grows.

Every figure this script prints is SIMULATED: pure Python, no GPU, no model. vLLM 0.8.5's
own block manager does not import in the lab's image: any vllm module runs vllm/__init__.py
first, whose imports need pydantic (vllm/config.py), and the block manager's own vllm.utils
and vllm.sequence need cachetools, cloudpickle, yaml, zmq and msgspec; none is installed,
and the containers have no network. So the scheduler below
follows vLLM 0.8.5's V1 engine (the default) line by line where it matters:

- vllm/v1/core/sched/scheduler.py, Scheduler.schedule(): running requests first, in order;
  a request that gets no block preempts the newest running one (`self.running.pop()`),
  which loses its KV cache (`num_computed_tokens = 0`, recompute) and goes to the front of
  the waiting queue; and `if not preempted_reqs:` no waiting request is admitted in a step
  that preempted. A step schedules at most max_num_batched_tokens tokens (long prompts are
  prefilled in chunks) and max_num_seqs requests.
- vllm/v1/core/kv_cache_manager.py, KVCacheManager.allocate_slots(): a request holds
  cdiv(tokens computed + tokens this step, block_size) blocks; None when the pool has too few.

That rule changes nothing here: the request preempted last goes back to the head of the
queue, and the blocks it freed minus the one a running request just took are too few for
it, so first come first served admits nobody in that step anyway. What thins preemption is
V0's free-block watermark (vllm/core/block_manager.py, SelfAttnBlockSpaceManager.can_allocate:
admit only if 1% of the blocks stay free afterwards), shown as a second paged row. Both rows
leave prefix caching off; V1 turns it on by default, and then a preempted request's blocks
stay cached until reused, so part of the recompute below would be a cache hit: the figures
are an upper bound on recompute.

From the paper (Kwon et al., SOSP 2023, section 6): OPT-13B on an A100-40GB, whose KV cache
gets about 12 GiB after the weights, sequences of at most 2048 tokens, and ShareGPT's mean
lengths (161 input, 338 output tokens). The lab's own choices, not the paper's: every request
queued at the start, so that memory alone limits the batch (the paper replays ShareGPT and
Alpaca traces with Poisson arrivals at several request rates), and lengths drawn log-normal
around those means (the paper samples the traces' own lengths). The spread (sigma) of the
lengths and the seed change the figures, so the script sweeps both and reports ranges.

The contiguous rows stand in for the paper's baselines, which are the authors' own
reimplementations of Orca: Max reserves 2048 tokens, Pow2 the prompt plus the output length
rounded up to a power of 2, Oracle the exact length (both know the output length in
advance). Here Pow2 and Oracle waste less than the paper's 73.2% and 61.8%: this is not
the authors' code or traces, so what holds is an ordering across the whole sweep, not a
match with Figure 2. The simulation is deterministic: no machine could fail a check of it,
so its orderings are the lab's unit tests (tests/unit/stations/test_paged_attention.py),
and the page shows it as simulated, not as a check of this machine.

Time is charged, not assumed: a step reads the weights once plus every scheduled request's
stored keys and values (memory-bound decode; a bigger batch makes a slower step), and pays
compute for the prompt tokens it prefills, recomputed ones included.
"""

from __future__ import annotations

import math
import random
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

from labkit import observe, quick

# OPT-13B: 40 layers, hidden size 5120, fp16. Keys and values for one token, all layers:
KV_BYTES_PER_TOKEN = 2 * 40 * 5120 * 2  # 800 KiB, the paper's figure for OPT-13B
KV_CACHE_BYTES = 12 * 2**30
CAPACITY = KV_CACHE_BYTES // KV_BYTES_PER_TOKEN  # token slots
MAX_LEN = 2048
BLOCK = 16  # vLLM's default block size, in tokens
MEAN_IN, MEAN_OUT = 161, 338
# vLLM 0.8.5's defaults for the LLM class on a GPU under 70 GiB (vllm/engine/arg_utils.py).
MAX_BATCHED_TOKENS = 8192
MAX_SEQS = 256
SPREADS = (0.5, 1.0, 1.5)  # sigma of the log-normal lengths: from alike to long-tailed
SEEDS = tuple(range(3 if quick() else 4))
REQUESTS = 120 if quick() else 300
# The paper's Figure 2: share of KV-cache memory holding token states, in the authors' own
# systems: three reimplementations of Orca (Max reserves 2048 tokens, Pow2 the output length
# rounded up to a power of 2, Oracle the exact output length: both know it) and vLLM.
PAPER_USED = {"Orca (Max)": 20.4, "Orca (Pow2)": 26.8, "Orca (Oracle)": 38.2, "vLLM": 96.3}
# The cost model's inputs: OPT-13B in fp16 on an A100-40GB.
WEIGHT_BYTES = 2 * 13e9
BANDWIDTH = 1.555e12  # bytes/s of HBM2
FLOPS = 312e12 * 0.5  # fp16 tensor-core peak, at half of it
PREFILL_SECONDS_PER_TOKEN = 2 * 13e9 / FLOPS  # 2 flops per parameter per token
MODEL_INPUTS = {
    "kv_cache_gib": KV_CACHE_BYTES / 2**30,
    "kv_bytes_per_token": KV_BYTES_PER_TOKEN,
    "weight_gb": WEIGHT_BYTES / 1e9,
    "bandwidth_gb_s": BANDWIDTH / 1e9,
    "prefill_us_per_token": PREFILL_SECONDS_PER_TOKEN * 1e6,
    "block_tokens": BLOCK,
    "mean_input_output_tokens": [MEAN_IN, MEAN_OUT],
    "max_len": MAX_LEN,
    "max_num_batched_tokens": MAX_BATCHED_TOKENS,
    "max_num_seqs": MAX_SEQS,
}
WATERMARK = 0.01  # V0's default: vllm/core/block_manager.py, SelfAttnBlockSpaceManager


@dataclass(eq=False)
class Request:
    """One request; `computed` tokens have their keys and values in the cache."""

    id: int
    prompt: int
    output: int
    generated: int = 0
    computed: int = 0

    @property
    def tokens(self) -> int:
        return self.prompt + self.generated


def workload(seed: int, spread: float, count: int = REQUESTS) -> list[tuple[int, int]]:
    """(prompt, output) lengths, log-normal with the paper's means and sigma `spread`."""
    rng = random.Random(seed)

    def lognormal(mean: float) -> float:
        return rng.lognormvariate(math.log(mean) - spread**2 / 2, spread)

    requests = []
    for _ in range(count):
        prompt = max(1, min(MAX_LEN - 1, round(lognormal(MEAN_IN))))
        output = max(1, min(MAX_LEN - prompt, round(lognormal(MEAN_OUT))))
        requests.append((prompt, output))
    return requests


class Contiguous:
    """One contiguous reservation per request, first fit in a linear arena of token slots:
    how the paper's Orca baselines hold a request's KV cache."""

    def __init__(self, reserve: Callable[[Request], int]):
        self.reserve, self.holes, self.where = reserve, [(0, CAPACITY)], {}

    def admit(self, request: Request, new_tokens: int) -> bool:
        size = self.reserve(request)
        for i, (start, length) in enumerate(self.holes):
            if length >= size:
                self.holes[i : i + 1] = [(start + size, length - size)] if length > size else []
                self.where[request.id] = (start, size)
                return True
        return False

    def grow(self, request: Request, new_tokens: int) -> bool:
        return True  # the reservation already covers every token the request will have

    def release(self, request: Request) -> None:
        self.holes.append(self.where.pop(request.id))
        self.holes.sort()
        merged = [self.holes[0]]
        for start, length in self.holes[1:]:
            if merged[-1][0] + merged[-1][1] == start:
                merged[-1] = (merged[-1][0], merged[-1][1] + length)
            else:
                merged.append((start, length))
        self.holes = merged

    def allocated(self, request: Request) -> int:
        return self.where[request.id][1]


class Paged:
    """Fixed-size blocks from one pool, as KVCacheManager.allocate_slots hands them out."""

    def __init__(self, watermark: float = 0.0):
        self.free, self.blocks = CAPACITY // BLOCK, {}
        self.watermark_blocks = int(watermark * self.free)  # V0: int(watermark * num_gpu_blocks)

    def grow(self, request: Request, new_tokens: int) -> bool:
        held = self.blocks.get(request.id, 0)
        needed = math.ceil((request.computed + new_tokens) / BLOCK) - held
        if needed > self.free:
            return False  # allocate_slots returns None
        self.free -= max(needed, 0)
        self.blocks[request.id] = held + max(needed, 0)
        return True

    def admit(self, request: Request, new_tokens: int) -> bool:
        """A waiting request: V0's can_allocate keeps `watermark_blocks` free after it."""
        needed = math.ceil((request.computed + new_tokens) / BLOCK)
        if self.free - needed < self.watermark_blocks:
            return False
        return self.grow(request, new_tokens)

    def release(self, request: Request) -> None:
        self.free += self.blocks.pop(request.id)

    def allocated(self, request: Request) -> int:
        return self.blocks[request.id] * BLOCK


def step_seconds(scheduled: list[tuple[Request, int]]) -> float:
    """One step: read the weights and the scheduled requests' stored keys and values
    (memory-bound), plus the compute of every prompt token prefilled (new or recomputed)."""
    kv_read = sum(request.computed for request, _ in scheduled) * KV_BYTES_PER_TOKEN
    prefill = sum(new for request, new in scheduled if request.tokens - request.computed > 1)
    return (WEIGHT_BYTES + kv_read) / BANDWIDTH + prefill * PREFILL_SECONDS_PER_TOKEN


class Scheduler:
    """vLLM 0.8.5's V1 Scheduler.schedule(), reduced to what memory decides."""

    def __init__(self, allocator, lengths: list[tuple[int, int]]):
        self.allocator = allocator
        self.waiting = deque(Request(i, p, o) for i, (p, o) in enumerate(lengths))
        self.running: list[Request] = []
        self.preemptions = self.recomputed = 0

    def preempt_newest(self) -> Request:
        """scheduler.py: `preempted_req = self.running.pop()`; its cache is freed and it
        restarts from token 0 (`num_computed_tokens = 0`) at the head of the waiting queue."""
        victim = self.running.pop()
        self.allocator.release(victim)
        self.recomputed += victim.computed
        victim.computed = 0
        self.waiting.appendleft(victim)
        self.preemptions += 1
        return victim

    def make_room(self, request: Request, new_tokens: int) -> bool:
        """allocate_slots, preempting the newest running request until it succeeds; False
        when the request had to preempt itself."""
        while not self.allocator.grow(request, new_tokens):
            if self.preempt_newest() is request:
                return False
        return True

    def schedule(self) -> list[tuple[Request, int]]:
        """One step's (request, tokens to compute): running first, then waiting ones."""
        scheduled, budget, preemptions_before = [], MAX_BATCHED_TOKENS, self.preemptions
        index = 0
        while index < len(self.running) and budget > 0:
            request = self.running[index]
            new = min(request.tokens - request.computed, budget)
            if not self.make_room(request, new):
                break  # it preempted itself: no newer request was left to free
            scheduled.append((request, new))
            budget -= new
            index += 1
        if self.preemptions > preemptions_before:
            return scheduled  # scheduler.py: `if not preempted_reqs:` guards admission
        while self.waiting and budget > 0 and len(self.running) < MAX_SEQS:
            request = self.waiting[0]
            new = min(request.tokens - request.computed, budget)
            if not self.allocator.admit(request, new):
                break  # first come, first served: nobody overtakes the head
            self.waiting.popleft()
            self.running.append(request)
            scheduled.append((request, new))
            budget -= new
        return scheduled

    def finish_step(self, scheduled: list[tuple[Request, int]]) -> None:
        """The step computed its tokens; a request whose tokens are all stored samples one."""
        for request, new in scheduled:
            request.computed += new
            if request.computed == request.tokens:
                request.generated += 1
            if request.generated == request.output:
                self.running.remove(request)
                self.allocator.release(request)


def simulate(allocator, lengths: list[tuple[int, int]]) -> dict:
    """Serve every request; memory figures are averaged over the steps in which a request
    was waiting (memory, not the queue, was the limit)."""
    scheduler = Scheduler(allocator, lengths)
    steps, seconds = 0, 0.0
    bound = {"steps": 0, "used": 0, "allocated": 0, "running": 0}
    while scheduler.waiting or scheduler.running:
        scheduled = scheduler.schedule()
        seconds += step_seconds(scheduled)
        scheduler.finish_step(scheduled)
        steps += 1
        if scheduler.waiting:
            running = scheduler.running
            bound["steps"] += 1
            bound["used"] += sum(r.computed for r in running)
            bound["allocated"] += sum(allocator.allocated(r) for r in running)
            bound["running"] += len(running)
    n = max(bound["steps"], 1)
    used, allocated = bound["used"] / n, bound["allocated"] / n
    total_tokens = sum(p + o for p, o in lengths)
    return {
        "wasted_percent": 100 * (1 - used / CAPACITY),
        "unallocated_percent": 100 * (1 - allocated / CAPACITY),
        "sequences_at_once": bound["running"] / n,
        "steps": steps,
        "seconds": seconds,
        "requests_per_s": len(lengths) / seconds,
        "preemptions": scheduler.preemptions,
        "recompute_percent": 100 * scheduler.recomputed / total_tokens,
    }


def next_pow2(n: int) -> int:
    return 1 << (n - 1).bit_length()


# Each system: its key in the observations (the checks' names for it), its label, and a
# fresh allocator. The contiguous ones mimic the paper's Orca baselines; the paged one runs
# twice, without and with V0's watermark.
SYSTEMS: dict[str, tuple[str, Callable[[], object]]] = {
    "reserve_max": ("reserve max length (contiguous)", lambda: Contiguous(lambda r: MAX_LEN)),
    "reserve_pow2": (
        "reserve output rounded up to a power of 2 (contiguous)",
        lambda: Contiguous(lambda r: min(MAX_LEN, r.prompt + next_pow2(r.output))),
    ),
    "reserve_oracle": (
        "reserve exact length, oracle (contiguous)",
        lambda: Contiguous(lambda r: r.prompt + r.output),
    ),
    "paged": (f"paged, {BLOCK}-token blocks, V1's admission", Paged),
    "paged_watermark": (
        f"paged, {BLOCK}-token blocks, V1's + V0's watermark",
        lambda: Paged(WATERMARK),
    ),
}


def sweep() -> list[dict]:
    """Every spread and seed, every system on the same requests."""
    runs = []
    for spread in SPREADS:
        for seed in SEEDS:
            lengths = workload(seed, spread)
            results = {key: simulate(make(), lengths) for key, (_, make) in SYSTEMS.items()}
            runs.append({"spread": spread, "seed": seed, "systems": results})
    return runs


def value_range(runs: list[dict], system: str, figure: str) -> list[float]:
    values = [run["systems"][system][figure] for run in runs]
    return [min(values), max(values)]


def gains(runs: list[dict], figure: str) -> list[float]:
    """Paged over reserve-max, one ratio per run."""
    ratios = [r["systems"]["paged"][figure] / r["systems"]["reserve_max"][figure] for r in runs]
    return [min(ratios), max(ratios)]


def show(runs: list[dict]) -> None:
    spans = lambda lo, hi, form: f"{lo:{form}}-{hi:{form}}"  # noqa: E731
    print(f"simulated: KV cache {KV_CACHE_BYTES / 2**30:.0f} GiB = {CAPACITY} token slots of "
          f"{KV_BYTES_PER_TOKEN // 1024} KiB; {REQUESTS} requests per run, mean input "
          f"{MEAN_IN}, output {MEAN_OUT} tokens, max {MAX_LEN}; seeds {list(SEEDS)}")  # fmt: skip
    columns = ("wasted %", "at once", "req/s", "recomputed %")
    header = f"{'simulated, per system':64}" + "".join(f"{c:>13}" for c in columns)
    for spread in SPREADS:
        at_spread = [r for r in runs if r["spread"] == spread]
        print(f"\nsimulated, lengths' sigma {spread} (min-max over {len(at_spread)} seeds)")
        print(header)
        for key, (name, _) in SYSTEMS.items():
            cells = [
                spans(*value_range(at_spread, key, "wasted_percent"), ".1f"),
                spans(*value_range(at_spread, key, "sequences_at_once"), ".1f"),
                spans(*value_range(at_spread, key, "requests_per_s"), ".2f"),
                spans(*value_range(at_spread, key, "recompute_percent"), ".1f"),
            ]
            print(f"simulated {name:54}" + "".join(f"{c:>13}" for c in cells))
    print(f"\nsimulated with these inputs: {MODEL_INPUTS}")
    print("the paper (Fig. 2, measured in the authors' own systems: Orca reimplemented three "
          "ways, Pow2 and Oracle told each output length in advance), memory holding token "
          "states: "
          + ", ".join(f"{k} {v}%" for k, v in PAPER_USED.items()))  # fmt: skip


# The summary observations: name -> (system, figure, unit); each is a [min, max] range.
RANGES = {
    "reserve_max_wasted_percent": ("reserve_max", "wasted_percent", "% of the cache"),
    "paged_wasted_percent": ("paged", "wasted_percent", "% of the cache"),
    "reserve_max_at_once": ("reserve_max", "sequences_at_once", "sequences"),
    "paged_at_once": ("paged", "sequences_at_once", "sequences"),
    "paged_recompute_percent": ("paged", "recompute_percent", "% of all tokens recomputed"),
    "watermark_recompute_percent": (
        "paged_watermark",
        "recompute_percent",
        "% of all tokens recomputed, with V0's 1% watermark",
    ),
    "paged_preemptions": ("paged", "preemptions", "preemptions"),
}


def main() -> None:
    started = time.perf_counter()
    runs = sweep()
    show(runs)
    elapsed = time.perf_counter() - started
    print(f"simulated {len(runs) * len(SYSTEMS)} runs in {elapsed:.1f} s")
    sweep_made = {"spreads": list(SPREADS), "seeds": list(SEEDS), "requests": REQUESTS}
    observe("sweep", sweep_made, "the simulated workloads")
    observe("runs", runs, "simulated, one entry per spread and seed")
    observe("capacity_tokens", CAPACITY, "token slots (simulated cache)")
    for name, (system, figure, unit) in RANGES.items():
        observe(name, value_range(runs, system, figure), f"{unit}, min-max (simulated)")
    # Steps alone would give the ratio of batch sizes; with time charged, KV reads grow with
    # the batch and recompute costs prefills.
    observe("batch_ratio_gain", gains(runs, "sequences_at_once"), "x, min-max (simulated)")
    observe("throughput_gain", gains(runs, "requests_per_s"), "x, min-max (simulated)")
    observe("model_inputs", MODEL_INPUTS, "the simulation's inputs")
    observe("sweep_seconds", elapsed, "s to simulate the sweep")
    paper = {k: round(100 - v, 1) for k, v in PAPER_USED.items()}
    observe("paper_wasted_percent", paper, "% (the paper's Fig. 2: the authors' own systems)")


if __name__ == "__main__":
    main()
