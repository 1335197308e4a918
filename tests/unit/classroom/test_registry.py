"""`invoke publish` and `invoke pull`: names checked, faults named, nothing wrong kept."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from lab.classroom import registry
from lab.errors import LabError
from tests.unit.classroom.bundles import ENTRY


@pytest.mark.parametrize(
    "name", ["127.0.0.1:5000", "127.0.0.1:5000/class", "registry.example.edu/cpython-lab/2026"]
)
def test_registry_names(name: str) -> None:
    assert registry.check_registry_name(name) == name


@pytest.mark.parametrize("name", ["http://127.0.0.1:5000", "host:port", "host/Upper", "", "a b"])
def test_bad_registry_names(name: str) -> None:
    with pytest.raises(LabError, match="HOST\\[:PORT\\]\\[/PREFIX\\]"):
        registry.check_registry_name(name)


def test_pull_refuses_another_platform_before_fetching(monkeypatch) -> None:
    monkeypatch.setattr(registry.identity, "engine_platform", lambda: "linux/arm64")
    with pytest.raises(LabError, match=r"for linux/amd64, and this engine runs linux/arm64"):
        registry.check_platforms([ENTRY], "lab.lock")


@pytest.mark.parametrize(
    ("docker_says", "line"),
    [
        ("manifest unknown: manifest unknown", "has no 127.0.0.1:5000/class/lab-cpython@"),
        ('Get "http://127.0.0.1:5000/v2/": dial tcp: connect: connection refused',
         "registry 127.0.0.1:5000 does not answer"),
        ("toomanyrequests: slow down", "pulling 127.0.0.1:5000/class/lab-cpython@"),
    ],
)  # fmt: skip
def test_pull_faults_are_named(monkeypatch, docker_says: str, line: str) -> None:
    failed = registry.subprocess.CompletedProcess([], 1, "", f"Error response: {docker_says}\n")
    monkeypatch.setattr(registry, "transfer", lambda args: failed)
    with pytest.raises(LabError, match=re.escape(line)):
        registry.fetch(ENTRY)


def test_a_pulled_image_with_another_rootfs_is_not_kept(monkeypatch) -> None:
    pulled = registry.subprocess.CompletedProcess([], 0, "", "")
    monkeypatch.setattr(registry, "transfer", lambda args: pulled)
    other = registry.identity.ImageFacts("sha256:1", "sha256:" + "9" * 64, "linux/amd64", (), {})
    monkeypatch.setattr(registry.identity, "inspect", lambda reference: other)
    removed = []
    monkeypatch.setattr(registry.docker, "docker", lambda args, **kw: removed.append(args))
    with pytest.raises(LabError, match="not the locked"):
        registry.fetch(ENTRY)
    assert removed == [["rmi", "--", ENTRY.reference]]


def test_docker_takes_the_locked_reference_as_a_name_never_an_option(monkeypatch) -> None:
    calls = []
    done = registry.subprocess.CompletedProcess([], 0, "", "")
    monkeypatch.setattr(registry, "transfer", lambda args: calls.append(args) or done)
    same = registry.identity.ImageFacts(ENTRY.config, ENTRY.rootfs, "linux/amd64", (), {})
    monkeypatch.setattr(registry.identity, "inspect", lambda reference: same)
    registry.fetch(ENTRY)
    assert calls == [["pull", "--", ENTRY.reference]]


def bad_lock(tmp_path, **fields) -> Path:
    entry = {k: v for k, v in ENTRY.__dict__.items() if k != "variant"} | fields
    path = tmp_path / "lab.lock"
    path.write_text(json.dumps({"lab_lock": 1, "registry": None, "images": {"ft": entry}}))
    return path


@pytest.mark.parametrize(
    ("fields", "says"), [({"platform": 5}, "platform"), ({"repository": "--help"}, "repository")]
)
def test_pull_refuses_a_bad_lock_before_the_engine(tmp_path, monkeypatch, fields, says) -> None:
    asked = []
    monkeypatch.setattr(registry.docker, "require_engine", lambda: asked.append(1))
    monkeypatch.setattr(registry, "transfer", lambda args: pytest.fail("pulled"))
    with pytest.raises(LabError, match=says):
        registry.pull(bad_lock(tmp_path, **fields))
    assert asked == [], "the lock is read before the engine is asked"


def test_inspect_takes_a_reference_as_a_name_never_an_option(monkeypatch) -> None:
    calls = []
    monkeypatch.setattr(
        registry.identity.docker, "docker", lambda args, **kw: calls.append(args) or ""
    )
    assert registry.identity.inspect("--help") is None
    assert calls[0][-2:] == ["--", "--help"]


# -- the config: rootfs and config together are the locked image ----------------------------


def test_publish_writes_each_images_config(tmp_path, monkeypatch) -> None:
    built = registry.replace(ENTRY, repository=None, digest=None)  # built_image reads config
    monkeypatch.setattr(registry.docker, "require_engine", lambda: "20.10")
    monkeypatch.setattr(registry.facts, "built_image", lambda variant: built)
    monkeypatch.setattr(registry, "push", lambda variant, repository, name: ENTRY.digest)
    registry.publish("127.0.0.1:5000/class", "ft", tmp_path / "lab.lock")
    written = json.loads((tmp_path / "lab.lock").read_text())["images"]["ft"]
    assert written["config"] == ENTRY.config and written["digest"] == ENTRY.digest


def facts_of(image_id: str, rootfs: str = ENTRY.rootfs):
    return registry.identity.ImageFacts(image_id, rootfs, "linux/amd64", (), {})


def test_a_pulled_image_with_the_locked_rootfs_and_another_config_is_not_kept(
    monkeypatch,
) -> None:
    monkeypatch.setattr(registry, "transfer", lambda args: registry.subprocess.CompletedProcess(
        [], 0, "", ""))  # fmt: skip
    monkeypatch.setattr(registry.identity, "inspect", lambda ref: facts_of("sha256:" + "9" * 64))
    removed = []
    monkeypatch.setattr(registry.docker, "docker", lambda args, **kw: removed.append(args))
    with pytest.raises(LabError, match="config sha256:9999") as caught:
        registry.fetch(ENTRY)
    assert "\n" not in str(caught.value)
    assert removed == [["rmi", "--", ENTRY.reference]]


@pytest.mark.parametrize(
    "image_id",
    [ENTRY.config, ENTRY.digest],  # the classic store's ID; the containerd store's
    ids=["classic-store", "containerd-store"],
)
def test_a_pulled_image_whose_id_pins_the_locked_config_is_kept(monkeypatch, image_id) -> None:
    monkeypatch.setattr(registry, "transfer", lambda args: registry.subprocess.CompletedProcess(
        [], 0, "", ""))  # fmt: skip
    monkeypatch.setattr(registry.identity, "inspect", lambda ref: facts_of(image_id))
    assert registry.fetch(ENTRY) == ENTRY.reference


def test_an_image_here_with_the_locked_rootfs_but_another_config_is_pulled(
    tmp_path, monkeypatch
) -> None:
    lock = bad_lock(tmp_path)  # a good lock: no field changed
    here, pulled = facts_of("sha256:" + "9" * 64), facts_of(ENTRY.config)
    monkeypatch.setattr(registry.docker, "require_engine", lambda: "20.10")
    monkeypatch.setattr(registry.identity, "engine_platform", lambda: "linux/amd64")
    monkeypatch.setattr(
        registry.identity, "inspect", lambda ref: here if ref == "lab-cpython:ft" else pulled
    )
    transfers, calls = [], []
    monkeypatch.setattr(registry, "transfer", lambda args: transfers.append(args) or (
        registry.subprocess.CompletedProcess([], 0, "", "")))  # fmt: skip
    monkeypatch.setattr(registry.docker, "docker", lambda args, **kw: calls.append(args))
    registry.pull(lock)
    assert transfers == [["pull", "--", ENTRY.reference]]
    assert calls == [["tag", "--", ENTRY.reference, "lab-cpython:ft"]]
