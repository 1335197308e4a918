"""Shared fixtures. Tests under tests/images and tests/stations start the real images.

Where no engine runs, an image is not built or a tool is missing, those tests skip with the
reason, except in CI (CI=true), where that is a failure: CI provisions everything first. The
tools are installed by `invoke test` itself (scripts/install-test-tools.sh), so what skips for
one is only where it cannot be installed (no root and no sudo, no apt-get).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import NoReturn

import pytest

from lab.config import ALL_VARIANTS, VARIANTS, Variant
from lab.engine import docker
from tests import browser as browser_tools
from tests.class_hand_ins import lab_here  # noqa: F401  (a fixture: the class page's tests)

# The reaper container (ryuk) would have to be pulled; every test stops what it starts.
os.environ.setdefault("TESTCONTAINERS_RYUK_DISABLED", "true")

CONTAINER_DIRS = ("images", "stations", "classroom")
BROWSER_DIRS = ("pages",)


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    # By the folder under tests/: tests/unit/classroom is a unit test, tests/classroom is not.
    for item in items:
        top = Path(item.fspath).relative_to(Path(__file__).parent).parts[0]
        if top in CONTAINER_DIRS:
            item.add_marker(pytest.mark.container)
        if top in BROWSER_DIRS:
            item.add_marker(pytest.mark.browser)


TOOLS_HINT = "scripts/install-test-tools.sh installs it (`invoke test` runs it; root or sudo)"


def unavailable(reason: str) -> NoReturn:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI provisions everything before the tests)")
    pytest.skip(reason)


@pytest.fixture(scope="session")
def engine() -> str:
    version = docker.engine_version()
    if version is None:
        unavailable("no Docker engine running: run scripts/install-docker.sh")
    return version


def built(variant: Variant) -> Variant:
    if docker.image_labels(variant.image) is None:
        unavailable(f"{variant.image} not built: run `invoke images --variant {variant.name}`")
    return variant


@pytest.fixture(scope="session")
def browser() -> Iterator:
    """Headless Chromium through its WebDriver (tests/browser.py), one for the session."""
    tools = browser_tools.found()
    if tools is None:
        unavailable(f"no headless Chromium with its chromedriver: {TOOLS_HINT}")
    with browser_tools.chromium(*tools) as session:
        yield session


@pytest.fixture(params=list(VARIANTS), ids=list(VARIANTS))
def any_variant(request: pytest.FixtureRequest, engine: str) -> Variant:
    return built(VARIANTS[request.param])


@pytest.fixture(params=["stock", "debug"])
def gil_variant(request: pytest.FixtureRequest, engine: str) -> Variant:
    """The builds with a GIL (and so with the tools that need one, like py-spy)."""
    return built(VARIANTS[request.param])


@pytest.fixture
def stock(engine: str) -> Variant:
    return built(VARIANTS["stock"])


@pytest.fixture
def debug(engine: str) -> Variant:
    return built(VARIANTS["debug"])


@pytest.fixture
def ft(engine: str) -> Variant:
    return built(VARIANTS["ft"])


@pytest.fixture
def cuda(engine: str) -> Variant:
    """The CUDA image (stations 5 and 6), built only on request: `invoke images --variant cuda`."""
    return built(ALL_VARIANTS["cuda"])


@pytest.fixture
def torch_cpu(engine: str) -> Variant:
    """The CPU PyTorch image: `invoke images --variant torch-cpu` (setup.sh builds it where
    no NVIDIA GPU is reachable)."""
    return built(ALL_VARIANTS["torch-cpu"])
