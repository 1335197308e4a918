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


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "stores(*names): run on these student image stores only")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """A test marked `stores(...)` runs on those student stores only (deselected, not
    skipped, on the other): the end-to-end path runs on both, the faults on one."""
    chosen, dropped = [], []
    for item in items:
        marker = item.get_closest_marker("stores")
        callspec = getattr(item, "callspec", None)
        store = callspec.params.get("student") if callspec else None
        keep = marker is None or store is None or store in marker.args
        (chosen if keep else dropped).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
        items[:] = chosen


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


@pytest.fixture(scope="module", params=services.STORES, ids=services.STORES)
def student(request: pytest.FixtureRequest) -> Iterator[dict[str, str]]:
    """The environment that points docker and invoke at the student's engine: one on each
    image store (the containerd store: Docker 29's and Docker Desktop's default)."""
    try:
        with services.second_engine(store=request.param) as env:
            yield env
    except services.Unavailable as missing:  # iproute2 and the test engine can be installed
        hint = "" if "needs root" in str(missing) else f": {TOOLS_HINT}"  # root cannot
        unavailable(f"{missing}{hint}")


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
