import re

import pytest

from lab.config import VARIANTS, dockerfile_pin, variant
from lab.errors import LabError


def test_every_pin_is_at_the_top_of_the_dockerfile() -> None:
    assert re.fullmatch(r"3\.13\.\d+", dockerfile_pin("PYTHON_VERSION"))
    assert re.fullmatch(r"[0-9a-f]{64}", dockerfile_pin("PYTHON_SHA256"))
    assert re.fullmatch(r"[0-9A-F]{40}", dockerfile_pin("PYTHON_GPG_FINGERPRINT"))
    assert re.fullmatch(r"debian:trixie-\d{8}-slim", dockerfile_pin("BASE_IMAGE"))


def test_missing_pin_is_one_clear_error(tmp_path) -> None:
    dockerfile = tmp_path / "Dockerfile"
    dockerfile.write_text("FROM scratch\n")
    with pytest.raises(LabError, match="no `ARG PYTHON_VERSION=` pin"):
        dockerfile_pin("PYTHON_VERSION", dockerfile)


def test_variants_and_their_images(monkeypatch) -> None:
    assert list(VARIANTS) == ["stock", "debug", "ft"]
    assert variant("ft").interpreter == "python3.13t"
    monkeypatch.setenv("LAB_IMAGE_REPO", "elsewhere")
    assert variant("debug").image == "elsewhere:debug"


def test_unknown_variant() -> None:
    with pytest.raises(LabError, match="unknown variant 'gil'"):
        variant("gil")


def test_another_platforms_images_take_their_own_tags(monkeypatch) -> None:
    # `invoke station --platform linux/arm64` runs the images `pull --platform` and
    # `images --platform` keep under their own tags; compose.yaml's names follow the same.
    from lab.config import ALL_VARIANTS, IMAGE_PLATFORM_VAR, platform_suffix

    assert platform_suffix("") == ""
    assert platform_suffix("linux/arm64") == "-linux-arm64"
    monkeypatch.setenv(IMAGE_PLATFORM_VAR, "linux/arm64")
    assert variant("stock").image == "lab-cpython:stock-linux-arm64"
    assert ALL_VARIANTS["cuda"].image == "lab-cuda:stock-linux-arm64"
