"""`invoke bundle --platforms linux/amd64,linux/arm64` and `invoke load [--platform P]`: one
file, a part a platform; load checks every part, then feeds the engine only its own
platform's (or P's, under P's own tags). Which platform a part holds is checked against its
images' configs, not taken from its name."""

from __future__ import annotations

import hashlib
import io
import json
import tarfile
from dataclasses import replace
from pathlib import Path

import pytest

from lab.classroom import bundle, lockfile
from lab.errors import LabError
from lab.images import identity
from lab.images.identity import ImageFacts
from tests.tars import tar_of
from tests.unit.classroom.bundles import (
    ARM64,
    DIFF_ID,
    PLATFORM,
    architecture_of,
    bundle_of,
    bundle_of_parts,
    config,
    digest,
    locked,
    make_bundle,
    members_with,
    saved_images,
    two_platform_bundle,
    two_platform_lock,
    with_config,
)

AMD64_PART, ARM64_PART = "images-linux-amd64.tar.zst", "images-linux-arm64.tar.zst"
NATIVE, ITS_OWN = "lab-cpython:stock", "lab-cpython:stock-linux-arm64"


def image_id(platform: str) -> str:
    return saved_images(architecture_of(platform))[1]


class Engine:
    """A classic-store engine of PLATFORM: `docker load` takes what load feeds it (each
    config in it an image, by its digest), and load's tags are noted."""

    def __init__(self, monkeypatch, platform: str) -> None:
        self.images: dict[str, ImageFacts] = {}
        self.fed: list[str] = []
        self.tags: dict[str, str] = {}
        monkeypatch.setattr(bundle.docker, "require_engine", lambda: "26.1")
        monkeypatch.setattr(bundle.identity, "engine_platform", lambda: platform)
        monkeypatch.setattr(bundle, "engine_tags", dict)
        monkeypatch.setattr(bundle, "engine_images", lambda: {i: set() for i in self.images})
        monkeypatch.setattr(bundle, "docker_load", self.load)
        monkeypatch.setattr(bundle.identity, "inspect", self.images.get)
        monkeypatch.setattr(bundle.docker, "docker", self.docker)

    def load(self, path: Path, checked: bundle.Checked) -> list[str]:
        sink = io.BytesIO()
        assert bundle.feed(path, sink, checked.part) == checked.images_sha256
        self.fed.append(checked.part)
        with tarfile.open(fileobj=io.BytesIO(sink.getvalue())) as saved:
            configs = [saved.extractfile(m).read() for m in saved if m.name.endswith(".json")]
        for body in configs:
            if (found := identity.config_facts(body)) is not None:
                platform = "linux/" + json.loads(body)["architecture"]
                self.images[found[0]] = ImageFacts(found[0], found[1], platform, (), {})
        return list(self.images)

    def docker(self, args: list[str], **kwargs) -> str:
        if args[0] == "tag":
            self.tags[args[-1]] = args[-2]
        return ""


def refused(path: Path, lock: Path, platform: str | None = None) -> str:
    with pytest.raises(LabError) as caught:
        bundle.load(path, lock, platform)
    line = str(caught.value)
    assert "\n" not in line, line
    return line


# -- bundle: a part a platform, each of its own local images ---------------------------------


def bundling(monkeypatch) -> list[str]:
    """`invoke bundle` on an x86-64 engine holding stock for both platforms, the arm64 one
    under its own tag (and saying `linux/arm64/v8`, as Docker does); the names it read."""
    stock = two_platform_lock().images["stock"]
    built = {NATIVE: stock[PLATFORM], ITS_OWN: replace(stock[ARM64], platform="linux/arm64/v8")}
    saves = {image_id(p): saved_images(architecture_of(p))[0] for p in (PLATFORM, ARM64)}
    read: list[str] = []
    monkeypatch.setattr(bundle.docker, "require_engine", lambda: "26.1")
    monkeypatch.setattr(bundle.identity, "engine_platform", lambda: PLATFORM)
    monkeypatch.setattr(
        bundle.facts, "built_image", lambda v, name: read.append(name) or built[name]
    )
    monkeypatch.setattr(
        bundle.identity, "inspect", lambda name: ImageFacts(built[name].config, "", "", (), {})
    )
    monkeypatch.setattr(
        bundle,
        "save_compressed",
        lambda ids, path: bundle.compress(io.BytesIO(b"".join(saves[i] for i in ids)), path),
    )
    return read


def test_bundle_of_two_platforms_writes_a_part_each(tmp_path: Path, monkeypatch) -> None:
    read = bundling(monkeypatch)
    made = bundle.bundle(tmp_path / "two.tar", "stock", tmp_path / "none.lock", f"{ARM64},amd64")
    assert made["platforms"] == [PLATFORM, ARM64] and made["images"] == ["stock"]
    assert read == [NATIVE, ITS_OWN], "each platform's local name"
    with tarfile.open(tmp_path / "two.tar") as outer:
        assert outer.getnames() == ["SHA256SUMS", "lab.lock", AMD64_PART, ARM64_PART]
        sums = outer.extractfile("SHA256SUMS").read().decode()
        arm64 = outer.extractfile(ARM64_PART).read()
        lock = lockfile.parse_all(outer.extractfile("lab.lock").read(), "its lock")
    assert f"{hashlib.sha256(arm64).hexdigest()}  {ARM64_PART}" in sums
    assert len(sums.splitlines()) == 3
    stock = lock.images["stock"]
    assert sorted(stock) == [PLATFORM, ARM64], "the platform as asked, not `linux/arm64/v8`"
    assert stock[ARM64].config == image_id(ARM64)


def test_bundle_by_default_is_one_platform_as_before(tmp_path: Path, monkeypatch) -> None:
    bundling(monkeypatch)
    bundle.bundle(tmp_path / "one.tar", "stock", tmp_path / "none.lock")
    with tarfile.open(tmp_path / "one.tar") as outer:
        assert outer.getnames() == ["SHA256SUMS", "lab.lock", "images.tar.zst"]


def test_an_image_of_another_platform_than_asked_is_not_bundled(
    tmp_path: Path, monkeypatch
) -> None:
    bundling(monkeypatch)
    amd64 = two_platform_lock().images["stock"][PLATFORM]
    monkeypatch.setattr(bundle.facts, "built_image", lambda v, name: amd64)
    with pytest.raises(LabError, match=r"stock-linux-arm64 is a linux/amd64 image, not"):
        bundle.bundle(tmp_path / "two.tar", "stock", tmp_path / "none.lock", "arm64")
    assert list(tmp_path.iterdir()) == []


# -- load: every part checked, one loaded ------------------------------------------------------


@pytest.mark.parametrize("engine", [PLATFORM, ARM64])
def test_load_feeds_the_engine_its_own_platforms_part(
    tmp_path: Path, monkeypatch, engine: str
) -> None:
    path = two_platform_bundle(tmp_path)
    docker = Engine(monkeypatch, engine)
    checked = bundle.load(path, tmp_path / "none.lock")
    own = AMD64_PART if engine == PLATFORM else ARM64_PART
    assert docker.fed == [own] and checked.platform == engine
    assert docker.tags == {NATIVE: image_id(engine)}, "under the lab's own name"


@pytest.mark.parametrize("asked", ["linux/arm64", "arm64", "aarch64"])
def test_load_platform_tags_another_platforms_images_under_their_own(
    tmp_path: Path, monkeypatch, asked: str
) -> None:
    path = two_platform_bundle(tmp_path)
    docker = Engine(monkeypatch, PLATFORM)
    bundle.load(path, tmp_path / "none.lock", asked)
    assert docker.fed == [ARM64_PART]
    assert docker.tags == {ITS_OWN: image_id(ARM64)}, "the native name is left alone"


class DockerLoad:
    """`docker load` as a process: what it was fed, and the ID it says it loaded."""

    fed = b""

    def __init__(self, args: list[str], **kwargs) -> None:
        said = f"Loaded image ID: {image_id(ARM64)}\n".encode()
        self.stdin, self.stdout, self.stderr = self, io.BytesIO(said), io.BytesIO()
        self.returncode, self.taken = 0, io.BytesIO()

    def __enter__(self) -> DockerLoad:
        return self

    def __exit__(self, *exc) -> None:
        pass

    def write(self, data: bytes) -> int:
        return self.taken.write(data)

    def close(self) -> None:
        DockerLoad.fed = self.taken.getvalue()

    def wait(self) -> int:
        return 0


def test_docker_load_is_fed_the_checked_part_alone(tmp_path: Path, monkeypatch) -> None:
    path = two_platform_bundle(tmp_path)
    checked = bundle.check(path, ARM64, {})
    monkeypatch.setattr(bundle.docker, "popen", DockerLoad)
    monkeypatch.setattr(DockerLoad, "fed", b"")
    assert bundle.docker_load(path, checked) == [image_id(ARM64)]
    assert DockerLoad.fed == saved_images("arm64")[0]


def test_an_old_one_platform_bundle_still_loads(tmp_path: Path, monkeypatch) -> None:
    path = make_bundle(tmp_path)
    docker = Engine(monkeypatch, PLATFORM)
    bundle.load(path, tmp_path / "none.lock")
    assert docker.fed == ["images.tar.zst"] and docker.tags == {NATIVE: image_id(PLATFORM)}


@pytest.mark.parametrize("asked", [None, ARM64])
def test_a_platform_the_bundle_lacks_is_one_line_naming_those_it_has(
    tmp_path: Path, monkeypatch, asked: str | None
) -> None:
    """Refused from its lock, before a part is read: an amd64 bundle on an arm64 engine, or
    asked for arm64 on an amd64 one."""
    path = make_bundle(tmp_path)
    docker = Engine(monkeypatch, ARM64 if asked is None else PLATFORM)
    monkeypatch.setattr(bundle, "scan_images", lambda *args, **kwargs: pytest.fail("read"))
    line = refused(path, tmp_path / "none.lock", asked)
    assert f"holds {PLATFORM} images, none for {ARM64}" in line, line
    assert docker.fed == [] and docker.tags == {}


def flip_byte_in(path: Path, part: str) -> None:
    with tarfile.open(path) as outer:
        member = outer.getmember(part)
    data = bytearray(path.read_bytes())
    data[member.offset_data + member.size // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def test_the_other_platforms_part_is_checked_too(tmp_path: Path, monkeypatch) -> None:
    path = two_platform_bundle(tmp_path)
    flip_byte_in(path, ARM64_PART)
    docker = Engine(monkeypatch, PLATFORM)
    assert ARM64_PART in refused(path, tmp_path / "none.lock")
    assert docker.fed == [] and docker.tags == {}


def test_a_part_holding_another_architecture_than_its_name_is_refused(
    tmp_path: Path, monkeypatch
) -> None:
    """The arm64 part holds the amd64 image, and the lock (an attacker writes it too, and the
    sums) names that image's config for arm64: its config's architecture gives it away."""
    amd64 = saved_images("amd64")[0]
    lock = two_platform_lock({ARM64: image_id(PLATFORM)})
    path = two_platform_bundle(tmp_path, {ARM64: amd64}, lock)
    docker = Engine(monkeypatch, PLATFORM)
    line = refused(path, tmp_path / "none.lock")
    assert ARM64_PART in line and f"of {PLATFORM} (its config says), not {ARM64}" in line, line
    assert docker.fed == []


def test_a_one_platform_bundle_of_another_architecture_than_its_lock_is_refused(
    tmp_path: Path,
) -> None:
    lock = {"stock": replace(two_platform_lock().images["stock"][PLATFORM], config=None)}
    path = bundle_of_parts(
        tmp_path, {PLATFORM: saved_images("arm64")[0]}, lockfile.Lock.of(lock, None)
    )
    with pytest.raises(LabError, match=r"images\.tar\.zst holds an image of linux/arm64"):
        bundle.check(path, PLATFORM, {})


@pytest.mark.parametrize("architecture", ["\x1b[2Jamd64", None])
def test_a_config_naming_an_odd_platform_or_none_is_refused_in_one_clean_line(
    tmp_path: Path, architecture: str | None
) -> None:
    body = json.loads(config([DIFF_ID]))
    body["architecture"] = architecture
    evidence = json.dumps(body).encode()
    lock = with_config(locked(), digest(evidence))
    path = bundle_of(tmp_path, tar_of(members_with(evidence)), lock)
    with pytest.raises(LabError) as caught:
        bundle.check(path, PLATFORM, {})
    line = str(caught.value)
    assert "images.tar.zst holds an image of " in line and "\x1b" not in line, line


@pytest.mark.parametrize("lock_platforms", [[PLATFORM], [PLATFORM, ARM64, "linux/riscv64"]])
def test_parts_and_the_lock_name_the_same_platforms(
    tmp_path: Path, lock_platforms: list[str]
) -> None:
    stock = two_platform_lock().images["stock"]
    for platform in lock_platforms:
        stock.setdefault(platform, replace(stock[ARM64], platform=platform))
    lock = lockfile.Lock(None, {"stock": {p: stock[p] for p in lock_platforms}})
    path = two_platform_bundle(tmp_path, lock=lock)
    with pytest.raises(LabError, match=r"lab\.lock names .* images, and its parts are"):
        bundle.check(path, PLATFORM, {})


def test_a_lock_of_two_platforms_with_one_images_part_is_refused(tmp_path: Path) -> None:
    inner = saved_images("amd64")[0]
    path = bundle_of_parts(tmp_path, {PLATFORM: inner}, two_platform_lock())
    with pytest.raises(LabError, match=r"names linux/amd64, linux/arm64 images, and its parts"):
        bundle.check(path, PLATFORM, {})


def test_the_class_lock_is_checked_for_every_platform(tmp_path: Path) -> None:
    """Loading amd64's part, the arm64 part must still be the class's."""
    path = two_platform_bundle(tmp_path)
    class_lock = two_platform_lock()
    other = replace(class_lock.images["stock"][ARM64], rootfs="sha256:" + "0" * 64)
    class_lock.images["stock"][ARM64] = other
    with pytest.raises(LabError, match=r"stock is not the image lab\.lock names for linux/arm64"):
        bundle.check(path, PLATFORM, class_lock)


def parts_named(tmp_path: Path, names: list[str]) -> Path:
    """A tar of a two-platform bundle's parts, renamed NAMES (and sums of them)."""
    good = two_platform_bundle(tmp_path)
    with tarfile.open(good) as outer:
        data = [outer.extractfile(n).read() for n in ["lab.lock", AMD64_PART, ARM64_PART]]
    named = list(zip(names, data, strict=True))
    sums = "".join(f"{hashlib.sha256(d).hexdigest()}  {n}\n" for n, d in named)
    path = tmp_path / "renamed.tar"
    path.write_bytes(tar_of([("SHA256SUMS", sums.encode()), *named]))
    return path


@pytest.mark.parametrize(
    "names",
    [
        ["lab.lock", ARM64_PART, AMD64_PART],  # out of order
        ["lab.lock", AMD64_PART, AMD64_PART],  # twice
        ["lab.lock", "images.tar.zst", ARM64_PART],  # both kinds
        ["lab.lock", AMD64_PART, "images-linux-arm64.tar"],  # not a part's name
        ["lab.lock", AMD64_PART, "images-../arm64.tar.zst"],
    ],
)
def test_parts_other_than_bundle_writes_them_are_not_a_bundle(
    tmp_path: Path, names: list[str]
) -> None:
    with pytest.raises(LabError, match="is not a lab bundle"):
        bundle.check(parts_named(tmp_path, names), PLATFORM, {})


def test_too_many_parts_are_not_a_bundle(tmp_path: Path) -> None:
    many = [f"images-linux-arch{n}.tar.zst" for n in range(lockfile.MAX_PLATFORMS + 1)]
    path = tmp_path / "many.tar"
    path.write_bytes(tar_of([("SHA256SUMS", b""), ("lab.lock", b""), *((n, b"") for n in many)]))
    with pytest.raises(LabError, match="is not a lab bundle"):
        bundle.check(path, PLATFORM, {})


def test_sums_must_list_every_part(tmp_path: Path) -> None:
    path = two_platform_bundle(tmp_path)
    with tarfile.open(path) as outer:
        parts = [(m.name, outer.extractfile(m).read()) for m in outer]
    sums = parts[0][1].decode().splitlines()
    parts[0] = ("SHA256SUMS", "\n".join(sums[:2]).encode() + b"\n")  # no arm64 line
    path.write_bytes(tar_of(parts))
    with pytest.raises(LabError, match=f"does not list lab.lock, {AMD64_PART}, {ARM64_PART}"):
        bundle.check(path, PLATFORM, {})
