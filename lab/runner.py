"""Run experiments and the reading resolver in containers, streaming their output.

The engine talks to a runner; `ComposeRunner` is what `invoke station` uses (compose.yaml's
services), and the tests substitute one built on testcontainers.
"""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Sequence
from typing import Protocol

from lab import containers
from lab.config import Variant
from lab.errors import LabError

# Inside every container: stations mounted here, results here (compose.yaml's volumes).
STATIONS_MOUNT = "/lab/stations"
RESULTS_MOUNT = "/lab/results"


class Runner(Protocol):
    def run(
        self,
        variant: Variant,
        argv: Sequence[str],
        *,
        env: dict[str, str],
        capabilities: Sequence[str],
        on_line: Callable[[str], None],
    ) -> int: ...

    def resolve_reading(self, variant: Variant, entries: list[dict]) -> list[dict]: ...


class ComposeRunner:
    def run(self, variant, argv, *, env, capabilities, on_line) -> int:
        command = containers.run_command(
            variant, argv, capabilities=capabilities, env=env, tty=False
        )
        with subprocess.Popen(
            command,
            env=containers.env(),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        ) as process:
            for line in process.stdout or ():
                on_line(line.rstrip("\n"))
        return process.returncode

    def resolve_reading(self, variant, entries):
        command = containers.run_command(variant, ["python3", "-m", "labkit.reading"], tty=False)
        done = subprocess.run(
            command, env=containers.env(), input=json.dumps(entries), capture_output=True, text=True
        )
        if done.returncode != 0:
            last = (done.stderr.strip().splitlines() or ["no output"])[-1]
            raise LabError(f"resolving the reading list in {variant.image} failed: {last}")
        return json.loads(done.stdout)
