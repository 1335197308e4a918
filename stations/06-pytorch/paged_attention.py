"""PagedAttention's argument, simulated: a KV cache reserved to the maximum length in one
contiguous piece per request, against one handed out in fixed-size blocks on demand.

The workload is the paper's (Kwon et al., SOSP 2023, section 6): OPT-13B on an A100-40GB,
whose KV cache gets about 12 GiB after the weights, sequences of at most 2048 tokens, and
request lengths shaped like ShareGPT's (the paper gives means of 161 input and 338 output
tokens; here both are log-normal with those means, so a few conversations are long).
Every request is queued at the start, so memory is what limits the batch. Each step, every
running sequence stores one more token's keys and values. Pure Python: no GPU needed.

Time is charged, not assumed: a decode step is memory-bound, so it costs reading the
weights once plus every running sequence's stored keys and values (a bigger batch makes a
slower step); a prompt costs its prefill (compute-bound); and a preempted sequence loses
its KV cache and pays a prefill again for everything it had stored (vLLM's recompute).
Its figures are this simulation's, driven by the inputs below (A100-40GB bandwidth and
FLOPS, OPT-13B's size, the lengths' distribution, the block size); the paper's 60-80% and
under-4% are its measurements of real systems, shown beside them.
"""

import math
import random

from labkit import observe, quick

# OPT-13B: 40 layers, hidden size 5120, fp16. Keys and values for one token, all layers:
KV_BYTES_PER_TOKEN = 2 * 40 * 5120 * 2  # 800 KiB, the paper's figure for OPT-13B
KV_CACHE_BYTES = 12 * 2**30
CAPACITY = KV_CACHE_BYTES // KV_BYTES_PER_TOKEN  # token slots
MAX_LEN = 2048
BLOCK = 16  # vLLM's default block size, in tokens
MEAN_IN, MEAN_OUT, SIGMA = 161, 338, 1.0
REQUESTS = 400 if quick() else 2000
# The paper's Figure 2: share of KV-cache memory holding actual token states.
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
}


def step_seconds(running, prefill_tokens: int) -> float:
    """One step: read the weights and every running sequence's KV cache (memory-bound
    decode), plus the prefill of the prompts (or recomputed sequences) admitted in it."""
    kv_read = sum(seq["stored"] for seq in running) * KV_BYTES_PER_TOKEN
    return (WEIGHT_BYTES + kv_read) / BANDWIDTH + prefill_tokens * PREFILL_SECONDS_PER_TOKEN


def lognormal(rng, mean):
    return rng.lognormvariate(math.log(mean) - SIGMA**2 / 2, SIGMA)


def workload(seed=0):
    rng = random.Random(seed)
    requests = []
    for _ in range(REQUESTS):
        prompt = max(1, min(MAX_LEN - 1, round(lognormal(rng, MEAN_IN))))
        output = max(1, min(MAX_LEN - prompt, round(lognormal(rng, MEAN_OUT))))
        requests.append((prompt, output))
    return requests


class Contiguous:
    """One contiguous reservation per request, first fit in a linear arena of token slots."""

    def __init__(self, reserve):
        self.reserve, self.holes, self.where = reserve, [(0, CAPACITY)], {}

    def admit(self, seq) -> bool:
        size = self.reserve(seq)
        for i, (start, length) in enumerate(self.holes):
            if length >= size:
                self.holes[i : i + 1] = [(start + size, length - size)] if length > size else []
                self.where[seq["id"]] = (start, size)
                return True
        return False

    def grow(self, seq) -> bool:
        return True  # the reservation already covers every token the sequence will have

    def release(self, seq):
        start, size = self.where.pop(seq["id"])
        self.holes.append((start, size))
        self.holes.sort()
        merged = [self.holes[0]]
        for s, n in self.holes[1:]:
            if merged[-1][0] + merged[-1][1] == s:
                merged[-1] = (merged[-1][0], merged[-1][1] + n)
            else:
                merged.append((s, n))
        self.holes = merged

    def allocated(self, seq) -> int:
        return self.where[seq["id"]][1]


class Paged:
    """Fixed-size blocks, taken one at a time as a sequence grows (vLLM's block manager)."""

    def __init__(self):
        self.free, self.blocks = CAPACITY // BLOCK, {}

    def admit(self, seq) -> bool:
        need = math.ceil((seq["stored"] + 1) / BLOCK)  # the prompt, and the next token
        if need > self.free:
            return False
        self.free -= need
        self.blocks[seq["id"]] = need
        return True

    def grow(self, seq) -> bool:
        if seq["stored"] + 1 <= self.blocks[seq["id"]] * BLOCK:
            return True
        if self.free == 0:
            return False
        self.free -= 1
        self.blocks[seq["id"]] += 1
        return True

    def release(self, seq):
        self.free += self.blocks.pop(seq["id"])

    def allocated(self, seq) -> int:
        return self.blocks[seq["id"]] * BLOCK


def simulate(allocator):
    """Run the workload to the end; memory figures are averaged over the steps in which a
    request was waiting (memory was the limit)."""
    queue = [
        {"id": i, "stored": p, "left": o, "final": p + o} for i, (p, o) in enumerate(workload())
    ]
    running, steps, preempted, seconds, recomputed = [], 0, 0, 0.0, 0
    bound = {"steps": 0, "used": 0, "allocated": 0, "running": 0}
    while queue or running:
        prefill = 0
        while queue and allocator.admit(queue[0]):
            seq = queue.pop(0)
            prefill += seq["stored"]  # a prompt, or all a preempted sequence had stored
            recomputed += seq["stored"] if seq.get("preempted") else 0
            running.append(seq)
        seconds += step_seconds(running, prefill)
        for seq in list(running):
            if seq not in running:
                continue
            while not allocator.grow(seq):  # out of blocks: preempt the newest (recompute)
                victim = running.pop()
                allocator.release(victim)
                victim["preempted"] = True  # its KV cache is gone: recomputed on return
                queue.insert(0, victim)
                preempted += 1
                if victim is seq:
                    break
            if seq in running:
                seq["stored"] += 1
                seq["left"] -= 1
        if queue:
            bound["steps"] += 1
            bound["used"] += sum(s["stored"] for s in running)
            bound["allocated"] += sum(allocator.allocated(s) for s in running)
            bound["running"] += len(running)
        for seq in [s for s in running if s["left"] == 0]:
            running.remove(seq)
            allocator.release(seq)
        steps += 1
    n = max(bound["steps"], 1)
    used, allocated = bound["used"] / n, bound["allocated"] / n
    return {
        "wasted_percent": 100 * (1 - used / CAPACITY),
        "wasted_of_allocated_percent": 100 * (1 - used / allocated) if allocated else 0.0,
        "unallocated_percent": 100 * (1 - allocated / CAPACITY),
        "sequences_at_once": bound["running"] / n,
        "steps": steps,
        "throughput_requests_per_kstep": 1000 * REQUESTS / steps,
        "seconds": seconds,
        "requests_per_s": REQUESTS / seconds,
        "preemptions": preempted,
        "recomputed_tokens": recomputed,
    }


def next_pow2(n):
    return 1 << (n - 1).bit_length()


systems = {
    "reserve max length (contiguous)": Contiguous(lambda s: MAX_LEN),
    "reserve next power of 2 (contiguous)": Contiguous(
        lambda s: min(MAX_LEN, next_pow2(s["final"]))
    ),
    "reserve exact length, oracle (contiguous)": Contiguous(lambda s: s["final"]),
    f"paged, {BLOCK}-token blocks": Paged(),
}
results = {name: simulate(allocator) for name, allocator in systems.items()}

lengths = workload()
print(f"KV cache: {KV_CACHE_BYTES / 2**30:.0f} GiB = {CAPACITY} token slots of "
      f"{KV_BYTES_PER_TOKEN // 1024} KiB; {REQUESTS} requests, mean input "
      f"{sum(p for p, _ in lengths) / REQUESTS:.0f}, mean output "
      f"{sum(o for _, o in lengths) / REQUESTS:.0f} tokens, max {MAX_LEN}")  # fmt: skip
print(f"{'':44}{'wasted':>8}{'at once':>9}{'req/kstep':>11}{'req/s':>8}{'recomputed':>12}")
for name, r in results.items():
    print(f"{name:44}{r['wasted_percent']:7.1f}%{r['sequences_at_once']:9.1f}"
          f"{r['throughput_requests_per_kstep']:11.2f}{r['requests_per_s']:8.2f}"
          f"{r['recomputed_tokens']:12,}")  # fmt: skip
print(f"inputs: {MODEL_INPUTS}")
print("the paper (Fig. 2), memory holding token states: "
      + ", ".join(f"{k} {v}%" for k, v in PAPER_USED.items()))  # fmt: skip

contiguous = results["reserve max length (contiguous)"]
paged = results[f"paged, {BLOCK}-token blocks"]
observe("capacity_tokens", CAPACITY)
observe(
    "mean_lengths", [sum(p for p, _ in lengths) / REQUESTS, sum(o for _, o in lengths) / REQUESTS]
)
observe("results", results)
observe("reserve_max_wasted_percent", contiguous["wasted_percent"], "%")
observe("paged_wasted_percent", paged["wasted_percent"], "%")
observe("reserve_max_at_once", contiguous["sequences_at_once"])
observe("paged_at_once", paged["sequences_at_once"])
observe("model_inputs", MODEL_INPUTS)
# Steps alone (every step the same cost, recompute free): the ratio of batch sizes.
observe(
    "batch_ratio_gain",
    paged["throughput_requests_per_kstep"] / contiguous["throughput_requests_per_kstep"],
    "x",
)
# With time charged: KV reads grow with the batch, preemption pays its recompute.
observe("throughput_gain", paged["requests_per_s"] / contiguous["requests_per_s"], "x")
observe("paged_recomputed_tokens", paged["recomputed_tokens"])
observe("paged_preemptions", paged["preemptions"])
observe("paper_wasted_percent", {k: round(100 - v, 1) for k, v in PAPER_USED.items()}, "%")
