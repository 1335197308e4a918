"""Station 6's checks: each returns (passed, what was measured); None = skipped, and why."""

NO_GPU = "no CUDA device here (torch.cuda.is_available() is False): GPU-only, skipped"


def check_seed_gradient(obs):
    """x.grad from backward() equals the analytic gradient 2x, and gradcheck agrees"""
    error, numeric = (
        obs["seed_autograd.max_error_vs_analytic"],
        obs["seed_autograd.gradcheck_passed"],
    )
    # An error is a distance: below 0 is not a measurement.
    return 0 <= error < 1e-6 and numeric, f"max |x.grad - 2x| = {error:.2g}; gradcheck: {numeric}"


def check_graph_from_grad_fn(obs):
    """forward built Sum <- Mul <- x (twice): the graph backward walks"""
    graph = [line.strip() for line in obs["seed_autograd.graph"]]
    ok = graph[0].startswith("SumBackward0") and graph[1].startswith("MulBackward0")
    ok = ok and sum(line.startswith("AccumulateGrad") for line in graph) == 2
    return ok, " / ".join(graph)


def check_generated_nodes_name_themselves(obs):
    """The generated nodes' name() override gives SumBackward0; the base Node::name the C++ type"""
    names = obs["seed_autograd.node_names"]  # Python class name -> C++ name()
    ok = names.get("SumBackward0") == "SumBackward0" and names.get("MulBackward0") == "MulBackward0"
    # AccumulateGrad overrides nothing: Node::name demangles its typeid.
    ok = ok and names.get("AccumulateGrad") == "torch::autograd::AccumulateGrad"
    return ok, ", ".join(f"{python} -> name() {cpp}" for python, cpp in names.items())


def check_no_grad_saves_nothing(obs):
    """With grad on, memory holds the activations the graph saves; under no_grad, it does not"""
    graphs, held = obs["no_grad_inference.graph_saved"], obs["no_grad_inference.held_bytes"]
    where = obs["no_grad_inference.held_in"]  # the heap, or the CUDA caching allocator
    if not graphs:
        return False, "no model was measured"
    # Under no_grad autograd records no graph, so its 0 nodes and 0 saved bytes hold by
    # construction: kept as a guard against impossible evidence, and shown. The evidence is
    # the memory: what the allocator holds beyond no_grad must be what the graph saved.
    ok, parts = True, []
    for name, graph in graphs.items():
        grad, no_grad = graph["grad"], graph["no_grad"]
        extra = held[name]["grad"] - held[name]["no_grad"]
        # Memory must hold at least half of what the graph says it saved, beyond no_grad.
        ok &= grad["saved_bytes"] > 0 and no_grad["nodes"] == 0 and no_grad["saved_bytes"] == 0
        ok &= extra >= grad["saved_bytes"] / 2
        parts.append(
            f"{name}: graph {grad['nodes']} nodes saving {grad['saved_bytes'] / 2**20:.2f} MiB"
            f" vs {no_grad['nodes']} nodes; {where} held {held[name]['grad'] / 2**20:.2f} MiB vs"
            f" {held[name]['no_grad'] / 2**20:.2f} MiB"
        )
    judged = " (judged: the memory held; no_grad's 0 nodes are autograd's by construction)"
    return ok, "; ".join(parts) + judged


def check_no_grad_is_faster_when_overhead_bound(obs):
    """Recording the graph costs time: no_grad is faster on many small layers, beyond the noise"""
    obs.timed()
    ratio = obs["no_grad_inference.grad_over_no_grad"]
    # The A/A test: with grad timed twice in the same rounds is off by the noise alone.
    same = obs["no_grad_inference.grad_over_itself"]["small_layers"]
    detail = ", ".join(f"{k}: grad / no_grad = {v:.3f}x" for k, v in ratio.items())
    return obs.beyond_noise(
        ratio["small_layers"], same, f"{detail} on {obs['no_grad_inference.device']}"
    )


def check_detach_frees_the_graph(obs):
    """Keeping the output keeps its saved activations; keeping output.detach() frees them"""
    kept, detached = (obs["no_grad_inference.retained_keeping_output"],
                      obs["no_grad_inference.retained_keeping_detached"])  # fmt: skip
    # The same model's graph, walked from grad_fn: what keeping the output must keep, each
    # storage once (a ReLU's output is saved by the ReLU and by the next addmm).
    walked = obs["no_grad_inference.graph_saved"]["large_layers"]["grad"]["saved_bytes"]
    shares = obs["no_grad_inference.detached_shares_data"]
    ok = kept == walked > 0 and detached == 0 and shares
    ok = ok and not obs["no_grad_inference.detached_has_graph"]
    return ok, (
        f"held: {kept / 2**20:.2f} MiB (the graph walk: {walked / 2**20:.2f} MiB) vs"
        f" {detached} B; detach() shares the data: {shares}"
    )


def check_launch_returns_before_the_work(obs):
    """A kernel launch returns long before the GPU has finished it"""
    obs.timed()
    if not obs["cuda_sync.cuda_available"]:
        return None, NO_GPU
    launch, gpu = obs["cuda_sync.launch_ms"], obs["cuda_sync.gpu_ms"]
    running = obs["cuda_sync.still_running_after_launch"]
    return launch < gpu / 4 and running, f"launches {launch:.2f} ms, GPU work {gpu:.1f} ms"


def check_item_and_synchronize_block(obs):
    """.item() and torch.cuda.synchronize() wait for the queued work"""
    obs.timed()
    if not obs["cuda_sync.cuda_available"]:
        return None, NO_GPU
    gpu = obs["cuda_sync.gpu_ms"]
    waited, item = obs["cuda_sync.synchronize_blocked_ms"], obs["cuda_sync.item_blocked_ms"]
    queued = obs["cuda_sync.item_queue_ms"]  # long when queueing waited instead of .item()
    detail = (
        f"GPU work {gpu:.1f} ms; synchronize() blocked {waited:.1f} ms, .item() {item:.1f} ms"
        f" (queueing the work before it: {queued:.1f} ms)"
    )
    return waited > gpu / 2 and item > gpu / 2, detail


def check_timing_needs_sync(obs):
    """Timing a GPU op without synchronising measures only its launch"""
    obs.timed()
    if not obs["cuda_sync.cuda_available"]:
        return None, NO_GPU
    naive, synced = obs["cuda_sync.unsynced_ms"], obs["cuda_sync.synced_ms"]
    return synced > 4 * naive, f"without sync {naive:.3f} ms, with sync {synced:.2f} ms"


def check_sync_debug_mode_warns_on_some_waits(obs):
    """Sync debug mode warns on .item() and Stream.synchronize(), not on torch.cuda.synchronize()"""
    if not obs["cuda_sync.cuda_available"]:
        return None, NO_GPU
    warns = obs["cuda_sync.sync_debug_warns"]  # the wait -> whether it warned
    # warn_or_error_on_sync is called by memcpy_and_sync and stream_synchronize only.
    ok = warns[".item()"] and warns["Stream.synchronize()"]
    ok = ok and not warns["torch.cuda.synchronize()"]
    said = ", ".join(f"{wait} {'warns' if w else 'silent'}" for wait, w in warns.items())
    return ok, said


# The PagedAttention simulation (paged_attention.py) is deterministic: no learner's machine
# could fail a check of it, so its properties are the lab's own unit tests
# (tests/unit/stations/test_paged_attention.py), and the page shows it as simulated, beside
# the paper's Fig. 2 and the explain question, not as a check.


def check_profiler_records_the_forward(obs):
    """torch.profiler records the forward's aten ops (3 x 4 Linear layers) and saves a trace"""
    ops = obs["profile_forward.top_ops"]
    linear = {k: v for k, v in ops.items() if k in ("aten::addmm", "aten::linear")}
    trace = obs["profile_forward.trace_bytes"]
    calls = max((v["calls"] for v in linear.values()), default=0)
    detail = f"{obs['profile_forward.events']} events, trace {trace:,} B; top ops: {', '.join(ops)}"
    return calls >= 12 and trace > 0, detail


def check_profiler_records_the_kernels(obs):
    """On a GPU, the profiler also records the kernels the forward launched (CUPTI)"""
    if obs["profile_forward.device"] != "cuda":
        return None, NO_GPU
    launches, kernels = obs["profile_forward.kernel_launches"], obs["profile_forward.top_kernels"]
    device_us = sum(k["device_us"] for k in kernels.values())
    longest = ", ".join(
        f"{n[:40]} x{k['calls']} {k['device_us']:.0f} us" for n, k in kernels.items()
    )
    # 3 passes x 4 layers, each a matrix product and a ReLU: 24 kernels at the least.
    ok = launches >= 24 and device_us > 0
    return ok, f"{launches} kernel launches; the longest: {longest}"
