"""Where things are and what the images are called: the one place that knows."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from lab.errors import LabError

ROOT = Path(__file__).resolve().parent.parent
IMAGES_DIR = ROOT / "images"
CPYTHON_DIR = IMAGES_DIR / "cpython"
STATIONS_DIR = ROOT / "stations"
COMPOSE_FILE = ROOT / "compose.yaml"


def results_dir() -> Path:
    """Where reports and experiment outputs go (LAB_RESULTS overrides, for tests)."""
    return Path(os.environ.get("LAB_RESULTS", ROOT / "results"))


@dataclass(frozen=True)
class Variant:
    name: str
    interpreter: str
    summary: str
    # Packages the other variants have and this one cannot use: {package: why}.
    left_out: dict[str, str] = field(default_factory=dict)

    @property
    def image(self) -> str:
        # LAB_IMAGE_REPO lets tests point at an image that does not exist.
        return f"{os.environ.get('LAB_IMAGE_REPO', 'lab-cpython')}:{self.name}"

    @property
    def service(self) -> str:
        """The compose.yaml service that runs this image."""
        return self.name


VARIANTS: dict[str, Variant] = {
    v.name: v
    for v in (
        Variant("stock", "python3.13", "CPython 3.13, default build"),
        Variant("debug", "python3.13", "--with-pydebug, gdb with py-bt"),
        Variant(
            "ft",
            "python3.13t",
            "--disable-gil (free-threaded)",
            left_out={
                "uvloop": "no free-threaded build",
                "py-spy": "cannot read a free-threaded process yet (py-spy issue 711)",
                "matplotlib": "plots are drawn on stock",
            },
        ),
    )
}


def variant(name: str) -> Variant:
    try:
        return VARIANTS[name]
    except KeyError:
        raise LabError(f"unknown variant {name!r}: choose one of {', '.join(VARIANTS)}") from None


def dockerfile_pin(name: str, dockerfile: Path = CPYTHON_DIR / "Dockerfile") -> str:
    """The default of `ARG NAME=...` in a Dockerfile: pins live there and only there."""
    match = re.search(rf"^ARG {name}=(\S+)$", dockerfile.read_text(), re.MULTILINE)
    if not match:
        raise LabError(f"{dockerfile} has no `ARG {name}=` pin")
    return match.group(1)
