"""The CPU PyTorch image (stations 5 and 6 where no NVIDIA GPU is reachable), asserted by
starting it; and which PyTorch image a station runs in."""

from __future__ import annotations

import pytest

from lab.config import ALL_VARIANTS, TORCH_DIR, Variant, dockerfile_pin
from lab.engine import docker
from lab.images import builder
from tests.cli import assert_one_clear_line, invoke
from tests.run_in_image import printed, python_in, run_in_image, unreadable

DOCKERFILE = TORCH_DIR / "Dockerfile"
TORCH_VERSION = dockerfile_pin("TORCH_VERSION", DOCKERFILE)
DEBIAN_TORCH_VERSION = dockerfile_pin("DEBIAN_TORCH_VERSION", DOCKERFILE)


def test_torch_is_debians_package_of_the_pinned_version(torch_cpu: Variant) -> None:
    assert DEBIAN_TORCH_VERSION.startswith(f"{TORCH_VERSION}+"), "the two pins agree"
    packages = ("python3-torch", "libtorch2.6", "libopenblas0-openmp")
    ran = run_in_image(
        torch_cpu.image, ["dpkg-query", "-W", "-f", "${Package} ${Version}\n", *packages]
    )
    openblas = dockerfile_pin("DEBIAN_OPENBLAS_VERSION", DOCKERFILE)
    pins = (DEBIAN_TORCH_VERSION, DEBIAN_TORCH_VERSION, openblas)
    assert sorted(ran.stdout.splitlines()) == sorted(
        map(" ".join, zip(packages, pins, strict=True))
    )


def test_the_labs_interpreter_imports_it(torch_cpu: Variant) -> None:
    """`python3` is the lab's verified build, with the lab's hashed NumPy, not Debian's."""
    executable, numpy_file, version, cuda = printed(
        torch_cpu.image,
        "import sys, numpy, torch; print(sys.executable, numpy.__file__, torch.__version__,"
        " torch.cuda.is_available())",
    )
    assert executable == "/usr/local/bin/python3"
    assert numpy_file.startswith("/usr/local/lib/python3.13/site-packages/")
    assert version.split("+")[0] == TORCH_VERSION and cuda == "False"


def test_autograd_and_numpy_share_memory(torch_cpu: Variant) -> None:
    ran = python_in(
        torch_cpu.image,
        "import numpy as np, torch; a = np.arange(6.0); t = torch.from_numpy(a); t[0] = 9;"
        "x = torch.ones(3, requires_grad=True); (x * x).sum().backward();"
        "print(a[0], x.grad.tolist())",
    )
    assert ran.exit_code == 0, ran.stderr
    assert ran.stdout.strip().split(maxsplit=1) == ["9.0", "[2.0, 2.0, 2.0]"]


def test_source_trees_are_there_and_readable(torch_cpu: Variant) -> None:
    files = [
        "/usr/src/pytorch/torch/csrc/autograd/engine.cpp",
        "/usr/src/pytorch/c10/cuda/CUDAStream.cpp",
        "/usr/src/vllm/vllm/v1/core/kv_cache_manager.py",
        "/usr/src/packages/numpy/numpy/_core/src/multiarray/buffer.c",
    ]
    assert unreadable(torch_cpu.image, files) == [], "each source tree is there for the lab user"


def test_user_is_not_root_and_fingerprint_says_so(torch_cpu: Variant) -> None:
    assert run_in_image(torch_cpu.image, ["id", "-u"]).stdout.strip() != "0"
    ran = python_in(
        torch_cpu.image,
        "import json; print(json.load(open('/etc/lab/fingerprint.json'))['variant'])",
    )
    assert ran.stdout.strip() == "torch-cpu"


def test_what_is_left_unpacked_is_needed_by_nothing_torch_loads(torch_cpu: Variant) -> None:
    """The AMD GPU stack and the C++ tests are not there; every library torch and its
    Python module link against is, and BLAS is OpenBLAS, not the reference BLAS."""
    libs = "/usr/lib/*"  # the architecture's triplet
    script = (
        f"ls {libs}/libLLVM-17.so* {libs}/libamdhip64.so* /usr/lib/libtorch-test/* 2>/dev/null"
        f" | wc -l; ldd {libs}/libtorch_cpu.so.* /usr/lib/python3/dist-packages/torch/_C.*.so"
        f" | grep -c 'not found'; readlink -f {libs}/libblas.so.3"
    )
    ran = run_in_image(torch_cpu.image, ["bash", "-c", script])
    left_out, missing, blas = ran.stdout.split()
    assert (left_out, missing) == ("0", "0"), ran.stdout
    assert "openblas" in blas


def test_no_nvidia_libraries(torch_cpu: Variant) -> None:
    ran = run_in_image(
        torch_cpu.image, ["bash", "-c", "ls /usr/local/lib/python3.13/site-packages"]
    )
    assert "nvidia" not in ran.stdout, "the CPU image carries none of the CUDA build's libraries"


def test_the_machines_choice(engine: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """CUDA where the engine gives containers a GPU, the CPU build elsewhere; a run falls
    back to the one that is built."""
    gpu = docker.GpuAccess(docker.RUNTIME, "nvidia runtime")
    built = {"cuda"}
    monkeypatch.setattr(docker, "image_labels", lambda image: {} if any(
        ALL_VARIANTS[n].image == image for n in built) else None)  # fmt: skip
    monkeypatch.setattr(docker, "gpu_runtime", lambda: gpu)
    assert builder.torch_image().name == "cuda"
    monkeypatch.setattr(docker, "gpu_runtime", lambda: None)
    assert builder.torch_image().name == "torch-cpu"
    assert builder.torch_image(built_only=True).name == "cuda", "the one this machine has"
    built.add("torch-cpu")
    assert builder.torch_image(built_only=True).name == "torch-cpu"


def test_station_without_a_pytorch_image_is_one_line(engine: str, tmp_path) -> None:
    result = invoke(
        "station", "6", env={"LAB_IMAGE_REPO": "lab-not-built", "LAB_RESULTS": str(tmp_path)}
    )
    wanted = builder.torch_image().name  # what this machine would build
    assert_one_clear_line(result, "is not built", f"invoke images --variant {wanted}")
    assert not list(tmp_path.iterdir())
