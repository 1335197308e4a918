"""`invoke doctor` as students meet it: green where the stations can run, the engine's fault
told from an image's, the engine's kind named, and what Podman needs said in one line.

Podman's answers below were recorded from Debian 12's `podman` 4.3.1, serving the Docker
API (`podman system service --time=0 unix:///tmp/pm/podman.sock`, the docker CLI pointed at
it with DOCKER_HOST), as root on the project's machines, where root lacks CAP_SYS_RESOURCE.
"""

from __future__ import annotations

import pytest

from lab import doctor
from lab.classroom import lockfile
from lab.classroom.lockfile import LockedImage
from lab.config import ALL_VARIANTS
from lab.engine import docker
from lab.errors import LabError
from lab.images import builder, identity


def server(platform: str, version: str, components: dict[str, str]) -> dict:
    """`docker version --format '{{json .Server}}'` (Components, shortened to their names)."""
    return {
        "Platform": {"Name": platform},
        "Components": [{"Name": name, "Version": v} for name, v in components.items()],
        "Version": version,
        "ApiVersion": "1.41",
    }


PODMAN_SERVER = server("linux/amd64/debian-12", "4.3.1", {
    "Podman Engine": "4.3.1",
    "Conmon": "conmon version 2.1.6, commit: unknown",
    "OCI Runtime (runc)": "runc version 1.1.5+ds1",
    "Engine": "4.3.1",
})  # fmt: skip
DOCKER_SERVER = server("", "20.10.24+dfsg1", {
    "Engine": "20.10.24+dfsg1",
    "containerd": "1.6.20~ds1",
    "runc": "1.1.5+ds1",
    "docker-init": "0.19.0",
})  # fmt: skip
# `docker info`'s fields that tell them apart (Podman 4.3.1 as root; Docker 20.10).
PODMAN_INFO = {"SecurityOptions": ["name=seccomp,profile=default"], "OperatingSystem": "debian"}
DOCKER_INFO = {
    "SecurityOptions": ["name=seccomp,profile=default"],
    "OperatingSystem": "Debian GNU/Linux 12 (bookworm)",
}
ROOTLESS_INFO = {"SecurityOptions": ["name=seccomp,profile=default", "name=rootless"]}
DESKTOP_INFO = {"SecurityOptions": [], "OperatingSystem": "Docker Desktop"}

# `docker run` against Podman 4.3.1 as root: attached, the CLI says only this ...
PODMAN_ATTACH = "unable to upgrade to tcp, received 409"
# ... and detached (`docker run -d`), why the container did not start. Containers ran once
# containers.conf's [containers] had default_ulimits = ["nofile=20000:20000",
# "nproc=32768:32768"] (the service's own limits; with nofile alone it was type 6, nproc).
PODMAN_RLIMIT = (
    "docker: Error response from daemon: runc: runc create failed: unable to start container "
    "process: error during container init: error setting rlimits for ready process: error "
    "setting rlimit type 7: operation not permitted: OCI permission denied"
)
# `docker run --init` (compose's `init: true`) without the package catatonit.
PODMAN_NO_CATATONIT = (
    "docker: Error response from daemon: container create: container-init binary not found "
    "on the host: stat /usr/libexec/podman/catatonit: no such file or directory"
)
# `docker pull 127.0.0.1:5999/...` against Podman, a plain-HTTP server on that port.
PODMAN_PLAIN_HTTP = (
    "initializing source docker://127.0.0.1:5999/class/lab-cpython@sha256:" + "1" * 64 + ": "
    'pinging container registry 127.0.0.1:5999: Get "https://127.0.0.1:5999/v2/": tls: first '
    "record does not look like a TLS handshake"
)
# A real registry on loopback, as the lab's students met it with Podman.
REGISTRY_PLAIN_HTTP = (
    'Get "https://127.0.0.1:5000/v2/": http: server gave HTTP response to HTTPS client'
)
# Docker whose cgroups were mounted read-only: runc's wording, written for the test (not
# recorded here; the engine here has writable cgroups).
CGROUPS_READ_ONLY = (
    "docker: Error response from daemon: failed to create shim: OCI runtime create failed: "
    "runc create failed: unable to start container process: error during container init: "
    'error mounting "cgroup" to rootfs at "/sys/fs/cgroup": read-only file system: unknown'
)

ROOTFS = "sha256:" + "c" * 64


def image(variant: str, rootfs: str = ROOTFS) -> LockedImage:
    fingerprint = {"python": "3.13.5", "digest": "5a21fba04165222f"}
    return LockedImage(variant, ALL_VARIANTS[variant].image, "linux/amd64", rootfs, fingerprint)


def failed(variant: str, why: str) -> LabError:
    """An image's row error, as facts.fingerprint words it."""
    return LabError(f"reading {ALL_VARIANTS[variant].image}'s /etc/lab/fingerprint.json "
                    f"failed: {why}")  # fmt: skip


@pytest.fixture
def machine(monkeypatch):
    """A Docker 20.10 engine with every image built and fine, no base image, no lab.lock;
    a test changes what it is about. No engine or CLI is asked."""
    state = {
        "server": DOCKER_SERVER,
        "info": DOCKER_INFO,
        "base": False,
        "lock": {},
        "found": {name: image(name) for name in ALL_VARIANTS},
        "probe": None,
        "catatonit": True,
        "probed": [],
        "services": [],  # the command lines of Podman's processes here
    }
    monkeypatch.setattr(docker, "engine_version", lambda: state["server"]["Version"])
    monkeypatch.setattr(docker, "engine_server", lambda: state["server"])
    monkeypatch.setattr(docker, "engine_info", lambda: state["info"])
    monkeypatch.setattr(docker, "plugin_version", lambda plugin: "2.26.1")
    monkeypatch.setattr(docker, "gpu_runtime", lambda: None)
    monkeypatch.setattr(docker, "host_gpus", lambda: [])
    monkeypatch.setattr(docker, "cdi_gpu_specs", lambda: [])
    monkeypatch.setattr(docker, "has_catatonit", lambda: state["catatonit"])
    monkeypatch.setattr(docker, "podman_services", lambda: state["services"])
    monkeypatch.setattr(docker, "probe", lambda img: state["probed"].append(img) or state["probe"])
    monkeypatch.setattr(
        docker, "image_labels", lambda name: {} if state["base"] and name == base() else None
    )
    monkeypatch.setattr(doctor, "image_or_error", lambda v: state["found"][v.name])
    monkeypatch.setattr(doctor, "class_lock", lambda: state["lock"])
    monkeypatch.setattr(identity, "engine_platform", lambda: "linux/amd64")
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    return state


def base() -> str:
    return builder.base_image()


def by_item(table: list[doctor.Row]) -> dict[str, doctor.Row]:
    return {row.item: row for row in table}


def test_every_image_here_and_no_base_image_is_green(machine) -> None:
    text, healthy = doctor.report()
    assert healthy, text
    row = by_item(doctor.rows())[base()]
    assert row.status == doctor.NOT_HERE and "only to build" in row.detail
    assert "invoke base" in row.detail


def test_the_engine_row_names_its_kind(machine) -> None:
    assert by_item(doctor.rows())["engine"].detail == "20.10.24+dfsg1 (Docker)"
    machine.update(server=PODMAN_SERVER, info=PODMAN_INFO)
    assert by_item(doctor.rows())["engine"].detail == "4.3.1 (Podman)"


@pytest.mark.parametrize(
    ("server", "info", "kind"),
    [
        (DOCKER_SERVER, DOCKER_INFO, "Docker"),
        (PODMAN_SERVER, PODMAN_INFO, "Podman"),
        (DOCKER_SERVER, ROOTLESS_INFO, "rootless Docker"),
        (PODMAN_SERVER, ROOTLESS_INFO, "rootless Podman"),
        (DOCKER_SERVER, DESKTOP_INFO, "Docker Desktop"),
        ({}, {}, "Docker"),  # an engine that says nothing of itself
    ],
)
def test_engine_kinds(server: dict, info: dict, kind: str) -> None:
    assert docker.engine_kind(server, info) == kind


def test_with_a_class_lock_a_missing_image_is_pulled_not_compiled(machine) -> None:
    machine["lock"] = {name: image(name) for name in ("stock", "debug", "ft")}
    machine["found"]["stock"] = None
    row = by_item(doctor.rows())["lab-cpython:stock"]
    assert row.status == doctor.MISSING and "invoke pull" in row.detail
    assert "invoke load BUNDLE" in row.detail and "invoke images" not in row.detail
    machine["lock"] = {}
    assert "invoke images --variant stock" in by_item(doctor.rows())["lab-cpython:stock"].detail


def test_an_image_other_than_the_locks_is_named_and_pulled_but_runs(machine) -> None:
    machine["lock"] = {"stock": image("stock", rootfs="sha256:" + "d" * 64)}
    row = by_item(doctor.rows())["lab-cpython:stock"]
    assert row.status == doctor.DIFFERS and "not lab.lock's" in row.detail
    assert "invoke pull" in row.detail
    assert doctor.report()[1], "the stations can run"


@pytest.mark.parametrize("why", [PODMAN_ATTACH, CGROUPS_READ_ONLY])
def test_an_engine_that_cannot_start_containers_is_the_engines_fault(machine, why: str) -> None:
    machine.update(server=PODMAN_SERVER, info=PODMAN_INFO, probe=PODMAN_RLIMIT, base=True)
    machine["found"] = {name: failed(name, why) for name in ALL_VARIANTS}
    text, healthy = doctor.report()
    rows = by_item(doctor.rows())
    assert not healthy and rows["engine"].status == doctor.BROKEN
    assert rows["engine"].detail.startswith("4.3.1 (Podman) cannot start containers: ")
    assert "--force" not in text, "the images are not to blame"
    assert {rows[v.image].status for v in ALL_VARIANTS.values()} == {doctor.UNCHECKED}
    assert "default_ulimits" in rows["engine"].detail, "the detached probe said why"


def test_every_image_failing_the_same_way_is_the_engines(machine) -> None:
    why = "docker: Error response from daemon: something new went wrong"
    machine["found"] = {name: failed(name, why) for name in ALL_VARIANTS}
    machine["probe"] = why  # no base image: the probe ran one of the failing images
    rows = by_item(doctor.rows())
    assert rows["engine"].status == doctor.BROKEN and "something new" in rows["engine"].detail


def test_one_image_that_will_not_start_is_the_images_fault(machine) -> None:
    machine["found"]["debug"] = failed("debug", "cat: /etc/lab/fingerprint.json: No such file")
    machine["base"] = True
    rows = by_item(doctor.rows())
    assert machine["probed"] == [base()], "a container from the base image decides"
    assert rows["engine"].status == doctor.OK
    assert rows["lab-cpython:debug"].status == doctor.BROKEN
    assert "invoke images --force --variant debug" in rows["lab-cpython:debug"].detail


def test_an_engine_with_no_image_to_fail_is_probed_with_the_base(machine) -> None:
    machine.update(server=PODMAN_SERVER, info=PODMAN_INFO, probe=PODMAN_RLIMIT, base=True)
    machine["found"] = dict.fromkeys(ALL_VARIANTS)
    row = by_item(doctor.rows())["engine"]
    assert row.status == doctor.BROKEN and "default_ulimits" in row.detail


@pytest.mark.parametrize(
    ("error", "advice"),
    [
        (PODMAN_RLIMIT, "default_ulimits in containers.conf"),
        (PODMAN_NO_CATATONIT, "apt-get install catatonit"),
        (PODMAN_ATTACH, "docker run -d"),
        (CGROUPS_READ_ONLY, "cgroups"),
    ],
)
def test_what_to_do_about_an_engine_fault(error: str, advice: str) -> None:
    assert docker.names_the_engine(error)
    assert advice in docker.engine_advice(error)


def test_podman_without_catatonit_is_one_line_and_still_green(machine) -> None:
    machine.update(server=PODMAN_SERVER, info=PODMAN_INFO, catatonit=False)
    text, healthy = doctor.report()
    row = by_item(doctor.rows())["catatonit"]
    assert healthy, text
    assert "invoke shell" in row.detail and "apt-get install catatonit" in row.detail
    machine["catatonit"] = True
    assert "catatonit" not in by_item(doctor.rows())
    machine.update(server=DOCKER_SERVER, info=DOCKER_INFO, catatonit=False)
    assert "catatonit" not in by_item(doctor.rows()), "Docker brings its own init"


def test_catatonit_is_not_looked_for_on_another_machines_engine(machine, monkeypatch) -> None:
    machine.update(server=PODMAN_SERVER, info=PODMAN_INFO, catatonit=False)
    monkeypatch.setenv("DOCKER_HOST", "tcp://192.0.2.7:2375")
    assert "catatonit" not in by_item(doctor.rows())


@pytest.mark.parametrize("said", [REGISTRY_PLAIN_HTTP, PODMAN_PLAIN_HTTP])
def test_a_plain_http_registry_is_one_line_of_what_to_do(said: str) -> None:
    advice = docker.registry_advice(said, "127.0.0.1:5000")
    assert "[[registry]]" in advice and "insecure = true" in advice
    assert "/etc/containers/registries.conf" in advice and "restart" in advice
    assert "\n" not in advice
    assert docker.registry_advice("manifest unknown", "127.0.0.1:5000") == ""


def test_no_engine_at_docker_host_says_so(machine, monkeypatch) -> None:
    monkeypatch.setattr(docker, "engine_version", lambda: None)
    monkeypatch.setattr(docker.shutil, "which", lambda name: "/usr/bin/docker")
    monkeypatch.setenv("DOCKER_HOST", "ssh://student@lab-server")
    row = by_item(doctor.rows())["engine"]
    assert row.status == doctor.MISSING and "DOCKER_HOST=ssh://student@lab-server" in row.detail
    assert "LAB_HOST_ROOT" in row.detail
    monkeypatch.delenv("DOCKER_HOST")
    assert docker.INSTALL_HINT in by_item(doctor.rows())["engine"].detail
    monkeypatch.setattr(docker.shutil, "which", lambda name: None)
    assert "no `docker` command" in by_item(doctor.rows())["engine"].detail


def test_a_broken_class_lock_is_its_own_row(machine) -> None:
    machine["lock"] = LabError("lab.lock: not JSON")
    row = by_item(doctor.rows())["lab.lock"]
    assert row.status == doctor.BROKEN and "not JSON" in row.detail


def test_class_lock_reads_none_as_empty(tmp_path) -> None:
    assert doctor.class_lock(tmp_path / "lab.lock") == {}
    (tmp_path / "lab.lock").write_text("{not json")
    assert isinstance(doctor.class_lock(tmp_path / "lab.lock"), LabError)
    assert lockfile.LOCK_FILE.name == "lab.lock"


@pytest.mark.parametrize("said", [REGISTRY_PLAIN_HTTP, PODMAN_PLAIN_HTTP])
def test_pull_from_a_plain_http_registry_says_what_to_do(monkeypatch, said: str) -> None:
    from lab.classroom import registry
    from tests.unit.classroom.bundles import ENTRY

    failed = registry.subprocess.CompletedProcess([], 125, "", f"Error: {said}\n")
    monkeypatch.setattr(registry, "transfer", lambda args: failed)
    with pytest.raises(LabError, match=r"insecure = true .*/etc/containers/registries\.conf"):
        registry.fetch(ENTRY)


def test_the_pytorch_row_says_which_image_stations_5_and_6_run_in() -> None:
    assert "run in lab-torch:cpu: no NVIDIA GPU" in doctor.torch_row(False, {"torch-cpu"}).detail
    assert (
        "run in lab-cuda:stock: an NVIDIA GPU"
        in doctor.torch_row(True, {"cuda", "torch-cpu"}).detail
    )
    fallback = doctor.torch_row(False, {"cuda"})
    assert (
        fallback.status == doctor.OK and "run in lab-cuda:stock, the one built" in fallback.detail
    )
    none = doctor.torch_row(True, set())
    assert none.status == doctor.NOT_BUILT and none.detail.endswith("(builds lab-cuda:stock)")


def test_an_image_the_class_lock_leaves_out_is_not_needed(machine) -> None:
    """A class that locks stock and ft: the debug image is not the class's, so its absence
    fails nothing, and no row asks for a compile."""
    machine["lock"] = {name: image(name) for name in ("stock", "ft")}
    machine["found"].update(debug=None, cuda=None, **{"torch-cpu": None})
    text, healthy = doctor.report()
    rows = by_item(doctor.rows())
    assert healthy, text
    assert rows["lab-cpython:debug"].status == doctor.NOT_LOCKED
    assert "not in the class's lab.lock" in rows["lab-cpython:debug"].detail
    assert rows["PyTorch image"].status == doctor.NOT_LOCKED
    assert "invoke images --" not in text, "a locked class compiles nothing"
    machine["lock"] = {}
    assert not doctor.report()[1], "without a lock the debug image is missing"
    assert "invoke images --variant debug" in by_item(doctor.rows())["lab-cpython:debug"].detail


def test_a_locked_pytorch_image_not_here_is_pulled(machine) -> None:
    machine["lock"] = {name: image(name) for name in ("stock", "debug", "ft", "torch-cpu")}
    machine["found"].update(cuda=None, **{"torch-cpu": None})
    row = by_item(doctor.rows())["PyTorch image"]
    assert row.status == doctor.NOT_BUILT and "invoke pull" in row.detail


@pytest.mark.parametrize(
    ("argv", "noted"),
    [
        (["podman", "system", "service", "unix:///run/podman/podman.sock"], True),
        (["/usr/bin/podman", "system", "service", "-t", "30", "unix:///x.sock"], True),
        (["podman", "system", "service", "--time=0", "unix:///run/podman/podman.sock"], False),
        (["/usr/bin/podman", "system", "service"], False),  # podman.socket's: systemd restarts it
    ],
)
def test_a_podman_service_that_leaves_when_idle_is_named(machine, argv, noted: bool) -> None:
    machine.update(server=PODMAN_SERVER, info=PODMAN_INFO, services=[argv])
    text, healthy = doctor.report()
    row = by_item(doctor.rows()).get("Podman service")
    assert healthy, text
    assert (row is not None) is noted
    if row:
        assert "--time=0" in row.detail and "podman.socket" in row.detail
    machine.update(server=DOCKER_SERVER, info=DOCKER_INFO)
    assert "Podman service" not in by_item(doctor.rows())


def test_a_dead_podman_socket_says_how_to_start_podman(machine, monkeypatch, tmp_path) -> None:
    monkeypatch.setattr(docker, "engine_version", lambda: None)
    monkeypatch.setattr(docker.shutil, "which", lambda name: f"/usr/bin/{name}")
    socket = tmp_path / "podman" / "podman.sock"  # its folder not made yet
    monkeypatch.setenv("DOCKER_HOST", f"unix://{socket}")
    detail = by_item(doctor.rows())["engine"].detail
    assert f"mkdir -p {socket.parent} && podman system service --time=0 unix://{socket}" in detail
    assert "systemctl enable --now podman.socket" in detail and "install" not in detail
    socket.parent.mkdir()
    assert "mkdir" not in by_item(doctor.rows())["engine"].detail


def test_podman_without_docker_host_is_told_where_to_point_it(machine, monkeypatch) -> None:
    """Podman installed, no dockerd, DOCKER_HOST unset: the lab reaches Podman through its
    Docker API at a socket; installing Docker is not the fix."""
    monkeypatch.setattr(docker, "engine_version", lambda: None)
    monkeypatch.setattr(docker.shutil, "which", lambda name: None if name == "dockerd" else name)
    detail = by_item(doctor.rows())["engine"].detail
    assert "podman system service --time=0 unix:///run/podman/podman.sock" in detail
    assert "export DOCKER_HOST=unix:///run/podman/podman.sock" in detail


def test_compare_with_a_lock_of_two_platforms_takes_and_names_this_ones(
    tmp_path, monkeypatch
) -> None:
    amd = LockedImage("stock", "lab-cpython:stock", "linux/amd64", "sha256:" + "1" * 64, {})
    arm = LockedImage("stock", "lab-cpython:stock", "linux/arm64", "sha256:" + "2" * 64, {})
    lockfile.write_lock(
        lockfile.Lock(None, {"stock": {p.platform: p for p in (amd, arm)}}), tmp_path / "lab.lock"
    )
    monkeypatch.setattr(docker, "require_engine", lambda: "20.10")
    monkeypatch.setattr(identity, "engine_platform", lambda: "linux/arm64")
    monkeypatch.setattr(doctor.facts, "local_images", lambda: {"stock": arm})
    path = tmp_path / "lab.lock"
    lines, same = doctor.compare(path)
    assert same and lines == [f"identical to {path} (linux/arm64): stock 222222222222"]
    monkeypatch.setattr(doctor.facts, "local_images", lambda: {"stock": amd})  # emulated
    lines, same = doctor.compare(path)
    assert not same and lines[0] == f"compared with {path}'s linux/arm64 images"
    assert "stock: platform: linux/amd64 here, linux/arm64 there" in lines


def test_compare_for_another_platform_reads_its_own_tags_against_its_entry(
    tmp_path, monkeypatch
) -> None:
    """`doctor --compare lab.lock --platform linux/arm64` on an x86-64 engine: the arm64
    images kept here under their own tags, against the lock's arm64 entry, by the name
    the lock gives them."""
    from lab.config import IMAGE_PLATFORM_VAR
    from lab.images import platforms

    amd = LockedImage("stock", "lab-cpython:stock", "linux/amd64", "sha256:" + "1" * 64, {})
    arm = LockedImage("stock", "lab-cpython:stock", "linux/arm64", "sha256:" + "2" * 64, {})
    path = tmp_path / "lab.lock"
    lockfile.write_lock(lockfile.Lock(None, {"stock": {p.platform: p for p in (amd, arm)}}), path)
    monkeypatch.setattr(docker, "require_engine", lambda: "20.10")
    monkeypatch.setattr(identity, "engine_platform", lambda: "linux/amd64")
    monkeypatch.setattr(platforms, "require_emulation", lambda platform: None)
    monkeypatch.setenv(IMAGE_PLATFORM_VAR, "")  # put back as it was after the test
    read: list[str] = []

    def inspect(name: str) -> identity.ImageFacts | None:
        read.append(name)
        return identity.ImageFacts(name, arm.rootfs, "linux/arm64", (), {})

    monkeypatch.setattr(identity, "inspect", inspect)
    monkeypatch.setattr(doctor.facts, "fingerprint", lambda name: {})
    monkeypatch.setattr(docker, "engine_info", lambda: {})
    monkeypatch.setattr(identity, "config_digest", lambda name: None)
    platform = platforms.run_images_of("linux/arm64")
    lines, same = doctor.compare(path, platform)
    assert "lab-cpython:stock-linux-arm64" in read and "lab-cpython:stock" not in read
    assert same, lines
    assert lines[0].startswith(f"identical to {path} (linux/arm64): stock 222222222222")
    found = doctor.facts.local_image(ALL_VARIANTS["stock"])
    assert found and found.image == "lab-cpython:stock", "--json: the lock's name, not the tag"
