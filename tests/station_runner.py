"""The station engine's Runner, built on testcontainers instead of compose.

Each experiment runs under labkit.supervisor (a plan of one) in the real image, with the
mounts, user and restrictions compose.yaml gives: every capability dropped but what the
experiment declares, no new privileges, no network, a read-only image with a sized /tmp,
memory and process limits, and the supervisor as PID 1.
"""

from __future__ import annotations

from pathlib import Path

from testcontainers.core.container import DockerContainer

from lab import untrusted
from lab.config import Variant
from lab.run.containers import limits
from lab.run.runner import OUTPUT_MOUNT, STATIONS_MOUNT, Frames, Lines, Outcome, supervisor_argv
from lab.run.stations import stations_dir


class TestcontainersRunner:
    """Starts each experiment in the real image with the mounts compose.yaml gives."""

    __test__ = False  # not a test class, whatever its name

    def __init__(self, results: Path | None = None) -> None:
        self.env = {"PYTHONPATH": f"{STATIONS_MOUNT}/_lib", "HOME": "/tmp"}

    def container(self, variant: Variant, argv, capabilities=(), output: Path | None = None):
        fitted = limits()
        container = DockerContainer(
            variant.image,
            cap_drop=["ALL"],
            cap_add=list(capabilities) or None,
            security_opt=["no-new-privileges:true"],
            network_mode="none",
            mem_limit=fitted["LAB_MEMORY_LIMIT"],
            pids_limit=int(fitted["LAB_PIDS_LIMIT"]),
            init=False,  # the supervisor is PID 1, as in compose.yaml
            read_only=True,
            user="1000:1000",
            group_add=["1000"],
            working_dir="/lab",
        ).with_command(list(argv))
        tmp = f"rw,exec,nosuid,nodev,mode=1777,size={fitted['LAB_DISK_LIMIT']}"
        container = container.with_tmpfs_mount("/tmp", tmp)  # the value: mount options
        container = container.with_volume_mapping(str(stations_dir()), STATIONS_MOUNT, "ro")
        if output is not None:
            container = container.with_volume_mapping(str(output), OUTPUT_MOUNT, "rw")
        for key, value in self.env.items():
            container = container.with_env(key, value)
        return container

    def prepare(self, groups, output, labels) -> None:
        pass

    def run(self, variant, job, *, capabilities, output, labels, on_line) -> Outcome:
        with self.container(variant, supervisor_argv([job]), capabilities, output) as container:
            wrapped = container.get_wrapped_container()
            exit_code = wrapped.wait(timeout=job.timeout + 120)["StatusCode"]
            stdout, stderr = container.get_logs()
        frames, lines = Frames(0, job.timeout, on_line), Lines()
        for line in lines.feed(stdout + stderr + b"\n"):
            frames.parse(line)
        return frames.outcome or Outcome(exit_code or 1, 0.0, "the container stopped")

    def resolve_reading(self, variant: Variant, entries: list[dict], labels=None) -> list[dict]:
        code = (
            "import json, labkit.reading as r; "
            f"print(json.dumps([r.resolve(e) for e in {entries!r}]))"
        )
        with self.container(variant, ["python3", "-c", code]) as container:
            exit_code = container.get_wrapped_container().wait(timeout=300)["StatusCode"]
            stdout, stderr = container.get_logs()
        assert exit_code == 0, stderr.decode(errors="replace")
        return untrusted.reading(entries, stdout)

    def stop_all(self) -> list[str]:
        return []  # each container is stopped as its experiment ends

    def close(self) -> None:
        pass
