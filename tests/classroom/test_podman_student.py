"""A student whose engine is Podman: Debian's `podman` (4.3.1 on Debian 12) serving the
Docker API, set up as docs/machines.md tells a student to, reached through DOCKER_HOST.
The instructor is this machine's Docker, as in test_classroom.py; the class's registry is on
the loopback address that scripts/install-test-tools.sh told Podman is insecure.

Order matters: the tests share the student's Podman and go from an empty one to a class.
"""

from __future__ import annotations

import json
import os
import subprocess
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from lab.classroom import lockfile
from lab.config import ALL_VARIANTS
from lab.images import identity
from tests import services
from tests.cli import invoke
from tests.conftest import TOOLS_HINT, unavailable

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")


@pytest.fixture(scope="module")
def registry() -> Iterator[str]:
    """The class's registry (conftest's `published` pushes to it), at the address Podman's
    settings name: Podman pulls over plain HTTP only from a registry they call insecure."""
    try:
        with services.registry_at(services.PODMAN_REGISTRY) as address:
            yield address
    except services.Unavailable as missing:
        unavailable(f"{missing}: {TOOLS_HINT}")


@pytest.fixture(scope="module")
def podman(registry: str) -> Iterator[dict[str, str]]:
    """DOCKER_HOST at the student's Podman, its store empty."""
    try:
        with services.podman_engine(registry) as env:
            yield env
    except services.Unavailable as missing:
        hint = "" if "needs root" in str(missing) else f": {TOOLS_HINT}"
        unavailable(f"{missing}{hint}")


def podman_images(env: dict[str, str]) -> dict[str, str]:
    """{local name: rootfs identity} of the lab's images on the Podman the env points at."""
    found = {}
    for variant in ALL_VARIANTS.values():
        done = subprocess.run(
            ["docker", "image", "inspect", "--format", "{{json .RootFS.Layers}}", variant.image],
            env={**os.environ, **env}, capture_output=True, text=True, check=False,
        )  # fmt: skip
        if done.returncode == 0:
            found[variant.image] = identity.rootfs_identity(json.loads(done.stdout))
    return found


def test_the_engine_is_podman(podman: dict[str, str]) -> None:
    facts = invoke("doctor", "--json", env=podman)
    assert facts.code == 0, facts.stderr
    engine = json.loads(facts.stdout)["engine"]
    assert engine["kind"] == "Podman", engine
    assert all(image is None for image in json.loads(facts.stdout)["images"].values())


def test_a_podman_student_pulls_the_class_lock(published: Path, podman: dict[str, str]) -> None:
    pulled = invoke("pull", "--lock", str(published), env=podman, timeout=1800)
    assert pulled.code == 0, pulled.stdout[-3000:] + pulled.stderr
    locked = lockfile.read(published)
    assert podman_images(podman) == {
        ALL_VARIANTS[name].image: entry.rootfs for name, entry in locked.items()
    }


def test_doctor_compare_is_identical(published: Path, podman: dict[str, str]) -> None:
    compared = invoke("doctor", "--compare", str(published), env=podman)
    assert compared.code == 0, compared.stdout + compared.stderr
    assert compared.stdout.startswith(f"identical to {published}")


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> Path:
    """The student's results/ folder: the station's run, then the hand-in of it."""
    return tmp_path_factory.mktemp("results")


def test_station_1_runs_on_podman(podman: dict[str, str], results: Path) -> None:
    ran = invoke("station", "1", "--quick", env={**podman, "LAB_RESULTS": str(results)})
    assert ran.code == 0, ran.stdout[-3000:] + ran.stderr
    reports = list(results.glob("station-1/*/report.json"))
    assert len(reports) == 1 and json.loads(reports[0].read_text())["passed"] is True


def test_the_hand_in_says_the_engine_was_podman(
    podman: dict[str, str], results: Path, tmp_path: Path
) -> None:
    output = tmp_path / "hand-in-ada.tar.gz"
    env = {**podman, "LAB_RESULTS": str(results)}
    handed = invoke("hand-in", "--name", "ada", "--output", str(output), env=env)
    assert handed.code == 0, handed.stdout + handed.stderr
    with tarfile.open(output) as tar:
        doctor = json.load(tar.extractfile("doctor.json"))
    assert doctor["engine"]["kind"] == "Podman", doctor["engine"]


def test_doctor_is_green_and_names_podman(podman: dict[str, str]) -> None:
    doctor = invoke("doctor", env=podman)
    assert doctor.code == 0, doctor.stdout + doctor.stderr
    engine = next(line for line in doctor.stdout.splitlines() if line.startswith("engine"))
    assert "(Podman)" in engine, engine
