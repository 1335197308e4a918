"""The CUDA image (stations 5 and 6), asserted by starting it; and the cuda service's
CPU fallback on an engine without NVIDIA's runtime (like this machine's)."""

from __future__ import annotations

import re

import pytest

from lab.config import TORCH_DIR, Variant, dockerfile_pin
from lab.engine import docker
from lab.run import containers
from tests.cli import invoke
from tests.run_in_image import printed, python_in, run_in_image, unreadable

DOCKERFILE = TORCH_DIR / "Dockerfile"
TORCH_VERSION = dockerfile_pin("TORCH_VERSION", DOCKERFILE)


def locked(name: str, lock: str) -> str:
    match = re.search(rf"^{name}==(\S+)", (TORCH_DIR / lock).read_text(), re.MULTILINE)
    assert match, f"{name} is not pinned in {lock}"
    return match.group(1)


def test_torch_is_the_pinned_version(cuda: Variant) -> None:
    assert locked("torch", "requirements.txt") == TORCH_VERSION, "Dockerfile and lock agree"
    (version,) = printed(cuda.image, "import torch; print(torch.__version__)")
    assert version.split("+")[0] == TORCH_VERSION


def test_pytorch_tree_is_the_installed_torch(cuda: Variant) -> None:
    ran = python_in(
        cuda.image,
        "import torch; tree = open('/usr/src/pytorch/version.txt').read().strip();"
        "print(tree, torch.__version__)",
    )
    tree, installed = ran.stdout.split()
    # A release's version.txt reads 2.6.0a0; the wheel's version is set when it is built.
    assert tree.removesuffix("a0") == installed.split("+")[0]


def test_source_trees_are_there_and_readable(cuda: Variant) -> None:
    files = [
        "/usr/src/pytorch/torch/csrc/autograd/engine.cpp",
        "/usr/src/pytorch/c10/cuda/CUDAStream.cpp",
        "/usr/src/vllm/csrc/attention/paged_attention_v1.cu",
        "/usr/src/vllm/vllm/v1/core/kv_cache_manager.py",
        "/usr/src/packages/numpy/numpy/_core/src/multiarray/buffer.c",
        "/usr/src/cpython/Include/pybuffer.h",
    ]
    assert unreadable(cuda.image, files) == [], "each source tree is there for the lab user"
    pkg_info = run_in_image(cuda.image, ["grep", "-m1", "^Version:", "/usr/src/vllm/PKG-INFO"])
    assert pkg_info.stdout.split()[-1] == locked("vllm", "sources.txt")


def test_user_is_not_root(cuda: Variant) -> None:
    assert run_in_image(cuda.image, ["id", "-u"]).stdout.strip() != "0"


def test_fingerprint_says_cuda(cuda: Variant) -> None:
    ran = python_in(
        cuda.image,
        "import json; f = json.load(open('/etc/lab/fingerprint.json'));"
        "print(f['variant'], f['packages']['torch'])",
    )
    assert ran.stdout.split() == ["cuda", TORCH_VERSION]


def test_runs_on_the_cpu_without_a_gpu(cuda: Variant) -> None:
    # testcontainers asks for no GPU, so this is the CPU path on any host.
    cuda_available, grad_device = printed(
        cuda.image,
        "import torch; x = torch.randn(64, 64, requires_grad=True); (x @ x).sum().backward();"
        "print(torch.cuda.is_available(), x.grad.device)",
    )
    assert (cuda_available, grad_device) == ("False", "cpu")


def test_cpu_images_have_no_torch(any_variant: Variant) -> None:
    ran = python_in(any_variant.image, "import importlib.util as u; print(u.find_spec('torch'))")
    assert ran.stdout.strip() == "None", "the CPU images must not grow because of the CUDA image"


def test_cuda_service_falls_back_to_the_cpu(cuda: Variant) -> None:
    if docker.gpu_runtime():
        pytest.skip("this engine has NVIDIA's runtime: the cuda service gets the GPU here")
    assert "compose.gpu.yaml" not in " ".join(containers.run_command(cuda, ["true"]))
    result = invoke(
        "shell", "cuda", "--command", "python3 -c 'import torch; print(torch.cuda.is_available())'"
    )
    assert result.code == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == "False"
    said = [line for line in result.stderr.splitlines() if "runs on the CPU" in line]
    assert len(said) == 1, result.stderr


def test_gpu_request_only_where_the_engine_has_the_runtime(cuda: Variant, monkeypatch) -> None:
    monkeypatch.setattr(containers, "engine_gpu", lambda: docker.GpuAccess(docker.RUNTIME, "x"))
    assert "compose.gpu.yaml" in " ".join(containers.run_command(cuda, ["true"]))
    assert containers.device_note(cuda) is None
    monkeypatch.setattr(containers, "engine_gpu", lambda: None)
    assert "compose.gpu.yaml" not in " ".join(containers.run_command(cuda, ["true"]))
    assert "runs on the CPU" in containers.device_note(cuda)
