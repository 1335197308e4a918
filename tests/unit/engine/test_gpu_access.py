"""How the host side decides that containers get a GPU, and in which form, from recorded
`docker info` JSON, `nvidia-smi` output and CDI specs; and what `invoke doctor` says."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

from lab import doctor
from lab.config import ALL_VARIANTS, ROOT
from lab.engine import docker
from lab.run import containers

MACHINES = Path(__file__).parents[1] / "machines"
SPECS = MACHINES / "cdi"


def recorded(name: str) -> dict:
    return json.loads((MACHINES / name).read_text())


def with_cdi(info: dict, folder: Path, *specs: str) -> dict:
    """INFO with the engine reading CDI specs from FOLDER, which holds SPECS."""
    folder.mkdir(exist_ok=True)
    for spec in specs:
        shutil.copy(SPECS / spec, folder / spec)
    return {**info, "CDISpecDirs": [str(folder)]}


# -- the CDI spec files ----------------------------------------------------------------------
@pytest.mark.parametrize(
    ("spec", "kind"),
    [("nvidia.yaml", "nvidia.com/gpu"), ("nvidia.json", "nvidia.com/gpu"),
     ("intel.yaml", "intel.com/gpu")],
)  # fmt: skip
def test_cdi_kind_reads_yaml_and_json(spec: str, kind: str) -> None:
    assert docker.cdi_kind((SPECS / spec).read_text()) == kind


def test_cdi_kind_of_a_nested_kind_line_is_not_the_specs() -> None:
    assert docker.cdi_kind("devices:\n  - kind: nvidia.com/gpu\n") is None


def test_cdi_gpu_specs_finds_only_nvidia_gpu_specs(tmp_path) -> None:
    for spec in ("nvidia.yaml", "intel.yaml", "nvidia.json"):
        shutil.copy(SPECS / spec, tmp_path / spec)
    (tmp_path / "notes.txt").write_text("kind: nvidia.com/gpu\n")
    found = docker.cdi_gpu_specs([tmp_path, tmp_path / "absent"])
    assert [p.name for p in found] == ["nvidia.json", "nvidia.yaml"]


# -- the decision ----------------------------------------------------------------------------
def test_this_machines_engine_gives_no_gpu() -> None:
    assert docker.gpu_access(recorded("docker-info-debian12.json")) is None


def test_registered_runtime_is_the_gpu_request_of_compose_gpu_yaml() -> None:
    access = docker.gpu_access(recorded("docker-info-ubuntu-nvidia-runtime.json"))
    assert access is not None and access.how == docker.RUNTIME
    assert access.compose_file.name == "compose.gpu.yaml"


def test_cdi_spec_in_a_folder_the_engine_reads_is_a_cdi_request(tmp_path) -> None:
    info = with_cdi(recorded("docker-info-ubuntu-cdi.json"), tmp_path, "nvidia.yaml")
    access = docker.gpu_access(info)
    assert access is not None and access.how == docker.CDI
    assert access.compose_file.name == "compose.cdi.yaml"
    assert str(tmp_path / "nvidia.yaml") in str(access)


def test_runtime_wins_over_cdi(tmp_path) -> None:
    info = with_cdi(recorded("docker-info-ubuntu-nvidia-runtime.json"), tmp_path, "nvidia.yaml")
    assert docker.gpu_access(info).how == docker.RUNTIME


def test_cdi_spec_for_another_vendor_gives_no_gpu(tmp_path) -> None:
    info = with_cdi(recorded("docker-info-ubuntu-cdi.json"), tmp_path, "intel.yaml")
    assert docker.gpu_access(info) is None


def test_cdi_spec_on_disk_but_engine_reads_no_cdi_gives_no_gpu(tmp_path) -> None:
    """Docker 26 (no CDISpecDirs in its info): a `driver: cdi` request would be refused."""
    seen = []

    def specs(dirs):
        seen.append(list(dirs))
        return [tmp_path / "nvidia.yaml"]

    assert docker.gpu_access(recorded("docker-info-ubuntu-plain.json"), specs) is None
    assert seen == [], "no folder is searched when the engine reads none"


def test_compose_command_names_the_file_of_the_form() -> None:
    cdi = docker.GpuAccess(docker.CDI, "CDI")
    command = docker.compose_command(["run", "cuda"], gpu=cdi)
    assert command[command.index("-f", 5) + 1] == str(ROOT / "compose.cdi.yaml")
    assert "compose.gpu.yaml" not in " ".join(command)
    assert "compose.cdi.yaml" not in " ".join(docker.compose_command(["run", "cuda"]))


def test_run_command_adds_the_cdi_file_for_the_cuda_service(monkeypatch) -> None:
    cdi = docker.GpuAccess(docker.CDI, "CDI")
    monkeypatch.setattr(containers, "engine_gpu", lambda: cdi)
    assert "compose.cdi.yaml" in " ".join(containers.run_command(ALL_VARIANTS["cuda"], ["true"]))
    stock = " ".join(containers.run_command(ALL_VARIANTS["stock"], ["true"]))
    assert "compose.cdi.yaml" not in stock, "a CPU image never asks for a GPU"


@pytest.mark.skipif(not shutil.which("docker"), reason="needs the docker CLI's compose plugin")
def test_compose_accepts_the_cdi_request() -> None:
    """compose.cdi.yaml is valid Compose and asks for nvidia.com/gpu=all with driver cdi."""
    done = subprocess.run(
        [*docker.compose_command(["--profile", "cuda", "config", "--format", "json"],
                                 gpu=docker.GpuAccess(docker.CDI, "CDI"))],
        capture_output=True, text=True, check=False, timeout=60,
    )  # fmt: skip
    if done.returncode != 0 and "unknown" in done.stderr and "format" in done.stderr:
        pytest.skip("this compose has no `config --format json`")
    assert done.returncode == 0, done.stderr
    service = json.loads(done.stdout)["services"]["cuda"]
    (request,) = service["deploy"]["resources"]["reservations"]["devices"]
    assert request["driver"] == "cdi" and request["device_ids"] == ["nvidia.com/gpu=all"]


# -- nvidia-smi ------------------------------------------------------------------------------
def fake_smi(monkeypatch, returncode: int, recording: str):
    monkeypatch.setattr(docker.shutil, "which", lambda name: f"/usr/bin/{name}")
    out = (MACHINES / recording).read_text()

    def run(argv, **_):
        assert argv[0] == "nvidia-smi" and argv[1:] == docker.NVIDIA_SMI_QUERY
        return subprocess.CompletedProcess(argv, returncode, out if returncode == 0 else "", out)

    return run


def test_host_gpus_reads_nvidia_smi(monkeypatch) -> None:
    run = fake_smi(monkeypatch, 0, "nvidia-smi-h200-query.txt")
    assert docker.host_gpus(run) == ["NVIDIA H200, 580.159.04"]


def test_nvidia_smi_without_a_driver_is_no_gpu(monkeypatch) -> None:
    run = fake_smi(monkeypatch, 9, "nvidia-smi-no-driver.txt")
    assert docker.host_gpus(run) == []


def test_no_nvidia_smi_is_no_gpu(monkeypatch) -> None:
    monkeypatch.setattr(docker.shutil, "which", lambda name: None)
    assert docker.host_gpus() == []


# -- invoke doctor's row ---------------------------------------------------------------------
H200 = ["NVIDIA H200, 580.159.04"]


def test_doctor_gpu_unreachable_says_so_with_the_fix() -> None:
    row = doctor.gpu_row(None, H200, [])
    assert row.status == doctor.MISSING
    assert "GPU (NVIDIA H200, 580.159.04) that containers cannot reach" in row.detail
    assert row.detail.endswith("fix: sudo scripts/install-nvidia-toolkit.sh")
    assert "CPU only" not in row.detail


def test_doctor_names_a_cdi_spec_the_engine_does_not_read() -> None:
    row = doctor.gpu_row(None, H200 * 2, [Path("/etc/cdi/nvidia.yaml")])
    assert "/etc/cdi/nvidia.yaml names nvidia.com/gpu, but the engine reads no CDI" in row.detail
    assert "and 1 more" in row.detail and row.status == doctor.MISSING


def test_doctor_without_gpu_is_cpu_only_and_healthy() -> None:
    row = doctor.gpu_row(None, [], [])
    assert row.status == "no" and row.detail.startswith("CPU only")


def test_doctor_with_access_names_the_form(tmp_path) -> None:
    info = with_cdi(recorded("docker-info-ubuntu-cdi.json"), tmp_path, "nvidia.yaml")
    row = doctor.gpu_row(docker.gpu_access(info), H200, [])
    assert row.status == "yes" and row.detail.startswith("CDI (nvidia.com/gpu in ")


def test_doctor_table_has_the_gpu_row_from_the_machine(monkeypatch) -> None:
    monkeypatch.setattr(docker, "engine_version", lambda: "27.5.1")
    monkeypatch.setattr(docker, "plugin_version", lambda plugin: "2.30.0")
    monkeypatch.setattr(docker, "gpu_runtime", lambda: None)
    monkeypatch.setattr(docker, "host_gpus", lambda: H200)
    monkeypatch.setattr(docker, "cdi_gpu_specs", lambda: [])
    monkeypatch.setattr(docker, "image_labels", lambda image: {})
    monkeypatch.setattr(doctor, "image_or_error", lambda variant: None)
    # Nothing else asks the engine, or needs a docker CLI: the unit tests run without either.
    monkeypatch.setattr(docker, "engine_info", lambda: {})
    monkeypatch.setattr(docker, "engine_server", lambda: {})
    monkeypatch.setattr(docker, "probe", lambda image: None)
    monkeypatch.setattr(doctor, "class_lock", lambda: {})
    monkeypatch.setattr(doctor.identity, "engine_platform", lambda: "linux/amd64")
    (row,) = [r for r in doctor.rows() if r.item == "GPU in containers"]
    assert row.status == doctor.MISSING and "install-nvidia-toolkit.sh" in row.detail
