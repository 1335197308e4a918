"""The station engine's Runner, built on testcontainers instead of compose."""

from __future__ import annotations

import json
from pathlib import Path

from lab.config import STATIONS_DIR, Variant
from lab.runner import RESULTS_MOUNT, STATIONS_MOUNT
from tests.run_in_image import run_in_image


class TestcontainersRunner:
    """Starts each experiment in the real image with the mounts compose.yaml gives."""

    __test__ = False  # not a test class, whatever its name

    def __init__(self, results: Path) -> None:
        self.volumes = [
            (str(STATIONS_DIR), STATIONS_MOUNT, "ro"),
            (str(results), RESULTS_MOUNT, "rw"),
        ]
        self.env = {"PYTHONPATH": f"{STATIONS_MOUNT}/_lib", "HOME": "/tmp"}

    def run(self, variant: Variant, argv, *, env, capabilities, on_line) -> int:
        ran = run_in_image(
            variant.image, argv, cap_add=capabilities, volumes=self.volumes, env={**self.env, **env}
        )
        for line in (ran.stdout + ran.stderr).splitlines():
            on_line(line)
        return ran.exit_code

    def resolve_reading(self, variant: Variant, entries: list[dict]) -> list[dict]:
        code = (
            "import json, labkit.reading as r; "
            f"print(json.dumps([r.resolve(e) for e in {entries!r}]))"
        )
        ran = run_in_image(
            variant.image, ["python3", "-c", code], volumes=self.volumes, env=self.env
        )
        assert ran.exit_code == 0, ran.stderr
        return json.loads(ran.stdout)
