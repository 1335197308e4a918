"""Refresh the hashed package locks of the CPython images from their `.in` files."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from lab.config import CPYTHON_DIR, dockerfile_pin
from lab.errors import LabError

REQUIREMENTS = CPYTHON_DIR / "requirements"
# gil.txt serves stock and debug; ft.txt the free-threaded build.
LOCKS = ("gil", "ft")


def compile_lock(name: str, requirements: Path = REQUIREMENTS) -> Path:
    """Resolve `<name>.in` for the pinned CPython on Linux into `<name>.txt`, with hashes."""
    uv = shutil.which("uv")
    if uv is None:
        raise LabError("`invoke lock` needs uv: pip install uv")
    python = ".".join(dockerfile_pin("PYTHON_VERSION").split(".")[:2])
    out = requirements / f"{name}.txt"
    argv = [uv, "pip", "compile", "--quiet", "--generate-hashes", "--no-header",
            "--python-version", python, "--python-platform", "linux",
            "--output-file", str(out), str(requirements / f"{name}.in")]  # fmt: skip
    if subprocess.run(argv).returncode:
        raise LabError(f"uv could not resolve {name}.in (see above)")
    return out
