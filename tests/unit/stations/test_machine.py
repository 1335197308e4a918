"""Why a machine's numbers look the way they do: labkit.machine reads the container's CPU
quota and throttled time from its cgroup (recorded states of both cgroup versions), and
station 3's checks name them where they skip."""

from __future__ import annotations

from pathlib import Path

import pytest
from labkit import machine

from tests.unit.stations.judging import judge, merged, observations, scaling

# Recorded from real containers: Docker 28 on cgroup v1 (this lab's CI) with --cpus 1.5,
# and a cgroup v2 host (Debian 13's systemd) with --cpus 1, after some throttling.
V1 = {
    "cpu/cpu.cfs_quota_us": "150000\n",
    "cpu/cpu.cfs_period_us": "100000\n",
    "cpu/cpu.stat": "nr_periods 812\nnr_throttled 301\nthrottled_time 4216000000\n",
}
V1_NO_QUOTA = {"cpu/cpu.cfs_quota_us": "-1\n", "cpu/cpu.cfs_period_us": "100000\n"}
V2 = {
    "cpu.max": "100000 100000\n",
    "cpu.stat": (
        "usage_usec 9120331\nuser_usec 8802177\nsystem_usec 318154\nnr_periods 410\n"
        "nr_throttled 207\nthrottled_usec 3904811\nnr_bursts 0\nburst_usec 0\n"
    ),
}
V2_NO_QUOTA = {"cpu.max": "max 100000\n", "cpu.stat": "usage_usec 5\n"}


def cgroup(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    return tmp_path


@pytest.mark.parametrize(
    ("files", "quota", "held"),
    [(V1, 1.5, 4.216), (V1_NO_QUOTA, None, None), (V2, 1.0, 3.904811), (V2_NO_QUOTA, None, None),
     ({}, None, None), ({"cpu.max": "garbage"}, None, None)],
    ids=["v1", "v1-no-quota", "v2", "v2-no-quota", "no-cgroup", "unreadable"],
)  # fmt: skip
def test_the_quota_and_throttled_time_are_read_from_the_cgroup(tmp_path, files, quota, held):
    root = cgroup(tmp_path, files)
    assert machine.cpu_quota(root) == quota
    assert machine.throttled(root) == held


def test_throttled_since_is_the_difference_over_the_run(tmp_path) -> None:
    root = cgroup(tmp_path, V2)
    before = machine.throttled(root)
    (root / "cpu.stat").write_text(V2["cpu.stat"].replace("3904811", "5904811"))
    assert machine.throttled_since(before, root) == 2.0
    assert machine.throttled_since(None, root) is None


def one_cpu_quota(**figures) -> object:
    """A 2-CPU machine whose container may use 1 (--cpus 1): nothing ran side by side."""
    quota = {"cpu_quota": 1.0, "throttled_s": 6.5}
    stock = scaling("stock", processes_speedup=1.0, processes_busy_cores=1.0, threads_speedup=1.0,
                    others_busy_cores=0.02, subinterpreters_speedup=1.0,
                    subinterpreters_busy_cores=1.0, subinterpreters_seconds_at_cores=0.3,
                    **quota, **figures)  # fmt: skip
    ft = scaling("ft", processes_speedup=1.0, threads_speedup=1.0, gil_on_really_on=True,
                 threads_gil_speedup=1.0, threads_gil_busy_cores=1.0, **quota)  # fmt: skip
    return merged(stock, ft, observations("scaling", {"cores": 2}, "stock"))


@pytest.mark.parametrize(
    "name",
    ["stock_threads_do_not_scale", "gil_switched_back_on_serializes", "ft_threads_scale",
     "processes_scale", "subinterpreters_scale"],
)  # fmt: skip
def test_a_one_cpu_quota_skips_the_parallel_and_serial_checks_naming_it(name: str) -> None:
    """Issue 26's done-when: a station 3 run limited to one CPU skips with the machine's
    reason (before, the processes check failed a quiet host's pool of 1.0x)."""
    judged = judge(name, "3", one_cpu_quota())
    assert judged.status == "skip", judged.detail
    assert "a CPU quota of 1 (the container's cgroup)" in judged.detail
    assert "throttled 6.5 s during the run" in judged.detail
