"""tests/services.py's second engine, without starting one: which dockerd gives which image
store, and the config file that turns the containerd store on."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests import services


def test_the_containerd_store_needs_the_test_engine(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setattr(services, "TEST_ENGINE_DIR", tmp_path)
    with pytest.raises(services.Unavailable, match=str(tmp_path / "dockerd")):
        services.engine_binary("containerd")
    (tmp_path / "dockerd").write_text("#!/bin/sh\n")
    (tmp_path / "dockerd").chmod(0o755)
    assert services.engine_binary("containerd") == str(tmp_path / "dockerd")


def test_an_unknown_store_is_a_mistake() -> None:
    with pytest.raises(ValueError, match="classic"):
        services.engine_binary("zfs")


@pytest.mark.parametrize("store", services.STORES)
def test_each_engine_has_a_config_file_of_its_own(tmp_path: Path, store: str) -> None:
    """The containerd store is a feature of the config file; the first engine's
    /etc/docker/daemon.json is never read."""
    argv = services.engine_argv("dockerd", tmp_path, "unix:///x.sock", store, "labd9")
    config = Path(argv[argv.index("--config-file") + 1])
    assert config.parent == tmp_path
    features = json.loads(config.read_text())["features"]
    assert features.get("containerd-snapshotter", False) is (store == "containerd")
    assert "--bridge=labd9" in argv


def test_each_kind_of_engine_has_its_own_bridge() -> None:
    """A test may hold a student's engine and a small-disk one at once."""
    names = [name for name, _ in services.BRIDGES.values()]
    addresses = [address for _, address in services.BRIDGES.values()]
    assert len(set(names)) == len(names) and len(set(addresses)) == len(addresses)
    assert all(len(name) <= 15 for name in names), "a Linux interface name"


def test_dockerd_finds_its_own_docker_proxy_first() -> None:
    env = services.engine_environment("/opt/lab-test-engine/dockerd")
    assert env["PATH"].split(":")[0] == "/opt/lab-test-engine"


def test_the_podman_registrys_address_must_be_free() -> None:
    """Podman's settings name the address: a registry elsewhere would not be insecure there."""
    import socket

    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        address = f"127.0.0.1:{taken.getsockname()[1]}"
        taken_line = r"is taken.*LAB_TEST_PODMAN_REGISTRY"
        with pytest.raises(services.Unavailable, match=taken_line), services.registry_at(address):
            pass


def test_the_podman_student_needs_podman(monkeypatch) -> None:
    monkeypatch.setattr(services.os, "geteuid", lambda: 0)
    monkeypatch.setattr(services.shutil, "which", lambda name: None)
    with pytest.raises(services.Unavailable, match="no podman"), services.podman_engine("x"):
        pass
    assert services.PODMAN_SOCKET.parent.name == "lab-test-podman"
