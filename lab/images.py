"""Build the base image and the CPython variants; skip what is built and current."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from collections.abc import Iterable
from pathlib import Path

from lab import docker, identity
from lab.config import ALL_VARIANTS, CPYTHON_DIR, IMAGES_DIR, Variant, dockerfile_pin
from lab.errors import LabError

INPUTS_LABEL = "org.lab.inputs"
# Where a proxy intercepts TLS, the host's trust store is what the build's pip needs:
# the first of these that names a file, else the system bundle, else nothing extra.
CA_ENV_VARS = ("LAB_EXTRA_CA", "SSL_CERT_FILE", "PIP_CERT", "REQUESTS_CA_BUNDLE")
SYSTEM_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")


def base_image() -> str:
    return dockerfile_pin("BASE_IMAGE")


def base_rootfs() -> str:
    """The base image's rootfs identity, which the images' fingerprints record."""
    facts = identity.inspect(base_image())
    return facts.rootfs if facts else "unknown"


def ensure_base() -> None:
    """Pull the pinned base image, or build one of the same name with debootstrap."""
    name = base_image()
    if docker.image_labels(name) is not None:
        return
    print(f"[base] pulling {name}", flush=True)
    try:
        pulled = subprocess.run(["docker", "pull", "-q", name], capture_output=True, timeout=300)
        if pulled.returncode == 0:
            return
    except subprocess.TimeoutExpired:
        pass
    print("[base] no registry answers: building it from a Debian mirror", flush=True)
    if os.geteuid() != 0 or not shutil.which("debootstrap"):
        raise LabError(
            f"{name} is not here and cannot be pulled: run `sudo invoke base` "
            "(needs debootstrap: scripts/install-docker.sh installs it)"
        )
    suite = name.split(":")[1].split("-")[0]
    script = IMAGES_DIR / "base" / "bootstrap.sh"
    if subprocess.run(["bash", str(script), name, suite]).returncode != 0:
        raise LabError(f"building {name} with debootstrap failed (see the lines above)")


def inputs_digest(optimize: bool, context: Path = CPYTHON_DIR) -> str:
    """A digest of everything a build reads: the context's files and the build switch."""
    digest = hashlib.sha256(f"optimize={optimize}".encode())
    for path in sorted(p for p in context.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(context)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def variant_digest(variant: Variant, optimize: bool) -> str:
    """The inputs digest of VARIANT's build; an image built FROM another one of ours also
    follows that image's ID, so rebuilding stock makes the CUDA image out of date."""
    digest = inputs_digest(optimize, variant.context)
    if variant.based_on:
        base = ALL_VARIANTS[variant.based_on].image
        digest = hashlib.sha256(f"{digest} {docker.image_id(base)}".encode()).hexdigest()[:16]
    return digest


def with_bases(variants: Iterable[Variant]) -> list[Variant]:
    """VARIANTS in build order, each preceded by the image it is built on (once)."""
    ordered: list[Variant] = []
    for variant in variants:
        chain = [variant]
        while chain[-1].based_on:
            chain.append(ALL_VARIANTS[chain[-1].based_on])
        ordered += [v for v in reversed(chain) if v not in ordered]
    return ordered


def is_current(variant: Variant, digest: str) -> bool:
    labels = docker.image_labels(variant.image)
    return labels is not None and labels.get(INPUTS_LABEL) == digest


def extra_ca() -> str:
    """The CA bundle handed to the build as a secret; /dev/null means none."""
    for name in CA_ENV_VARS:
        if os.environ.get(name) and Path(os.environ[name]).is_file():
            return os.environ[name]
    return str(SYSTEM_CA_BUNDLE) if SYSTEM_CA_BUNDLE.is_file() else "/dev/null"


def build(variants: Iterable[Variant], *, optimize: bool = False, force: bool = False) -> None:
    docker.require_engine()
    ensure_base()
    asked = list(variants)
    for variant in with_bases(asked):  # --force rebuilds what was asked, not its base
        digest = variant_digest(variant, optimize)  # after its base image is built
        if not (force and variant in asked) and is_current(variant, digest):
            print(f"[images] {variant.image} is current (inputs {digest}), skipping", flush=True)
            continue
        print(f"[images] building {variant.image} (inputs {digest})", flush=True)
        compose_build(variant, digest, optimize)


def compose_build(variant: Variant, digest: str, optimize: bool) -> None:
    """`docker compose build`, its output streamed; a failure becomes the build's own line."""
    env = docker.compose_env(
        {
            "LAB_OPTIMIZE": "yes" if optimize else "no",
            "LAB_INPUTS": digest,
            "LAB_EXTRA_CA": extra_ca(),
            "LAB_BASE_ROOTFS": base_rootfs(),
        }
    )
    command = docker.compose_command(["--progress", "plain", "build", variant.service])
    reason = None
    with subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    ) as process:
        for line in process.stdout or ():
            sys.stdout.write(line)
            if "lab-build-error:" in line and reason is None:
                reason = line.split("lab-build-error:", 1)[1].strip()
    if process.returncode != 0:
        raise LabError(f"building {variant.image} failed: {reason or 'see the output above'}")
