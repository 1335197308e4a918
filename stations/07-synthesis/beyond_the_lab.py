"""The last column, syscalls and GPU kernels: which of its tools this image has.

NVIDIA's profilers (nsys, ncu, nvprof) come with the CUDA toolkit or Nsight, which no
image of this lab carries; strace and perf would need more capabilities than the lab
grants (perf_event_open is blocked by Docker's default seccomp profile).
"""

from __future__ import annotations

import shutil

from labkit import observe

TOOLS = {
    "nsys": "Nsight Systems: CPU and GPU timeline (install NVIDIA's Nsight on a GPU host)",
    "ncu": "Nsight Compute: one kernel's counters (with the CUDA toolkit)",
    # nvprof's limit is the GPU, not the toolkit: it cannot profile compute capability 8.0+.
    "nvprof": "the old CUDA profiler (no GPU of compute capability 8.0+: Ampere, Hopper)",
    "strace": "syscalls (needs SYS_PTRACE; not installed)",
    "perf": "CPU counters and native stacks (needs perf_event_open; not installed)",
}


def main() -> None:
    present = {tool: shutil.which(tool) is not None for tool in TOOLS}
    for tool, why in TOOLS.items():
        print(f"  {tool:<7} {'here' if present[tool] else 'not in this lab'}: {why}")
    observe("tools_here", sorted(t for t, here in present.items() if here))
    observe("tools_missing", sorted(t for t, here in present.items() if not here))


if __name__ == "__main__":
    main()
