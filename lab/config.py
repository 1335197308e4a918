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
TORCH_DIR = IMAGES_DIR / "torch"  # the PyTorch images: the CUDA build and the CPU build
STATIONS_DIR = ROOT / "stations"
COMPOSE_FILE = ROOT / "compose.yaml"
# Added to COMPOSE_FILE for images that use a GPU, where the engine can give them one.
COMPOSE_GPU_FILE = ROOT / "compose.gpu.yaml"
# Set (by `invoke station --platform`) to run another platform's images: they are kept under
# their own tags (platform_suffix), which Variant.image and compose.yaml's names then take.
IMAGE_PLATFORM_VAR = "LAB_IMAGE_PLATFORM"


def image_platform() -> str:
    """The other platform whose images this process runs (IMAGE_PLATFORM_VAR), or ""."""
    return os.environ.get(IMAGE_PLATFORM_VAR, "")


def platform_suffix(platform: str) -> str:
    """What another PLATFORM's image adds to its tag (`lab-cpython:stock-linux-arm64`): on
    Docker's classic store one name holds one platform, and the machine's own keeps its name."""
    return f"-{platform.replace('/', '-')}" if platform else ""


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
    repo: str = "lab-cpython"
    tag: str = ""  # default: the name
    context: Path = CPYTHON_DIR  # what its build reads (the inputs digest covers it)
    based_on: str | None = None  # the image its Dockerfile starts FROM: built first
    from_arg: str = "BASE_IMAGE"  # the build arg naming that image (or the base)
    gpu: bool = False  # given the host's NVIDIA GPUs where the engine has the runtime

    @property
    def image(self) -> str:
        """The image's local name: for another platform's (image_platform), its own tag."""
        return self.locked_name + platform_suffix(image_platform())

    @property
    def locked_name(self) -> str:
        """The image's name on every machine and platform: a lock's, compose.yaml's."""
        # LAB_IMAGE_REPO lets tests point at an image that does not exist.
        return f"{os.environ.get('LAB_IMAGE_REPO', self.repo)}:{self.tag or self.name}"

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


# Built only when asked for (`invoke images --variant torch`): PyTorch's builds, on stock.
OPTIONAL_VARIANTS: dict[str, Variant] = {
    v.name: v
    for v in (
        Variant(
            "cuda",
            "python3.13",
            "stock + PyTorch's CUDA build (station 6, station 5's Tensor part)",
            repo="lab-cuda",
            tag="stock",
            context=IMAGES_DIR,  # images/torch, and images/cpython/fetch_sdist.py
            based_on="stock",
            from_arg="CPYTHON_IMAGE",
            gpu=True,
        ),
        Variant(
            "torch-cpu",
            "python3.13",
            "stock + Debian 13's CPU build of PyTorch (the same stations, no NVIDIA GPU)",
            repo="lab-torch",
            tag="cpu",
            context=IMAGES_DIR,
            based_on="stock",
            from_arg="CPYTHON_IMAGE",
        ),
    )
}
# Every image a station can run in: the CPython builds, then the optional ones.
ALL_VARIANTS: dict[str, Variant] = {**VARIANTS, **OPTIONAL_VARIANTS}
# What a station names to run in "the PyTorch image": a run resolves it to one of
# TORCH_IMAGES, the CUDA build where the engine can give a container an NVIDIA GPU and the
# CPU build elsewhere (lab/images/builder.py, torch_image).
TORCH = "torch"
TORCH_IMAGES = ("cuda", "torch-cpu")


def variant(name: str) -> Variant:
    try:
        return ALL_VARIANTS[name]
    except KeyError:
        choices = ", ".join(ALL_VARIANTS)
        raise LabError(f"unknown variant {name!r}: choose one of {choices}") from None


def dockerfile_pin(name: str, dockerfile: Path = CPYTHON_DIR / "Dockerfile") -> str:
    """The default of `ARG NAME=...` in a Dockerfile: pins live there and only there."""
    match = re.search(rf"^ARG {name}=(\S+)$", dockerfile.read_text(), re.MULTILINE)
    if not match:
        raise LabError(f"{dockerfile} has no `ARG {name}=` pin")
    return match.group(1)


def cache_dir() -> Path:
    """Where the lab keeps what it can make again (the reading's resolutions, build logs and
    times, the memory budget's lock): LAB_CACHE, else $XDG_CACHE_HOME/lab, else ~/.cache/lab."""
    if os.environ.get("LAB_CACHE"):
        return Path(os.environ["LAB_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "lab"
