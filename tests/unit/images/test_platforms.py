"""Another architecture's images: the platform asked for, QEMU's registration, the base's
name, what a foreign build refuses, and the timing checks that skip under emulation."""

from __future__ import annotations

import pytest

from lab import doctor
from lab.classroom.lockfile import LockedImage
from lab.config import ALL_VARIANTS, TORCH_DIR
from lab.errors import LabError
from lab.images import builder, identity, platforms
from lab.run import stations
from lab.run.observations import Observation, Observations, load_checks, run_check


@pytest.mark.parametrize("asked", ["linux/arm64", "arm64", "aarch64", "linux/arm64/v8"])
def test_the_platform_is_read_as_docker_spells_it(asked: str) -> None:
    assert platforms.parse(asked) == "linux/arm64"


def test_an_architecture_the_lab_does_not_build_is_one_line() -> None:
    with pytest.raises(LabError, match="built for linux/amd64, linux/arm64"):
        platforms.parse("riscv64")


def binfmt(tmp_path, text: str | None):
    if text is not None:
        (tmp_path / "qemu-aarch64").write_text(text)
    return tmp_path


def test_emulation_must_be_registered_with_the_f_flag(tmp_path) -> None:
    fine = "enabled\ninterpreter /usr/libexec/qemu-binfmt/aarch64-binfmt-P\nflags: POCF\n"
    platforms.require_emulation("linux/arm64", binfmt(tmp_path, fine))
    with pytest.raises(LabError, match=r"install-docker\.sh --emulation"):
        platforms.require_emulation("linux/arm64", binfmt(tmp_path / "none", None))
    with pytest.raises(LabError, match="without the F flag"):
        platforms.require_emulation("linux/arm64", binfmt(tmp_path, "enabled\nflags: OC\n"))
    with pytest.raises(LabError, match="disabled"):
        platforms.require_emulation("linux/arm64", binfmt(tmp_path, "disabled\nflags: POCF\n"))


def test_an_image_of_another_architecture_is_emulated() -> None:
    assert platforms.emulation_note("linux/arm64", "linux/amd64") == (
        "a linux/arm64 image on a linux/amd64 engine, under emulation"
    )
    assert platforms.emulation_note("linux/arm64/v8", "linux/arm64") is None


@pytest.fixture
def amd64_engine(monkeypatch) -> None:
    monkeypatch.setattr(identity, "engine_platform", lambda: "linux/amd64")


def test_a_foreign_base_has_its_own_name(amd64_engine) -> None:
    assert builder.base_for(platforms.foreign("linux/amd64")) == builder.base_image()
    assert builder.base_for(platforms.foreign("arm64")) == f"{builder.base_image()}-arm64"


def test_the_platform_is_an_input_so_the_native_image_is_built_back() -> None:
    stock = ALL_VARIANTS["stock"]
    assert builder.variant_digest(stock, False, "linux/arm64") != builder.variant_digest(
        stock, False
    )


def test_each_image_is_built_from_its_own_platforms_start(amd64_engine) -> None:
    assert builder.from_image(ALL_VARIANTS["ft"], "linux/arm64") == f"{builder.base_image()}-arm64"
    assert builder.from_image(ALL_VARIANTS["cuda"], "linux/arm64") == "lab-cpython:stock"


def test_one_torch_lock_serves_both_architectures() -> None:
    """Pip skips what a marker rules out: x86-64 gets the CUDA libraries, arm64 torch alone."""
    lock = (TORCH_DIR / "requirements.txt").read_text()
    pins = [line for line in lock.splitlines() if "==" in line and not line.startswith(" ")]
    x86_only = [line.split("==")[0] for line in pins if "platform_machine == 'x86_64'" in line]
    assert "triton" in x86_only and all(line.startswith(("nvidia-", "triton")) for line in x86_only)
    assert any(line.startswith("torch==") and ";" not in line for line in pins)


def scaling_run(emulated: dict[str, str]) -> Observations:
    """A run whose pool did not scale (a fail natively) and whose primes are all right."""
    values = {"processes_speedup": 1.0, "processes_busy_cores": 1.0, "others_busy_cores": 0.0,
              "processes_seconds_at_cores": 0.3, "threads_single_s": 0.3, "cores": 2,
              "physical_cores": 2, "limit": 150_000,
              "prime_counts_by_mode": {"processes": [13_848], "threads": [13_848]}}  # fmt: skip
    records = [Observation("scaling", "stock", k, v) for k, v in values.items()]
    return Observations(records, emulated=emulated)


def test_under_emulation_timing_checks_skip_and_the_others_still_judge() -> None:
    checks = {c.__name__: c for c in load_checks(stations.find("3").checks_file)}
    timing, counting = (
        checks["check_processes_scale"],
        checks["check_every_mode_counts_the_right_primes"],
    )
    assert run_check(timing, scaling_run({})).status == "fail"
    note = platforms.emulation_note("linux/arm64", "linux/amd64")
    skipped = run_check(timing, scaling_run({"stock": note}))
    assert skipped.status == "skip" and "under emulation" in skipped.detail
    assert run_check(counting, scaling_run({"stock": note})).status == "pass"


def doctor_row(variant: str, platform: str, engine: str, packages: dict | None = None) -> str:
    """What doctor says of an image of VARIANT built for PLATFORM, on an ENGINE."""
    fingerprint = {"digest": "f" * 16, "Py_GIL_DISABLED": False, "Py_DEBUG": False,
                   "python": "3.13.5", "packages": packages or {}}  # fmt: skip
    image = LockedImage(variant, ALL_VARIANTS[variant].image, platform, "sha256:" + "0" * 64,
                        fingerprint)  # fmt: skip
    return doctor.image_row(ALL_VARIANTS[variant], image, engine).detail


def test_doctor_says_which_images_this_engine_emulates() -> None:
    assert "emulated on this engine" in doctor_row("stock", "linux/arm64", "linux/amd64")
    assert "emulated" not in doctor_row("stock", "linux/arm64", "linux/arm64")


def test_doctor_says_when_torch_is_a_cpu_build() -> None:
    # arm64: the lock's markers leave the nvidia-* out; torch is recorded as plain 2.6.0.
    arm64 = doctor_row("cuda", "linux/arm64", "linux/arm64", {"torch": "2.6.0"})
    assert "a CPU build" in arm64
    x86 = {"torch": "2.6.0", "nvidia-cuda-runtime-cu12": "12.4.127"}
    assert "a CPU build" not in doctor_row("cuda", "linux/amd64", "linux/amd64", x86)
    debian = {"torch": "2.6.0+debian"}  # the CPU image: a CPU build by design, not a surprise
    assert "a CPU build" not in doctor_row("torch-cpu", "linux/amd64", "linux/amd64", debian)


def test_another_platforms_image_keeps_its_own_tag(monkeypatch) -> None:
    """On the classic store one name holds one platform: the native image keeps the lab's
    name, another platform's is tagged beside it (publish --platforms, pull --platform)."""
    assert platforms.local_tag("lab-cpython:ft", "linux/arm64", "linux/arm64") == "lab-cpython:ft"
    assert platforms.local_tag("lab-cpython:ft", "linux/arm64/v8", "linux/arm64") == (
        "lab-cpython:ft"
    )
    tag = platforms.local_tag("lab-cpython:ft", "linux/arm64", "linux/amd64")
    assert tag == "lab-cpython:ft-linux-arm64"
    calls = []
    monkeypatch.setattr(platforms.identity, "engine_platform", lambda: "linux/amd64")
    monkeypatch.setattr(platforms.docker, "docker", lambda args, **kw: calls.append(args))
    platforms.keep_under_own_tags(["lab-cpython:ft"], "linux/arm64")
    assert calls == [["tag", "--", "lab-cpython:ft", tag]]


def test_a_station_on_another_platform_runs_that_platforms_own_tags(
    amd64_engine, monkeypatch
) -> None:
    from lab.config import IMAGE_PLATFORM_VAR, variant

    monkeypatch.setenv(IMAGE_PLATFORM_VAR, "")  # put back as it was after the test
    emulation: list[str] = []
    monkeypatch.setattr(platforms, "require_emulation", emulation.append)
    assert platforms.run_images_of(None) is None
    assert platforms.run_images_of("amd64") == "linux/amd64"
    assert variant("stock").image == "lab-cpython:stock", "the engine's own: the plain names"
    assert emulation == []
    assert platforms.run_images_of("aarch64") == "linux/arm64"
    assert emulation == ["linux/arm64"], "only where QEMU runs it"
    assert variant("stock").image == "lab-cpython:stock-linux-arm64"
    with pytest.raises(LabError, match="--platform riscv64"):
        platforms.run_images_of("riscv64")
