"""lab/run/containers.py: the memory that station runs at once may hold together, and sizes
read as docker reads them."""

from __future__ import annotations

import pytest

from lab.errors import LabError
from lab.run import containers


def test_runs_at_once_share_the_memory_budget(monkeypatch, tmp_path, capsys) -> None:
    monkeypatch.setenv("LAB_CACHE", str(tmp_path))
    monkeypatch.setenv("LAB_MEMORY_LIMIT", "8g")
    monkeypatch.setattr(containers, "engine_machine", lambda: (2, 8 * 2**30))  # no `docker info`
    monkeypatch.setattr(containers, "held_by_other_runs", lambda run_id: 0)
    with containers.memory_share("a", 4) as share:
        assert share == 2 * 2**30, "a run alone splits the budget among its containers"
    monkeypatch.setattr(containers, "held_by_other_runs", lambda run_id: 6 * 2**30)
    with containers.memory_share("b", 2) as share:
        assert share == 2**30, "what other runs hold is not given again"
    held = iter([8 * 2**30 - 2**20, 8 * 2**30 - 2**20, 4 * 2**30])  # until one run ends
    monkeypatch.setattr(containers, "held_by_other_runs", lambda run_id: next(held))
    monkeypatch.setattr(containers.time, "sleep", lambda seconds: None)
    with containers.memory_share("c", 1) as share:
        assert share == 4 * 2**30
    waiting = capsys.readouterr().err.splitlines()
    assert waiting == [
        "lab: waiting for other station runs: they hold 8.0 GiB of the lab's memory budget "
        "of 8.0 GiB (LAB_MEMORY_LIMIT)"
    ]


def test_a_run_does_not_wait_for_memory_forever(monkeypatch, tmp_path) -> None:
    monkeypatch.setenv("LAB_CACHE", str(tmp_path))
    monkeypatch.setenv("LAB_MEMORY_LIMIT", "8g")
    monkeypatch.setattr(containers, "engine_machine", lambda: (2, 8 * 2**30))  # no `docker info`
    monkeypatch.setattr(containers, "held_by_other_runs", lambda run_id: 8 * 2**30)
    monkeypatch.setattr(containers, "MEMORY_WAIT", 0.0)
    monkeypatch.setattr(containers.time, "sleep", lambda seconds: None)
    with pytest.raises(LabError, match=r"still hold 8\.0 GiB .* after 0 s"):  # noqa: SIM117
        with containers.memory_share("d", 1):
            pass


@pytest.mark.parametrize("text", ["lots", "0", "-1g", "1x", ""])
def test_a_size_that_is_no_size_is_one_line(text) -> None:
    with pytest.raises(LabError, match="is not a size"):
        containers.size_bytes(text, "LAB_DISK_LIMIT")


def test_sizes_read_as_docker_reads_them() -> None:
    assert containers.size_bytes("512m", "X") == 512 * 2**20
    assert containers.size_bytes("1G", "X") == 2**30
    assert containers.size_bytes("1048576", "X") == 2**20


def test_compose_runs_the_image_the_lab_names(monkeypatch) -> None:
    # Every service's image in compose.yaml is Variant.image: its own name, or another
    # platform's own tag (`invoke station --platform`) through LAB_TAG_SUFFIX.
    import re

    from lab.config import ALL_VARIANTS, COMPOSE_FILE, IMAGE_PLATFORM_VAR
    from lab.engine import docker

    text = COMPOSE_FILE.read_text().split("\nservices:\n", 1)[1]
    images = dict(re.findall(r"^  ([\w-]+):\n(?:    .*\n)*?    image: (\S+)$", text, re.M))
    monkeypatch.setattr(docker, "host_ids", lambda: (1000, 1000))
    for platform in ("", "linux/arm64"):
        monkeypatch.setenv(IMAGE_PLATFORM_VAR, platform)
        suffix = docker.compose_env()["LAB_TAG_SUFFIX"]
        for variant in ALL_VARIANTS.values():
            named = images[variant.service].replace("${LAB_TAG_SUFFIX:-}", suffix)
            assert named == variant.image


def test_another_platforms_missing_image_names_how_to_get_it(monkeypatch) -> None:
    from lab.config import IMAGE_PLATFORM_VAR, variant
    from lab.errors import LabError

    monkeypatch.setattr(containers, "is_built", lambda v: False)
    monkeypatch.setenv(IMAGE_PLATFORM_VAR, "linux/arm64")
    with pytest.raises(LabError) as raised:
        containers.require_image(variant("ft"))
    assert str(raised.value) == (
        "image lab-cpython:ft-linux-arm64 is not here: `invoke pull --platform linux/arm64`"
        " gets a class's, `invoke images --platform linux/arm64 --variant ft` builds it"
    )
