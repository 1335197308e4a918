"""Refresh the hashed package locks of the images from their `.in` files."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

from lab.config import CPYTHON_DIR, ROOT, TORCH_DIR, dockerfile_pin
from lab.errors import LabError

REQUIREMENTS = CPYTHON_DIR / "requirements"
# gil.txt serves stock and debug; ft.txt the free-threaded build; the CUDA image's
# requirements.txt holds torch and its nvidia-* libraries (on top of stock's gil.txt).
LOCKS: dict[str, Path] = {
    "gil": REQUIREMENTS / "gil.in",
    "ft": REQUIREMENTS / "ft.in",
    "cuda": TORCH_DIR / "requirements.in",
}


def compile_lock(name: str) -> Path:
    """Resolve LOCKS[name] (a `.in`) for the pinned CPython into its `.txt`, hashed. Universal:
    one lock for x86-64 and arm64 alike, with markers where they differ (torch's nvidia-*
    libraries and triton are x86-64's only). uv keeps the pins already in the `.txt`."""
    uv = shutil.which("uv")
    if uv is None:
        raise LabError("`invoke lock` needs uv: pip install uv")
    python = ".".join(dockerfile_pin("PYTHON_VERSION").split(".")[:2])
    source = LOCKS[name]
    out = source.with_suffix(".txt")
    argv = [uv, "pip", "compile", "--quiet", "--generate-hashes", "--no-header",
            "--python-version", python, "--universal",
            "--output-file", str(out), str(source)]  # fmt: skip
    if subprocess.run(argv).returncode:
        raise LabError(f"uv could not resolve {source.relative_to(ROOT)} (see above)")
    return out
