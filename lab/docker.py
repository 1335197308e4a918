"""The Docker CLI, called as a learner would call it; every failure becomes one line."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Sequence
from functools import cache

from lab.config import COMPOSE_FILE, COMPOSE_GPU_FILE, ROOT
from lab.errors import LabError

INSTALL_HINT = "run `scripts/install-docker.sh` (Debian/Ubuntu) or start Docker"


def docker(args: Sequence[str], *, check: bool = True, timeout: float = 60) -> str:
    """Run `docker ARGS`, return its stdout; raise LabError with docker's own last line."""
    if not shutil.which("docker"):
        raise LabError(f"no `docker` command on PATH: {INSTALL_HINT}")
    try:
        done = subprocess.run(
            ["docker", *args], capture_output=True, text=True, timeout=timeout, check=False
        )
    except subprocess.TimeoutExpired:
        raise LabError(f"`docker {' '.join(args)}` did not answer in {timeout:.0f} s") from None
    if check and done.returncode != 0:
        raise LabError(f"`docker {' '.join(args[:3])}` failed: {telling_line(done.stderr)}")
    return done.stdout


def telling_line(stderr: str) -> str:
    """docker's most useful line: the last that names an error, else the last."""
    lines = [line.strip() for line in stderr.splitlines() if line.strip()]
    for line in reversed(lines):
        if any(word in line.lower() for word in ("error", "denied", "no such", "not found")):
            return line
    return lines[-1] if lines else "(no message)"


def engine_version() -> str | None:
    """The engine's version, or None when no engine answers."""
    try:
        out = docker(["version", "--format", "{{.Server.Version}}"], check=False, timeout=15)
    except LabError:
        return None
    return out.strip() or None


def require_engine() -> str:
    version = engine_version()
    if version is None:
        raise LabError(f"no Docker engine is running: {INSTALL_HINT}")
    return version


def plugin_version(plugin: str) -> str | None:
    """`docker compose` / `docker buildx` version, or None when the plugin is missing."""
    try:
        out = docker([plugin, "version"], check=False, timeout=15).strip()
    except LabError:
        return None
    if not out or "is not a docker command" in out:
        return None
    return out.split()[-1] if plugin == "compose" else out.split()[1]


def image_labels(image: str) -> dict[str, str] | None:
    """The image's labels, or None when the image is not there."""
    out = docker(["image", "inspect", "--format", "{{json .Config.Labels}}", image], check=False)
    if not out.strip():
        return None
    return json.loads(out) or {}


def image_id(image: str) -> str:
    """The image's ID (its content digest), short: which exact image a report came from."""
    return docker(["image", "inspect", "--format", "{{.Id}}", image], check=False).strip()[7:19]


def gpu_runtime() -> str | None:
    """How containers would see an NVIDIA GPU here (a runtime or CDI), or None."""
    info = json.loads(docker(["info", "--format", "{{json .}}"], check=False) or "{}")
    return "nvidia runtime" if "nvidia" in (info.get("Runtimes") or {}) else None


@cache
def host_ids() -> tuple[int, int]:
    """The ids containers run as: the invoking user's, but never root (uid 0 -> 1000)."""
    uid, gid = os.getuid(), os.getgid()
    return (uid, gid) if uid != 0 else (1000, 1000)


def compose_env(extra: dict[str, str] | None = None) -> dict[str, str]:
    uid, gid = host_ids()
    return {**os.environ, "LAB_UID": str(uid), "LAB_GID": str(gid), **(extra or {})}


def compose_command(args: Sequence[str], *, gpu: bool = False) -> list[str]:
    """`docker compose ARGS`; GPU adds compose.gpu.yaml (the GPU request) to compose.yaml."""
    files = ["-f", str(COMPOSE_FILE)] + (["-f", str(COMPOSE_GPU_FILE)] if gpu else [])
    return ["docker", "compose", "--project-directory", str(ROOT), *files, *args]
