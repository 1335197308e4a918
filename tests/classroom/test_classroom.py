"""Build once, run identical everywhere, proven on one machine: this engine is the
instructor's, a second engine started by the test is a student's, and a registry on loopback
stands between them (tests/services.py). Every step is the `invoke` command a person types.

Order matters: the tests share the student's engine and go from an empty one to a class.
The student's engine is on each image store in turn (the `student` fixture): the end-to-end
path runs on both; the faults, marked `stores("classic")`, on the classic one only.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import subprocess
import tarfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from lab.classroom import bundle, lockfile
from lab.classroom.lockfile import LockedImage
from lab.config import ALL_VARIANTS, OPTIONAL_VARIANTS, VARIANTS
from lab.errors import LabError
from lab.images import builder, identity, platforms
from tests import services
from tests.classroom.conftest import CPU_VARIANTS
from tests.cli import assert_one_clear_line, invoke
from tests.conftest import unavailable
from tests.tars import tar_of

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
CLASSIC_ONLY = pytest.mark.stores("classic")  # a fault, proven once


def on(env: dict[str, str], *args: str) -> subprocess.CompletedProcess:
    """`docker ARGS` against the engine ENV points at."""
    return subprocess.run(
        ["docker", *args], env={**os.environ, **env}, capture_output=True, text=True, check=False
    )


def lab_images_on(env: dict[str, str]) -> dict[str, str]:
    """{local name: rootfs identity} of the lab's images on that engine."""
    found = {}
    for variant in ALL_VARIANTS.values():
        done = on(env, "image", "inspect", "--format", "{{json .RootFS.Layers}}", variant.image)
        if done.returncode == 0:
            found[variant.image] = identity.rootfs_identity(json.loads(done.stdout))
    return found


def platform_and_rootfs(env: dict[str, str], name: str) -> tuple[str, str]:
    """(platform, rootfs identity) of the image NAME on that engine."""
    shown = "{{.Os}}/{{.Architecture}} {{json .RootFS.Layers}}"
    platform, layers = on(env, "image", "inspect", "--format", shown, name).stdout.split(" ", 1)
    return platform, identity.rootfs_identity(json.loads(layers))


def empty(env: dict[str, str]) -> None:
    """The student's engine back to no lab image at all."""
    names = list(lab_images_on(env))
    if names:
        on(env, "rmi", "--force", *names)
    on(env, "image", "prune", "--all", "--force")
    assert lab_images_on(env) == {}
    assert image_ids(env) == [], "no untagged image is left either"


def image_ids(env: dict[str, str]) -> list[str]:
    return on(env, "image", "ls", "--all", "--quiet", "--no-trunc").stdout.split()


def store_of(env: dict[str, str]) -> str:
    status = json.loads(on(env, "info", "--format", "{{json .DriverStatus}}").stdout)
    return "containerd" if identity.containerd_store({"DriverStatus": status}) else "classic"


def test_publish_locks_what_it_pushed(published: Path, registry: str) -> None:
    locked = lockfile.read(published)
    assert set(locked) == set(VARIANTS)
    for name, entry in locked.items():
        here = identity.inspect(ALL_VARIANTS[name].image)
        assert entry.rootfs == here.rootfs
        assert entry.platform == identity.engine_platform()
        assert entry.repository == f"{registry}/class/{ALL_VARIANTS[name].image.split(':')[0]}"
        assert entry.fingerprint["variant"] == name
        assert entry.fingerprint["debian_packages"], "the Debian packages are in the fingerprint"
    written = json.loads(published.read_text())  # format 2: one index a variant, over platforms
    assert written["lab_lock"] == 2
    for name, entry in written["images"].items():
        assert list(entry["platforms"]) == [identity.engine_platform()]
        assert lockfile.SHA256.fullmatch(entry["index"]), f"{name} was pushed as an index"


def test_a_student_pulls_and_runs_stations_1_and_2(
    published: Path, student: dict[str, str], tmp_path: Path
) -> None:
    empty(student)
    pulled = invoke("pull", "--lock", str(published), env=student, timeout=1800)
    assert pulled.code == 0, pulled.stderr
    locked = lockfile.read(published)
    assert lab_images_on(student) == {
        ALL_VARIANTS[name].image: entry.rootfs for name, entry in locked.items()
    }
    for station in ("1", "2"):
        ran = invoke("station", station, "--quick", env={**student, "LAB_RESULTS": str(tmp_path)})
        assert ran.code == 0, ran.stdout[-3000:] + ran.stderr
    compared = invoke("doctor", "--compare", str(published), env=student)
    assert compared.code == 0, compared.stdout + compared.stderr
    assert compared.stdout.startswith(f"identical to {published}")
    doctor = invoke("doctor", env=student)  # green: no base image, no CUDA image, no compile
    assert doctor.code == 0, doctor.stdout + doctor.stderr


def test_pull_again_fetches_nothing(published: Path, student: dict[str, str]) -> None:
    again = invoke("pull", "--lock", str(published), env=student)
    assert again.code == 0, again.stderr
    assert again.stdout.count("is already the locked image") == len(VARIANTS)


@pytest.fixture(scope="module")
def arm64_stand_in(engine: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """An arm64 machine's stock image, stood in for: the arm64 base's files and a fingerprint,
    no CPython (the real one takes 90 minutes to build here), under the name another
    platform's image takes on this engine. BuildKit makes it FROM scratch: nothing runs.
    Where the arm64 base is missing it is made first, as `invoke base --platform linux/arm64`
    makes it (debootstrap under QEMU, as root): a few minutes, once; the engine keeps it."""
    if identity.engine_platform() != "linux/amd64":  # what the machine cannot be: a skip
        pytest.skip("the arm64 stand-in is another platform's image on an x86-64 engine only")
    try:
        platforms.require_emulation("linux/arm64")  # its fingerprint is read by running `cat`
        builder.ensure_base("linux/arm64")  # needs root and debootstrap where it is missing
    except LabError as why:
        unavailable(str(why))
    base = builder.base_for("linux/arm64")
    folder = tmp_path_factory.mktemp("arm64")
    container = on({}, "create", base, "/bin/true").stdout.strip()
    on({}, "export", "-o", str(folder / "rootfs.tar"), container)
    on({}, "rm", container)
    fingerprint = json.dumps({"variant": "stock", "python": "3.13.5 (a stand-in)"}).encode()
    with tarfile.open(folder / "rootfs.tar", "a") as tar:
        info = tarfile.TarInfo("etc/lab/fingerprint.json")
        info.size = len(fingerprint)
        tar.addfile(info, io.BytesIO(fingerprint))
    (folder / "Dockerfile").write_text("FROM scratch\nADD rootfs.tar /\n")
    name = platforms.local_tag(ALL_VARIANTS["stock"].image, "linux/arm64", "linux/amd64")
    made = on({"DOCKER_BUILDKIT": "1"}, "build", "-q", "--platform", "linux/arm64", "-t", name,
              str(folder))  # fmt: skip
    assert made.returncode == 0, made.stderr
    yield name
    on({}, "rmi", name)


@pytest.fixture(scope="module")
def two_platforms(
    published: Path, registry: str, arm64_stand_in: str, tmp_path_factory: pytest.TempPathFactory
) -> Path:
    """The class's lock, with an arm64 machine's stock appended as a second machine does."""
    lock = tmp_path_factory.mktemp("two") / "lab.lock"
    shutil.copy(published, lock)
    done = invoke("publish", "--registry", f"{registry}/class", "--variants", "stock",
                  "--platforms", "linux/arm64", "--append", "--lock", str(lock),
                  timeout=600)  # fmt: skip
    assert done.code == 0, done.stderr
    return lock


def test_each_machine_pulls_its_own_platform(
    two_platforms: Path, published: Path, student: dict[str, str], arm64_stand_in: str
) -> None:
    """One lock, two platforms, one index a variant: the student's engine takes its own by
    default; `--platform linux/arm64` fetches the other under its own name, beside it."""
    lock, before = lockfile.read_all(two_platforms), lockfile.read_all(published)
    assert lock.platforms() == ["linux/amd64", "linux/arm64"]
    assert lock.images["debug"] == before.images["debug"], "the others as they were"
    stock = lock.images["stock"]
    assert stock["linux/amd64"].index == stock["linux/arm64"].index != before.images[
        "stock"]["linux/amd64"].index, "one new index over both"  # fmt: skip
    own = invoke("pull", "--lock", str(two_platforms), env=student, timeout=1800)
    assert own.code == 0, own.stderr
    natives = lab_images_on(student)
    amd64 = {ALL_VARIANTS[n].image: e["linux/amd64"].rootfs for n, e in lock.images.items()}
    assert natives == amd64
    other = invoke("pull", "--lock", str(two_platforms), "--platform", "linux/arm64",
                   env=student, timeout=600)  # fmt: skip
    assert other.code == 0, other.stderr
    arm64 = ("linux/arm64", stock["linux/arm64"].rootfs)
    assert platform_and_rootfs(student, arm64_stand_in) == arm64
    assert lab_images_on(student) == natives, "the native images keep the lab's names"
    compared = invoke("doctor", "--compare", str(two_platforms), env=student)
    assert compared.code == 0, compared.stdout
    assert compared.stdout.startswith(f"identical to {two_platforms} (linux/amd64)")
    compared = invoke("doctor", "--compare", str(two_platforms), "--platform", "linux/arm64",
                      env=student)  # fmt: skip
    assert compared.code == 0, compared.stdout
    assert compared.stdout.startswith(f"identical to {two_platforms} (linux/arm64): stock")


@CLASSIC_ONLY
def test_two_machines_facts(published: Path, student: dict[str, str], tmp_path: Path) -> None:
    """The instructor's `doctor --json`, compared on the student's machine: the three CPU
    images are identical; only the images the student never got (PyTorch's, where built)
    differ.
    The student gets the class's images first (a no-op after the tests above): on an empty
    engine, or without the registry, this would compare nothing worth comparing."""
    pulled = invoke("pull", "--lock", str(published), env=student, timeout=1800)
    assert pulled.code == 0, pulled.stderr
    teacher = invoke("doctor", "--json")
    assert teacher.code == 0, teacher.stderr
    (tmp_path / "teacher.json").write_text(teacher.stdout)
    compared = invoke("doctor", "--compare", str(tmp_path / "teacher.json"), env=student)
    differences = compared.stdout.strip().splitlines()
    images = json.loads(teacher.stdout)["images"]
    unpulled = [f"{name}: image missing here" for name in OPTIONAL_VARIANTS if images[name]]
    if unpulled:
        assert differences == unpulled, differences
        assert compared.code == 1
    else:
        assert differences[:1] and differences[0].startswith("identical to "), differences
        assert compared.code == 0


@CLASSIC_ONLY
def test_a_changed_image_is_named(published: Path, student: dict[str, str]) -> None:
    """One image rebuilt on the student's machine with one package gone: --compare names it."""
    recipe = (
        "FROM lab-cpython:stock\nUSER root\n"
        "RUN python3 -m pip uninstall -y -q pytest && python3 /usr/local/lib/lab/fingerprint.py"
        " --inherit /etc/lab/fingerprint.json >/tmp/f && mv /tmp/f /etc/lab/fingerprint.json\n"
        "USER lab\n"
    )
    built = subprocess.run(
        ["docker", "build", "--network", "none", "-t", "lab-cpython:stock", "-"],
        input=recipe, env={**os.environ, **student, "DOCKER_BUILDKIT": "0"},
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert built.returncode == 0, built.stderr
    compared = invoke("doctor", "--compare", str(published), env=student)
    assert compared.code == 1
    lines = compared.stdout.splitlines()
    assert any(line.startswith("stock: rootfs: ") for line in lines), lines
    assert "stock: package pytest: not installed here, 8.4.2 there" in lines
    assert not any(line.startswith(("debug:", "ft:")) for line in lines)
    repaired = invoke("pull", "--lock", str(published), env=student, timeout=1800)
    assert repaired.code == 0, repaired.stderr
    assert invoke("doctor", "--compare", str(published), env=student).code == 0


@CLASSIC_ONLY
def test_registry_faults_are_one_line(
    published: Path, student: dict[str, str], tmp_path: Path
) -> None:
    refused = invoke("publish", "--registry", "127.0.0.1:9/class", "--variants", "stock",
                     "--lock", str(tmp_path / "never.lock"))  # fmt: skip
    assert_one_clear_line(refused, "registry 127.0.0.1:9/class refused")
    assert not (tmp_path / "never.lock").exists()

    on(student, "rmi", "lab-cpython:stock")  # the student lacks stock: pull must fetch it
    before = lab_images_on(student)

    def pull_with(name: str, **stock_fields: str):
        lock = json.loads(published.read_text())
        stock = lock["images"]["stock"]  # format 2: the repository is the variant's, the rest
        platform = next(iter(stock["platforms"].values()))  # its platform's
        for field, value in stock_fields.items():
            (stock if field == "repository" else platform)[field] = value
        (tmp_path / name).write_text(json.dumps(lock))
        return invoke("pull", "--lock", str(tmp_path / name), env=student)

    absent = pull_with("absent.lock", digest="sha256:" + "0" * 64)
    assert_one_clear_line(absent, "has no", "invoke load BUNDLE", "invoke images")
    gone = pull_with("gone.lock", repository="127.0.0.1:9/class/lab-cpython")
    assert_one_clear_line(gone, "registry 127.0.0.1:9 does not answer", "invoke load BUNDLE")
    other = pull_with("other.lock", rootfs="sha256:" + "0" * 64)
    assert_one_clear_line(other, "not the locked sha256:0000", "not tagged")
    assert lab_images_on(student) == before, "nothing was tagged"


@pytest.fixture(scope="module")
def class_bundle(published: Path, tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("usb") / "lab-bundle.tar"
    made = invoke("bundle", "--output", str(path), "--variants", CPU_VARIANTS,
                  "--lock", str(published), timeout=1800)  # fmt: skip
    assert made.code == 0, made.stderr
    return path


def test_a_two_platform_bundle_loads_the_engines_own_and_another_beside(
    two_platforms: Path, arm64_stand_in: str, student: dict[str, str], tmp_path: Path
) -> None:
    """`bundle --platforms linux/amd64,linux/arm64`: one file, a part a platform. The
    student's engine loads its own platform's by default, and `--platform linux/arm64` the
    arm64 one under its own tag, beside it; each is the image the class's lock names."""
    path = tmp_path / "two.tar"
    made = invoke("bundle", "--output", str(path), "--variants", "stock",
                  "--platforms", "linux/amd64,linux/arm64", "--lock", str(two_platforms),
                  timeout=1800)  # fmt: skip
    assert made.code == 0, made.stderr
    with tarfile.open(path) as outer:
        assert outer.getnames() == [
            "SHA256SUMS", "lab.lock", "images-linux-amd64.tar.zst", "images-linux-arm64.tar.zst"
        ]  # fmt: skip
    stock = lockfile.read_all(two_platforms).images["stock"]
    empty(student)
    own = invoke("load", str(path), "--lock", str(two_platforms), env=student, timeout=1800)
    assert own.code == 0, own.stderr
    assert lab_images_on(student) == {"lab-cpython:stock": stock["linux/amd64"].rootfs}
    assert on(student, "image", "inspect", arm64_stand_in).returncode != 0, "only its own"
    other = invoke("load", str(path), "--lock", str(two_platforms), "--platform", "linux/arm64",
                   env=student, timeout=600)  # fmt: skip
    assert other.code == 0, other.stderr
    assert platform_and_rootfs(student, arm64_stand_in) == (
        "linux/arm64",
        stock["linux/arm64"].rootfs,
    )
    assert lab_images_on(student) == {"lab-cpython:stock": stock["linux/amd64"].rootfs}, (
        "the native image is left alone"
    )


def test_a_student_loads_the_bundle(
    class_bundle: Path, published: Path, student: dict[str, str]
) -> None:
    """The instructor's bundle (this engine's: the classic store) on the student's store."""
    empty(student)
    loaded = invoke("load", str(class_bundle), "--lock", str(published), env=student, timeout=1800)
    assert loaded.code == 0, loaded.stderr
    compared = invoke("doctor", "--compare", str(published), env=student)
    assert compared.code == 0, compared.stdout
    assert len(image_ids(student)) == len(VARIANTS), "the three images, nothing else"


@pytest.mark.stores("containerd")  # on the classic store, the bundle above is this one
def test_a_bundle_made_on_the_students_store_loads_there(
    published: Path, student: dict[str, str], tmp_path: Path
) -> None:
    """`docker save` of the containerd store (an OCI layout) bundled, then loaded into the
    emptied engine: the same images, identical to the lock."""
    assert store_of(student) == "containerd"
    path = tmp_path / "theirs.tar"
    made = invoke("bundle", "--output", str(path), "--variants", CPU_VARIANTS,
                  "--lock", str(published), env=student, timeout=1800)  # fmt: skip
    assert made.code == 0, made.stderr
    empty(student)
    loaded = invoke("load", str(path), "--lock", str(published), env=student, timeout=1800)
    assert loaded.code == 0, loaded.stderr
    compared = invoke("doctor", "--compare", str(published), env=student)
    assert compared.code == 0 and compared.stdout.startswith("identical to"), compared.stdout
    assert len(image_ids(student)) == len(VARIANTS), "the three images, nothing else"


def test_a_full_disk_loads_nothing(class_bundle: Path, tmp_path: Path) -> None:
    """A student's engine with 400 MB of disk: `docker load` runs out of space."""
    with services.second_engine(disk="400m") as small:
        full = invoke("load", str(class_bundle), "--lock", "/nonexistent/lab.lock", env=small)
        assert_one_clear_line(full, "nothing was tagged", "no space left on device")
        assert lab_images_on(small) == {}


def sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def two_faced_save() -> tuple[bytes, LockedImage]:
    """A one-file image whose manifest.json (what the classic store loads, and what load's
    checks read) names the locked config, and whose index.json (what the containerd store
    loads) leads to the same layer under another entrypoint; and its lock entry."""
    layer = tar_of([("hello.txt", b"hello\n")])
    configs = [
        json.dumps({"architecture": "amd64", "os": "linux", "config": {"Entrypoint": [run]},
                    "rootfs": {"type": "layers", "diff_ids": [sha256(layer)]}}).encode()
        for run in ("/hello", "/evil")
    ]  # fmt: skip
    evil = json.dumps({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json",
                   "digest": sha256(configs[1]), "size": len(configs[1])},
        "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar",
                    "digest": sha256(layer), "size": len(layer)}],
    }).encode()  # fmt: skip
    index = {"schemaVersion": 2, "manifests": [{
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "digest": sha256(evil), "size": len(evil)}]}  # fmt: skip
    blob = {data: "blobs/sha256/" + sha256(data)[7:] for data in (layer, *configs, evil)}
    legacy = [{"Config": blob[configs[0]], "RepoTags": None, "Layers": [blob[layer]]}]
    saved = tar_of([
        *((name, data) for data, name in blob.items()),
        ("index.json", json.dumps(index).encode()),
        ("manifest.json", json.dumps(legacy).encode()),
        ("oci-layout", b'{"imageLayoutVersion":"1.0.0"}'),
    ])  # fmt: skip
    entry = LockedImage(
        variant="stock", image="lab-cpython:stock", platform=identity.engine_platform(),
        rootfs=identity.rootfs_identity([sha256(layer)]), fingerprint={"python": "3.13.5"},
        config=sha256(configs[0]),
    )  # fmt: skip
    return saved, entry


@pytest.mark.stores("containerd")  # the classic store loads manifest.json: what was checked
def test_a_bundle_whose_index_leads_elsewhere_loads_nothing(
    student: dict[str, str], tmp_path: Path
) -> None:
    """The containerd store loads what index.json names: the image the engine took is not
    the checked one, so nothing is tagged and what it loaded is removed."""
    saved, entry = two_faced_save()
    made = bundle.write_bundle(
        tmp_path / "two-faced.tar", lockfile.Lock(None, {"stock": {entry.platform: entry}}),
        {entry.platform: lambda path: bundle.compress(io.BytesIO(saved), path)},
    )  # fmt: skip
    lockfile.write({"stock": entry}, None, tmp_path / "lab.lock")
    before = image_ids(student)
    refused = invoke("load", made["bundle"], "--lock", str(tmp_path / "lab.lock"), env=student)
    assert_one_clear_line(refused, "stock: the engine loaded config", "were removed")
    assert image_ids(student) == before


@CLASSIC_ONLY
def test_a_tampered_or_cut_bundle_loads_nothing(
    class_bundle: Path, published: Path, student: dict[str, str], tmp_path: Path
) -> None:
    empty(student)
    class_bundle = Path(shutil.copy(class_bundle, tmp_path))  # the other store loads it next
    with open(class_bundle, "r+b") as damaged:  # one byte, deep inside images.tar.zst
        damaged.seek(class_bundle.stat().st_size // 2)
        byte = damaged.read(1)
        damaged.seek(-1, os.SEEK_CUR)
        damaged.write(bytes([byte[0] ^ 0xFF]))
    altered = invoke("load", str(class_bundle), "--lock", str(published), env=student)
    assert_one_clear_line(altered, "images.tar.zst")
    assert lab_images_on(student) == {}
    os.truncate(class_bundle, class_bundle.stat().st_size // 3)
    cut = invoke("load", str(class_bundle), "--lock", str(published), env=student)
    assert_one_clear_line(cut, str(class_bundle))
    assert lab_images_on(student) == {}
