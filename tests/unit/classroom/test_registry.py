"""`invoke publish` and `invoke pull`: names checked, faults named, nothing wrong kept."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from lab.classroom import lockfile, registry
from lab.errors import LabError
from tests.unit.classroom.bundles import ENTRY, PLATFORM


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
    entry = {k: v for k, v in ENTRY.__dict__.items() if k not in ("variant", "index")} | fields
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


INDEX = "sha256:" + "4" * 64
ARM = registry.replace(ENTRY, platform="linux/arm64", digest="sha256:" + "5" * 64)


def publishing(monkeypatch, engine: str = "linux/amd64") -> tuple[list, list]:
    """publish without an engine: ENGINE's own, every local image ENTRY's but for its
    platform (read from its name); the pushes and indexes made, recorded."""
    pushes, indexes = [], []

    def built(variant, name=""):
        platform = "linux/arm64" if "arm64" in name or engine == "linux/arm64" else PLATFORM
        return registry.replace(ENTRY, repository=None, digest=None, platform=platform)

    def push(name, target, where):
        pushes.append((name, target))
        return ARM.digest if "arm64" in target else ENTRY.digest

    monkeypatch.setattr(registry.docker, "require_engine", lambda: "20.10")
    monkeypatch.setattr(registry.identity, "engine_platform", lambda: engine)
    monkeypatch.setattr(registry.facts, "built_image", built)
    monkeypatch.setattr(registry, "push", push)
    monkeypatch.setattr(registry, "make_index", lambda t, s: indexes.append((t, s)) or INDEX)
    return pushes, indexes


def test_publish_writes_each_images_config(tmp_path, monkeypatch) -> None:
    publishing(monkeypatch)
    registry.publish("127.0.0.1:5000/class", "ft", tmp_path / "lab.lock")
    written = json.loads((tmp_path / "lab.lock").read_text())["images"]["ft"]
    mine = written["platforms"][PLATFORM]
    assert mine["config"] == ENTRY.config and mine["digest"] == ENTRY.digest
    assert written["index"] == INDEX and written["image"] == "lab-cpython:ft"


def test_publish_of_two_platforms_pushes_each_then_one_index(tmp_path, monkeypatch) -> None:
    pushes, indexes = publishing(monkeypatch)
    path = tmp_path / "lab.lock"
    registry.publish("127.0.0.1:5000/class", "ft", path, "linux/amd64,arm64")
    repo = "127.0.0.1:5000/class/lab-cpython"
    assert pushes == [
        ("lab-cpython:ft", f"{repo}:ft-linux-amd64"),
        ("lab-cpython:ft-linux-arm64", f"{repo}:ft-linux-arm64"),  # its own tag, here
    ]
    assert indexes == [(f"{repo}:ft", [ENTRY.reference, ARM.reference])]
    lock = lockfile.read_all(path)
    assert lock.platforms() == ["linux/amd64", "linux/arm64"]
    assert lockfile.read(path, "linux/arm64")["ft"].digest == ARM.digest


def test_a_second_machine_appends_its_platform(tmp_path, monkeypatch) -> None:
    path = tmp_path / "lab.lock"
    publishing(monkeypatch)
    registry.publish("127.0.0.1:5000/class", "ft", path)
    _, indexes = publishing(monkeypatch, engine="linux/arm64")  # an arm64 machine, natively
    registry.publish("127.0.0.1:5000/class", "ft", path, append=True)
    assert indexes[0][1] == [ENTRY.reference, ARM.reference], "the index spans both"
    both = lockfile.read_all(path).images["ft"]
    assert set(both) == {"linux/amd64", "linux/arm64"}
    assert both["linux/amd64"] == registry.replace(ENTRY, index=INDEX)


def test_append_to_another_registrys_lock_is_one_line(tmp_path, monkeypatch) -> None:
    path = tmp_path / "lab.lock"
    publishing(monkeypatch)
    registry.publish("127.0.0.1:5000/class", "ft", path)
    with pytest.raises(LabError, match=r"names the registry 127\.0\.0\.1:5000/class, not"):
        registry.publish("127.0.0.1:5001/class", "ft", path, append=True)
    with pytest.raises(LabError, match=r"no lab\.lock"):
        registry.publish("127.0.0.1:5000/class", "ft", tmp_path / "none" / "lab.lock", None, True)


def test_publish_refuses_an_image_of_another_platform_under_its_name(tmp_path, monkeypatch) -> None:
    publishing(monkeypatch)
    monkeypatch.setattr(registry.facts, "built_image", lambda v, name="": ENTRY)  # amd64
    with pytest.raises(LabError, match="lab-cpython:ft-linux-arm64 is a linux/amd64 image"):
        registry.publish("127.0.0.1:5000/class", "ft", tmp_path / "lab.lock", "linux/arm64")


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


# -- one lock, several platforms: each machine pulls its own ---------------------------------


def two_platform_lock(tmp_path) -> Path:
    path = tmp_path / "lab.lock"
    images = {"ft": {PLATFORM: ENTRY, "linux/arm64": ARM}}
    lockfile.write_lock(lockfile.Lock("127.0.0.1:5000/class", images), path)
    return path


@pytest.mark.parametrize(
    ("engine", "asked", "entry", "tag"),
    [
        ("linux/amd64", None, ENTRY, "lab-cpython:ft"),
        ("linux/arm64", None, ARM, "lab-cpython:ft"),  # a Mac: its own, by default
        ("linux/amd64", "linux/arm64", ARM, "lab-cpython:ft-linux-arm64"),  # beside the native
        ("linux/amd64", "aarch64", ARM, "lab-cpython:ft-linux-arm64"),
    ],
)
def test_pull_fetches_the_platforms_own_digest(
    tmp_path, monkeypatch, engine, asked, entry, tag
) -> None:
    path = two_platform_lock(tmp_path)
    monkeypatch.setattr(registry.docker, "require_engine", lambda: "20.10")
    monkeypatch.setattr(registry.identity, "engine_platform", lambda: engine)
    pulled = facts_of(entry.config)
    monkeypatch.setattr(registry.identity, "inspect", lambda ref: None if ":ft" in ref else pulled)
    transfers, calls = [], []
    monkeypatch.setattr(registry, "transfer", lambda args: transfers.append(args) or (
        registry.subprocess.CompletedProcess([], 0, "", "")))  # fmt: skip
    monkeypatch.setattr(registry.docker, "docker", lambda args, **kw: calls.append(args))
    registry.pull(path, asked)
    assert transfers == [["pull", "--", entry.reference]]
    assert calls == [["tag", "--", entry.reference, tag]]


def test_pull_of_a_platform_the_lock_lacks_names_those_it_has(tmp_path, monkeypatch) -> None:
    path = two_platform_lock(tmp_path)
    monkeypatch.setattr(registry.docker, "require_engine", lambda: "20.10")
    monkeypatch.setattr(registry.identity, "engine_platform", lambda: "linux/riscv64")
    monkeypatch.setattr(registry, "transfer", lambda args: pytest.fail("pulled"))
    with pytest.raises(LabError) as caught:
        registry.pull(path)
    assert str(caught.value) == (
        f"{path} has no linux/riscv64 images: it locks linux/amd64, linux/arm64"
    )
