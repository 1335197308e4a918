"""A tarball that is not the pinned one stops the build with one clear line."""

from __future__ import annotations

import os
import subprocess

from lab.config import CPYTHON_DIR
from lab.images import builder


def test_wrong_hash_stops_the_build(engine: str) -> None:
    builder.ensure_base()
    done = subprocess.run(
        [
            "docker", "build", "--progress", "plain", "--target", "cpython-source",
            "--build-arg", "PYTHON_SHA256=" + "0" * 64,
            "--secret", f"id=extra_ca,src={builder.extra_ca()}",
            str(CPYTHON_DIR),
        ],
        capture_output=True, text=True, env={**os.environ, "DOCKER_BUILDKIT": "1"},
        check=False,
    )  # fmt: skip
    assert done.returncode != 0
    errors = [line for line in done.stderr.splitlines() if "lab-build-error:" in line]
    assert errors, done.stderr[-2000:]
    assert "not the pinned " + "0" * 64 in errors[0]
    assert "refusing to build" in errors[0]
