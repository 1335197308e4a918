"""Station 6 (PyTorch): its checks fed true and false observations, and what it tells learners."""

from __future__ import annotations

import re

import pytest

from lab.run import stations
from lab.run.observations import Observations
from tests.unit.stations.judging import observations, status

PYTORCH = stations.find("6")
GPU_FIGURES_FROM = "torch 2.11.0+cu130 on Python 3.12"


def names(accumulate_grad: str = "torch::autograd::AccumulateGrad") -> Observations:
    # torch 2.6.0's CPU build in lab-cuda:stock: Python class name -> C++ name()
    node_names = {
        "SumBackward0": "SumBackward0",
        "MulBackward0": "MulBackward0",
        "AccumulateGrad": accumulate_grad,
    }
    return observations("seed_autograd", {"node_names": node_names}, "cuda")


def test_base_node_name_is_the_cpp_type_not_the_class_name() -> None:
    assert status("generated_nodes_name_themselves", "6", names()) == "pass"
    # the old reading: Node::name gives the name grad_fn shows
    said = names(accumulate_grad="AccumulateGrad")
    assert status("generated_nodes_name_themselves", "6", said) == "fail"


def test_reading_sends_grad_fn_names_to_the_generated_overrides() -> None:
    by_path = {entry.get("path"): entry for entry in PYTORCH.reading}
    assert "demangled C++ type" in by_path["torch/csrc/autograd/function.cpp"]["why"]
    assert "name()" in by_path["tools/autograd/gen_autograd_functions.py"]["why"]


def detached(kept: int, walked: int = 5 << 20) -> Observations:
    graph = {
        "grad": {"nodes": 20, "saved_bytes": walked},
        "no_grad": {"nodes": 0, "saved_bytes": 0},
    }
    values = {
        "retained_keeping_output": kept,
        "retained_keeping_detached": 0,
        "detached_shares_data": True,
        "detached_has_graph": False,
        "graph_saved": {"large_layers": graph},
    }
    return observations("no_grad_inference", values, "cuda")


def test_kept_activations_count_each_storage_once() -> None:
    # 4 x (Linear(1024, 1024), ReLU) on 256 rows: the input and 4 ReLU outputs, 1 MiB each
    assert status("detach_frees_the_graph", "6", detached(5 << 20)) == "pass"
    # each ReLU output counted for the ReLU and again for the next addmm: 8 MiB
    assert status("detach_frees_the_graph", "6", detached(8 << 20)) == "fail"


def timing(ratio: float, same: float, **run) -> Observations:
    values = {
        "grad_over_no_grad": {"small_layers": ratio, "large_layers": 1.03},
        "grad_over_itself": {"small_layers": same, "large_layers": 0.99},
        "device": "cpu",
    }
    return observations("no_grad_inference", values, "cuda", **run)


@pytest.mark.parametrize(
    ("ratio", "same", "verdict"),
    [
        (1.29, 0.998, "pass"),  # lab-cuda:stock on a 2-core host: 24 Linear(64, 64) + ReLU
        (1.01, 1.00, "fail"),  # what passed before: 1% is no margin
        (1.04, 0.97, "fail"),  # inside twice the noise
        (1.08, 1.10, "skip"),  # the noise swallows the effect: said, not judged
    ],
)
def test_no_grad_speedup_must_clear_the_noise(ratio: float, same: float, verdict: str) -> None:
    assert status("no_grad_is_faster_when_overhead_bound", "6", timing(ratio, same)) == verdict


def test_no_grad_speedup_is_not_judged_under_emulation() -> None:
    emulated = timing(1.29, 1.0, emulated={"cuda": "emulated by qemu"})
    assert status("no_grad_is_faster_when_overhead_bound", "6", emulated) == "skip"


def sync_warns(device_synchronize_warns: bool = False, available: bool = True) -> Observations:
    warns = {
        ".item()": True,
        ".cpu()": True,
        "Stream.synchronize()": True,
        "Event.synchronize()": False,
        "torch.cuda.synchronize()": device_synchronize_warns,
    }
    values = {"cuda_available": available, "sync_debug_warns": warns}
    return observations("cuda_sync", values, "cuda")


def test_sync_debug_mode_says_which_waits_warn() -> None:
    check = "sync_debug_mode_warns_on_some_waits"
    assert status(check, "6", sync_warns()) == "pass"
    # the old sentence: every op that makes the host wait says so
    assert status(check, "6", sync_warns(device_synchronize_warns=True)) == "fail"
    assert status(check, "6", sync_warns(available=False)) == "skip"


@pytest.mark.parametrize("script", ["cuda_sync.py", "no_grad_inference.py"])
def test_gpu_figures_say_where_they_were_measured(script: str) -> None:
    # An H200's figures came from outside the images: each says so, not the pinned 2.6.0.
    text = " ".join((PYTORCH.folder / script).read_text().replace("#", " ").split())
    quoted = [m.start() for m in re.finditer("H200", text)]
    assert quoted
    for at in quoted:
        assert GPU_FIGURES_FROM in text[at : at + 400], text[at : at + 400]


def test_cupti_comes_from_its_own_distribution() -> None:
    text = (PYTORCH.folder / "profile_forward.py").read_text()
    assert "nvidia-cuda-cupti-cu12" in text
    assert "with CUPTI" not in text  # the old claim: the torch wheel ships CUPTI


# -- memory and time on the GPU: no_grad, .item(), the profiler --------------------------------
def no_grad_observations(no_grad_nodes: int = 0, held_grad: int = 9 << 20) -> Observations:
    graph = {
        "grad": {"nodes": 17, "saved_bytes": 7 << 20},
        "no_grad": {"nodes": no_grad_nodes, "saved_bytes": 0},
    }
    values = {
        "graph_saved": {"large_layers": graph},
        "held_bytes": {"large_layers": {"grad": held_grad, "no_grad": 1 << 20}},
        "held_in": "the CUDA caching allocator",
    }
    return observations("no_grad_inference", values, "cuda")


def test_no_grad_memory_is_measured_outside_autograds_hooks() -> None:
    assert status("no_grad_saves_nothing", "6", no_grad_observations()) == "pass"
    assert status("no_grad_saves_nothing", "6", no_grad_observations(no_grad_nodes=3)) == "fail"
    # memory did not hold what the graph claims to have saved (on an H200 with torch
    # 2.11.0+cu130, the heap measured instead of the CUDA allocator: 2,528 B for 5 MiB)
    assert status("no_grad_saves_nothing", "6", no_grad_observations(held_grad=1 << 20)) == "fail"
    emptied = observations(
        "no_grad_inference", {"graph_saved": {}, "held_bytes": {}, "held_in": "x"}, "cuda"
    )
    assert status("no_grad_saves_nothing", "6", emptied) == "fail", "all of nothing passed"


def synchronisation(item_ms: float, queue_ms: float = 0.9) -> Observations:
    values = {
        "cuda_available": True,
        "gpu_ms": 214.5,
        "synchronize_blocked_ms": 213.7,
        "item_blocked_ms": item_ms,
        "item_queue_ms": queue_ms,
    }
    return observations("cuda_sync", values, "cuda")


def test_item_must_wait_for_the_queued_work() -> None:
    assert status("item_and_synchronize_block", "6", synchronisation(212.0)) == "pass"
    # an H200's run (torch 2.11.0+cu130) before the warm-up loaded .sum()'s kernel: its
    # first launch took the wait
    assert status("item_and_synchronize_block", "6", synchronisation(1.5, 212.0)) == "fail"


def test_profiler_must_record_the_linear_layers() -> None:
    def profiled(calls: int, trace: int = 120_000) -> Observations:
        values = {
            "top_ops": {"aten::addmm": {"calls": calls, "self_cpu_us": 900.0}},
            "trace_bytes": trace,
            "events": 400,
        }
        return observations("profile_forward", values, "cuda")

    assert status("profiler_records_the_forward", "6", profiled(12)) == "pass"
    assert status("profiler_records_the_forward", "6", profiled(0)) == "fail"
    assert status("profiler_records_the_forward", "6", profiled(12, trace=0)) == "fail"


def test_profiler_must_see_the_gpu_kernels() -> None:
    def profiled(launches: int, device_us: float = 64.0, device: str = "cuda") -> Observations:
        # an H200's longest kernel (torch 2.11.0+cu130): 36 launches in all
        gemm = "void cutlass::Kernel2<cutlass_80_simt_sgemm_64x64_8x5_tn_align1>(...)"
        kernels = {gemm: {"calls": 12, "device_us": device_us}}
        values = {"device": device, "kernel_launches": launches, "top_kernels": kernels}
        return observations("profile_forward", values, "cuda")

    assert status("profiler_records_the_kernels", "6", profiled(36)) == "pass"
    assert status("profiler_records_the_kernels", "6", profiled(0)) == "fail"  # CPU side only
    assert status("profiler_records_the_kernels", "6", profiled(36, device_us=0)) == "fail"
    assert status("profiler_records_the_kernels", "6", profiled(0, device="cpu")) == "skip"
