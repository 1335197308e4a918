"""What of the machine explains a timing, read from the container's own cgroup, not guessed:
its CPU quota (CPUs it may use however many it sees) and the time the kernel throttled it.

    from labkit import machine
    before = machine.throttled()
    ...  # the timed work
    machine.cpu_quota(), machine.throttled_since(before)

Both cgroup versions: v2's `cpu.max` and `cpu.stat` (throttled_usec), v1's
`cpu/cpu.cfs_quota_us`, `cpu.cfs_period_us` and `cpu/cpu.stat` (throttled_time, in ns).
Where neither is readable (another kernel, no cgroup), None: nothing is claimed.
"""

from __future__ import annotations

from pathlib import Path

CGROUP = Path("/sys/fs/cgroup")


def read(path: Path) -> str | None:
    try:
        return path.read_text()
    except OSError:
        return None


def quota_from(v2_max: str | None, v1_quota: str | None, v1_period: str | None) -> float | None:
    """CPUs the quota allows (1.5: one and a half), or None where there is none."""
    try:
        if v2_max is not None:
            quota, period = [*v2_max.split(), ""][:2]
            return None if quota == "max" else int(quota) / int(period)
        if v1_quota is None or v1_period is None or int(v1_quota) <= 0:
            return None  # v1 writes -1 for no quota
        return int(v1_quota) / int(v1_period)
    except (ValueError, ZeroDivisionError):
        return None


def throttled_from(v2_stat: str | None, v1_stat: str | None) -> float | None:
    """Seconds the kernel has held the cgroup back for its quota, or None (not readable)."""
    readings = ((v2_stat, "throttled_usec", 1e6), (v1_stat, "throttled_time", 1e9))
    for text, key, per_second in readings:
        for line in (text or "").splitlines():
            name, _, value = line.partition(" ")
            if name == key and value.strip().isdigit():
                return int(value) / per_second
    return None


def cpu_quota(root: Path = CGROUP) -> float | None:
    return quota_from(
        read(root / "cpu.max"),
        read(root / "cpu" / "cpu.cfs_quota_us"),
        read(root / "cpu" / "cpu.cfs_period_us"),
    )


def throttled(root: Path = CGROUP) -> float | None:
    return throttled_from(read(root / "cpu.stat"), read(root / "cpu" / "cpu.stat"))


def throttled_since(before: float | None, root: Path = CGROUP) -> float | None:
    """Seconds throttled since BEFORE (a throttled() reading), or None where not readable."""
    now = throttled(root)
    return None if before is None or now is None else round(now - before, 3)
