"""A classroom in one machine: the registry and a student's engine, started by the tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from lab.config import VARIANTS
from tests import services
from tests.cli import invoke
from tests.conftest import TOOLS_HINT, built, unavailable

# The CUDA image is 7 GB: the classroom's end-to-end tests carry the three CPU images.
CPU_VARIANTS = ",".join(VARIANTS)


@pytest.fixture(scope="module")
def cpu_images(engine: str) -> list[str]:
    return [built(variant).image for variant in VARIANTS.values()]


@pytest.fixture(scope="module")
def registry() -> Iterator[str]:
    try:
        with services.registry() as address:
            yield address
    except services.Unavailable as missing:
        unavailable(f"{missing}: {TOOLS_HINT}")


@pytest.fixture(scope="module")
def student() -> Iterator[dict[str, str]]:
    """The environment that points docker and invoke at the student's engine."""
    try:
        with services.second_engine() as env:
            yield env
    except services.Unavailable as missing:  # iproute2 can be installed; root cannot
        unavailable(f"{missing}: {TOOLS_HINT}" if "iproute2" in str(missing) else str(missing))


@pytest.fixture(scope="module")
def published(registry: str, cpu_images: list[str], tmp_path_factory) -> Path:
    """The instructor's lab.lock, from publishing this machine's three CPU images."""
    lock = tmp_path_factory.mktemp("class") / "lab.lock"
    done = invoke(
        "publish", "--registry", f"{registry}/class", "--variants", CPU_VARIANTS,
        "--lock", str(lock), timeout=1800,
    )  # fmt: skip
    assert done.code == 0, done.stderr
    return lock
