"""reproducible-step, the wrapper every RUN of the Dockerfiles goes through: what a step
writes gets SOURCE_DATE_EPOCH's time, what it did not touch and what is mounted keep theirs."""

from __future__ import annotations

import os
from pathlib import Path

from lab.config import Variant
from tests.run_in_image import run_in_image

STEP = (
    "touch /tmp/before && sleep 2.1 && mkdir -p /tmp/step && "
    "SOURCE_DATE_EPOCH=1000 reproducible-step sh -c 'echo made > /tmp/step/file' && "
    "stat -c '%n %Y' /tmp/step/file /tmp/step /tmp/before /lab/stations"
)


def test_a_step_gets_the_epoch_and_nothing_else_changes(stock: Variant, tmp_path: Path) -> None:
    mounted = tmp_path / "mounted"  # new, and the container's user could reset its time
    mounted.mkdir()
    if os.geteuid() == 0:
        os.chown(mounted, 1000, 1000)
    ran = run_in_image(
        stock.image, ["sh", "-c", STEP], volumes=[(str(mounted), "/lab/stations", "rw")]
    )
    assert ran.exit_code == 0, ran.stderr
    times = dict(line.split() for line in ran.stdout.splitlines())
    assert times["/tmp/step/file"] == "1000", "written by the step"
    assert times["/tmp/step"] == "1000", "its folder changed in the step"
    assert times["/tmp/before"] != "1000", "older than the step: left alone"
    assert times["/lab/stations"] != "1000", "a mount point: not the layer's"


def test_without_an_epoch_it_is_an_ordinary_step(stock: Variant) -> None:
    ran = run_in_image(
        stock.image, ["sh", "-c", "reproducible-step sh -c 'echo x > /tmp/f; exit 3'"]
    )
    assert ran.exit_code == 3, "the step's own exit code"
