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
from functools import cache
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


@cache
def engine_gpu() -> str | None:
    """How this engine gives containers an NVIDIA GPU, or None (asked once per run)."""
    return docker.gpu_runtime()


def with_gpu(variant: Variant) -> bool:
    """Whether VARIANT's containers get the host's GPUs: it wants them and the engine can."""
    return variant.gpu and engine_gpu() is not None


def device_note(variant: Variant) -> str | None:
    """The one line that says a GPU image runs on the CPU here, and why; None otherwise."""
    if not variant.gpu or with_gpu(variant):
        return None
    return (
        f"{variant.image} runs on the CPU: this engine gives containers no NVIDIA GPU "
        "(no nvidia runtime in `docker info`); GPU-only experiments are skipped"
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
    lend(folder)
    try:
        yield folder
    finally:
        hand_back(folder)


def lend(folder: Path) -> None:
    """Containers never run as root: when root invokes, lend FOLDER to the container's user."""
    if os.getuid() == 0:
        os.chown(folder, *docker.host_ids())


def hand_back(folder: Path) -> None:
    """Give what the containers wrote back to the invoking user (a no-op unless root).

    Another run's `<time>.partial` folder is left alone: that run is still writing there,
    as the container's user, and hands it back itself when it finishes.
    """
    if os.getuid() != 0:
        return
    for path in [folder, *folder.rglob("*")]:
        if not any(part.endswith(".partial") for part in path.relative_to(folder).parts):
            os.lchown(path, os.getuid(), os.getgid())


def run_command(
    variant: Variant,
    command: Sequence[str],
    *,
    capabilities: Sequence[str] = (),
    env: dict[str, str] | None = None,
    tty: bool | None = None,
) -> list[str]:
    """The `docker compose run` line for COMMAND in VARIANT's service."""
    args = ["run", "--rm"]
    if not (sys.stdin.isatty() if tty is None else tty):
        args.append("-T")
    for capability in capabilities:
        args += ["--cap-add", capability]
    for key, value in (env or {}).items():
        args += ["-e", f"{key}={value}"]
    return docker.compose_command([*args, variant.service, *command], gpu=with_gpu(variant))


def env() -> dict[str, str]:
    return docker.compose_env({"LAB_RESULTS": str(results_dir())})


def interactive(variant: Variant, command: Sequence[str] = ("bash",)) -> int:
    """Run COMMAND with the terminal attached (invoke shell); returns its exit code."""
    require_image(variant)
    note = device_note(variant)
    if note:
        print(f"lab: {note}", file=sys.stderr, flush=True)
    with writable_results():
        return subprocess.run(run_command(variant, command), env=env()).returncode
