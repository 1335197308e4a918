"""The dev container (.devcontainer/): built from the lab's own base image with nothing
fetched from a registry, the host's engine through its socket, and the mounts invoke asks
for given as the host's paths (LAB_HOST_ROOT), since that engine resolves them there."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

from lab.config import ALL_VARIANTS, ROOT
from lab.engine import docker
from lab.images import builder
from lab.run import containers

DEVCONTAINER = ROOT / ".devcontainer"


def config() -> dict:
    return json.loads((DEVCONTAINER / "devcontainer.json").read_text())


def pin(dockerfile: Path) -> str:
    return re.search(r"^ARG BASE_IMAGE=(\S+)$", dockerfile.read_text(), re.M).group(1)


def test_built_from_the_labs_own_base_with_no_features() -> None:
    assert pin(DEVCONTAINER / "Dockerfile") == pin(ROOT / "images" / "cpython" / "Dockerfile")
    assert "features" not in config() and "image" not in config()
    assert config()["build"]["dockerfile"] == "Dockerfile"


def test_the_hosts_engine_and_paths() -> None:
    cfg = config()
    assert "source=/var/run/docker.sock,target=/var/run/docker.sock,type=bind" in cfg["mounts"]
    assert cfg["containerEnv"]["LAB_HOST_ROOT"] == "${localWorkspaceFolder}"
    assert cfg["postCreateCommand"] == "scripts/setup.sh --no-engine"
    assert cfg["onCreateCommand"] == "sh .devcontainer/trust-host-ca.sh"  # before setup's pip
    assert "LAB_VENV=/opt/lab-venv" in (DEVCONTAINER / "Dockerfile").read_text()


def test_engine_path_moves_the_labs_folders_to_the_host_root(monkeypatch) -> None:
    monkeypatch.setenv("LAB_HOST_ROOT", "/home/me/lab")
    assert docker.engine_path(ROOT / "results" / "station-1") == "/home/me/lab/results/station-1"
    assert docker.engine_path(ROOT) == "/home/me/lab"
    assert docker.engine_path(Path("/tmp/elsewhere")) == "/tmp/elsewhere"


def test_engine_path_without_host_root_is_the_path(monkeypatch) -> None:
    monkeypatch.delenv("LAB_HOST_ROOT", raising=False)
    assert docker.engine_path(ROOT / "results") == str(ROOT / "results")


def test_compose_gets_host_paths_for_every_mount(monkeypatch) -> None:
    monkeypatch.setenv("LAB_HOST_ROOT", "/home/me/lab")
    monkeypatch.delenv("LAB_RESULTS", raising=False)
    monkeypatch.delenv("LAB_STATIONS", raising=False)
    monkeypatch.setattr(containers, "engine_machine", lambda: (2, 8 * 2**30))
    output = ROOT / "results" / "station-1" / "x.partial"
    argv = containers.run_command(ALL_VARIANTS["stock"], ["true"], volumes=[(output, "/o", "rw")])
    assert "/home/me/lab/results/station-1/x.partial:/o:rw" in argv
    env = containers.env()
    assert env["LAB_RESULTS"] == "/home/me/lab/results"
    assert env["LAB_STATIONS"] == "/home/me/lab/stations"


def run_initialize_command(workspace: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    """devcontainer.json's initializeCommand as the CLI runs it on a Linux or macOS host."""
    command = config()["initializeCommand"].replace("${localWorkspaceFolder}", str(workspace))
    return subprocess.run(["/bin/sh", "-c", command], env=env, capture_output=True, check=False)


def test_initialize_command_copies_the_hosts_bundle_into_the_workspace(tmp_path) -> None:
    shutil.copytree(DEVCONTAINER, tmp_path / ".devcontainer")
    bundle = tmp_path / "proxy-ca.pem"
    bundle.write_text("-----BEGIN CERTIFICATE-----\nproxy\n-----END CERTIFICATE-----\n")
    done = run_initialize_command(tmp_path, {"PATH": "/usr/bin:/bin", "LAB_EXTRA_CA": str(bundle)})
    assert done.returncode == 0, done.stderr
    assert (tmp_path / ".lab" / "host-ca.crt").read_bytes() == bundle.read_bytes()
    assert ".lab/" in (ROOT / ".gitignore").read_text().splitlines()


def test_initialize_command_never_stops_the_dev_container(tmp_path) -> None:
    """No script there (or no sh, on Windows: cmd runs the same `|| exit 0`): it goes on."""
    assert run_initialize_command(tmp_path / "absent", {"PATH": "/usr/bin:/bin"}).returncode == 0


def test_dev_container_hands_the_engine_a_workspace_copy_of_the_ca(monkeypatch, tmp_path) -> None:
    """The engine resolves the shell's CA mount on the host: never a dev container path."""
    bundle = tmp_path / "ca-certificates.crt"
    bundle.write_text("bundle\n")
    monkeypatch.setenv("LAB_EXTRA_CA", str(bundle))
    monkeypatch.setenv("LAB_HOST_ROOT", "/home/me/lab")
    monkeypatch.setattr(docker, "ROOT", tmp_path)
    monkeypatch.setattr(containers, "SHELL_CA_COPY", tmp_path / ".lab" / "shell-ca.crt")
    assert containers.shell_ca() == "/home/me/lab/.lab/shell-ca.crt"
    copy = tmp_path / ".lab" / "shell-ca.crt"
    assert copy.read_text() == "bundle\n" and copy.stat().st_mode & 0o777 == 0o644
    assert sorted(p.name for p in copy.parent.iterdir()) == ["shell-ca.crt"]


def test_on_the_host_the_ca_is_mounted_where_it_is(monkeypatch, tmp_path) -> None:
    bundle = tmp_path / "ca.pem"
    bundle.write_text("bundle\n")
    monkeypatch.setenv("LAB_EXTRA_CA", str(bundle))
    monkeypatch.delenv("LAB_HOST_ROOT", raising=False)
    monkeypatch.setattr(containers, "SHELL_CA_COPY", tmp_path / ".lab" / "shell-ca.crt")
    assert containers.shell_ca() == str(bundle)
    assert not (tmp_path / ".lab").exists()


def test_no_bundle_no_ca_mount(monkeypatch) -> None:
    monkeypatch.setattr(builder, "extra_ca", lambda: "/dev/null")
    monkeypatch.setenv("LAB_HOST_ROOT", "/home/me/lab")
    monkeypatch.setattr(containers, "env", lambda extra=None: extra or {})
    assert containers.shell_ca() is None
    assert "LAB_HOST_CA" not in containers.shell_env()
