"""Run one command in a real image with testcontainers and return what it did."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from testcontainers.core.container import DockerContainer


@dataclass
class Ran:
    exit_code: int
    stdout: str
    stderr: str


def run_in_image(
    image: str,
    command: Sequence[str],
    *,
    cap_add: Sequence[str] = (),
    volumes: Sequence[tuple[str, str, str]] = (),
    env: dict[str, str] | None = None,
    timeout: float = 300,
) -> Ran:
    container = DockerContainer(image, cap_add=list(cap_add) or None).with_command(list(command))
    for host, inside, mode in volumes:
        container = container.with_volume_mapping(host, inside, mode)
    for key, value in (env or {}).items():
        container = container.with_env(key, value)
    with container:
        wrapped = container.get_wrapped_container()
        exit_code = wrapped.wait(timeout=timeout)["StatusCode"]
        stdout, stderr = container.get_logs()
    return Ran(exit_code, stdout.decode(), stderr.decode())


def python_in(image: str, code: str, **kwargs) -> Ran:
    return run_in_image(image, ["python3", "-c", code], **kwargs)


def printed(image: str, code: str, **kwargs) -> list[str]:
    """What `python3 -c CODE` printed in IMAGE, word by word; it must have exited 0."""
    ran = python_in(image, code, **kwargs)
    assert ran.exit_code == 0, ran.stderr
    return ran.stdout.split()


def unreadable(image: str, paths: Sequence[str]) -> list[str]:
    """The PATHS that IMAGE's user cannot read (missing ones included)."""
    script = "; ".join(f"test -r {path} || echo {path}" for path in paths)
    return run_in_image(image, ["bash", "-c", script]).stdout.split()
