"""torch.profiler on a forward pass: the lab's stand-in for Nsight, which no image carries.

The profiler (Kineto) is built into the torch wheel; for the GPU's side it loads CUPTI,
which the wheel does not carry: it comes from the nvidia-cuda-cupti-cu12 distribution the
wheel requires (12.4.127 for torch 2.6.0+cu124). It records every aten op the forward runs,
on the CPU and, where there is a GPU, the kernels too. The trace is saved for the report
(open it in chrome://tracing or Perfetto).
"""

import re
from importlib import metadata

import torch
from labkit import observe, output_dir
from torch.autograd import DeviceType
from torch.profiler import ProfilerActivity, profile


def cupti_distribution() -> str | None:
    """The distribution torch requires for CUPTI, as installed (None: it requires none)."""
    for requirement in metadata.requires("torch") or ():
        name = re.match(r"[\w.-]+", requirement).group()
        if "cupti" not in name:
            continue
        try:  # torch/__init__.py preloads its libcupti.so (_load_global_deps)
            return f"{name} {metadata.version(name)}"
        except metadata.PackageNotFoundError:
            return f"{name} (required, not installed)"
    return None


torch.manual_seed(0)
device = "cuda" if torch.cuda.is_available() else "cpu"
activities = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if device == "cuda" else [])
model = torch.nn.Sequential(*[m for _ in range(4) for m in
                              (torch.nn.Linear(256, 256), torch.nn.ReLU())]).to(device)  # fmt: skip
batch = torch.randn(64, 256, device=device)
model(batch)  # the first call's one-off costs stay out of the trace

with profile(activities=activities, record_shapes=True) as recorded:
    for _ in range(3):
        with torch.no_grad():
            model(batch)
    if device == "cuda":
        torch.cuda.synchronize()

trace = output_dir() / "torch-trace.json"
recorded.export_chrome_trace(str(trace))
averages = recorded.key_averages()
print(averages.table(sort_by="self_cpu_time_total", row_limit=8))
top = sorted(averages, key=lambda e: e.self_cpu_time_total, reverse=True)[:6]
observe("device", device)
observe("cupti_from", cupti_distribution())
observe("trace_file", trace.name)
observe("trace_bytes", trace.stat().st_size, "B")
observe("events", len(recorded.events()))
observe("top_ops", {e.key: {"calls": e.count, "self_cpu_us": round(e.self_cpu_time_total, 1)}
                    for e in top})  # fmt: skip

# The GPU's side (CUPTI): the kernels the ops launched, by the time they ran on the device.
# Their names are cuBLAS's and ATen's own, and change with the GPU and the library version.
if device == "cuda":
    kernels = [e for e in averages if e.device_type == DeviceType.CUDA]  # not the aten ops
    top_kernels = sorted(kernels, key=lambda e: e.self_device_time_total, reverse=True)[:6]
    launches = sum(e.count for e in kernels)
    print(f"{len(kernels)} kernels ran on the GPU, {launches} launches")
    observe("kernel_launches", launches)
    observe("top_kernels", {e.key: {"calls": e.count,
                                     "device_us": round(e.self_device_time_total, 1)}
                            for e in top_kernels})  # fmt: skip
