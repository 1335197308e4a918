"""Run commands in the lab's containers through compose.yaml's services.

invoke never restates mounts, users or environment: compose.yaml holds them, so
`invoke shell ft` and `docker compose run --rm ft` start the same container.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from lab import docker
from lab.config import Variant, results_dir
from lab.errors import LabError


def require_image(variant: Variant) -> None:
    docker.require_engine()
    if docker.image_labels(variant.image) is None:
        raise LabError(
            f"image {variant.image} is not built: run `invoke images --variant {variant.name}`"
        )


@contextmanager
def writable_results() -> Iterator[Path]:
    """The results folder, writable by the container's user, owned by the invoker afterwards."""
    folder = results_dir()
    try:
        folder.mkdir(parents=True, exist_ok=True)
        probe = folder / ".lab-write-probe"
        probe.touch()
        probe.unlink()
    except OSError as error:
        raise LabError(f"results folder {folder} is not writable: {error.strerror}") from None
    uid, gid = docker.host_ids()
    as_root = os.getuid() == 0  # containers never run as root: lend the folder to uid 1000
    if as_root:
        os.chown(folder, uid, gid)
    try:
        yield folder
    finally:
        if as_root:
            hand_back(folder)


def hand_back(folder: Path) -> None:
    """Give what the container wrote back to the invoking user (root)."""
    for path in [folder, *folder.rglob("*")]:
        os.lchown(path, os.getuid(), os.getgid())


def run_command(
    variant: Variant, command: Sequence[str], *, capabilities: Sequence[str] = ()
) -> list[str]:
    """The `docker compose run` line for COMMAND in VARIANT's service."""
    args = ["run", "--rm"]
    if not sys.stdin.isatty():
        args.append("-T")
    for capability in capabilities:
        args += ["--cap-add", capability]
    return docker.compose_command([*args, variant.service, *command])


def env() -> dict[str, str]:
    return docker.compose_env({"LAB_RESULTS": str(results_dir())})


def interactive(variant: Variant, command: Sequence[str] = ("bash",)) -> int:
    """Run COMMAND with the terminal attached (invoke shell); returns its exit code."""
    require_image(variant)
    with writable_results():
        return subprocess.run(run_command(variant, command), env=env()).returncode
