"""Build the base image and the CPython variants; skip what is built and current."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import time
from collections.abc import Iterable
from contextlib import nullcontext
from pathlib import Path

from lab import progress, untrusted
from lab.config import (
    ALL_VARIANTS,
    CPYTHON_DIR,
    IMAGES_DIR,
    TORCH,
    TORCH_IMAGES,
    Variant,
    dockerfile_pin,
)
from lab.config import variant as lookup_variant
from lab.engine import docker
from lab.engine import labels as lab_labels
from lab.errors import LabError
from lab.images import build_progress, identity, platforms

# Where a proxy intercepts TLS, the host's trust store is what the build's pip needs:
# the first of these that names a file, else the system bundle, else nothing extra.
CA_ENV_VARS = ("LAB_EXTRA_CA", "SSL_CERT_FILE", "PIP_CERT", "REQUESTS_CA_BUNDLE")
SYSTEM_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
# A cross build of a CPython variant runs this machine's own image of the same recipe as its
# build python (byte-code, frozen modules): the default build for stock and debug (whose
# byte-code is the same), the free-threaded one for ft (whose byte-code differs). The
# Dockerfile's build-python-VARIANT stages choose the same (BUILD_PYTHON_GIL, _FT).
BUILD_PYTHON = {"stock": "stock", "debug": "stock", "ft": "ft"}


def base_image() -> str:
    return dockerfile_pin("BASE_IMAGE")


def base_for(foreign: str = "") -> str:
    """The base image's local name: the pinned tag, with the architecture appended for a
    FOREIGN platform (platforms.foreign; the engine's image store holds one image a name)."""
    return f"{base_image()}-{platforms.architecture(foreign)}" if foreign else base_image()


def base_rootfs(foreign: str = "") -> str:
    """The base image's rootfs identity, which the images' fingerprints record."""
    facts = identity.inspect(base_for(foreign))
    return facts.rootfs if facts else "unknown"


def ensure_base(foreign: str = "") -> None:
    """Pull the pinned base image, or build one of the same name with debootstrap; a
    FOREIGN platform's is always debootstrapped, for its architecture."""
    name = base_for(foreign)
    if docker.image_labels(name) is not None:
        return
    if not foreign and pulled(name):
        return
    print("[base] building it from a Debian mirror with debootstrap", flush=True)
    if os.geteuid() != 0 or not shutil.which("debootstrap"):
        platform = f" --platform {foreign}" if foreign else ""
        raise LabError(
            f"{name} is not here and cannot be pulled: run `sudo invoke base{platform}`"
            " (needs debootstrap: scripts/install-docker.sh installs it)"
        )
    suite = base_image().split(":")[1].split("-")[0]
    script = IMAGES_DIR / "base" / "bootstrap.sh"
    arch = [platforms.architecture(foreign)] if foreign else []
    if subprocess.run(["bash", str(script), name, suite, *arch]).returncode != 0:
        raise LabError(f"building {name} with debootstrap failed (see the lines above)")


def pulled(name: str) -> bool:
    print(f"[base] pulling {name}", flush=True)
    try:
        docker.docker(["pull", "-q", name], timeout=300)
    except LabError:  # no registry, or none in time: debootstrap makes it instead
        print("[base] no registry answers", flush=True)
        return False
    return True


def inputs_digest(optimize: bool, context: Path = CPYTHON_DIR, platform: str = "") -> str:
    """A digest of everything a build reads: the context's files, the build switch and, for
    a foreign platform, the platform (so that `invoke images` builds the native one back)."""
    digest = hashlib.sha256(f"optimize={optimize}".encode() + platform.encode())
    for path in sorted(p for p in context.rglob("*") if p.is_file()):
        digest.update(str(path.relative_to(context)).encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()[:16]


def variant_digest(variant: Variant, optimize: bool, foreign: str = "") -> str:
    """The inputs digest of VARIANT's build (FOREIGN: the platform, where not the engine's);
    an image built FROM another one of ours also follows that image's ID, so rebuilding
    stock makes the CUDA image out of date."""
    digest = inputs_digest(optimize, variant.context, foreign)
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


def torch_images(gpu: bool) -> list[Variant]:
    """The PyTorch images, the one that suits the machine first: the CUDA build where the
    engine can give a container an NVIDIA GPU (GPU), Debian's CPU build elsewhere."""
    return [ALL_VARIANTS[name] for name in (TORCH_IMAGES if gpu else TORCH_IMAGES[::-1])]


def torch_image(built_only: bool = False) -> Variant:
    """The PyTorch image for this machine (torch_images). BUILT_ONLY (a station's run):
    where only the other one is built, that one; a run uses what the machine has."""
    order = torch_images(docker.gpu_runtime() is not None)
    if built_only:
        for variant in order:
            if docker.image_labels(variant.image) is not None:
                return variant
    return order[0]


def named(name: str, built_only: bool = False) -> Variant:
    """The image NAME stands for: a variant, or (TORCH) this machine's PyTorch image."""
    return torch_image(built_only) if name == TORCH else lookup_variant(name)


def is_current(variant: Variant, digest: str) -> bool:
    labels = docker.image_labels(variant.image)
    return labels is not None and labels.get(lab_labels.INPUTS) == digest


def extra_ca() -> str:
    """The CA bundle handed to the build as a secret; /dev/null means none."""
    for name in CA_ENV_VARS:
        if os.environ.get(name) and Path(os.environ[name]).is_file():
            return os.environ[name]
    return str(SYSTEM_CA_BUNDLE) if SYSTEM_CA_BUNDLE.is_file() else "/dev/null"


def build(
    variants: Iterable[Variant],
    *,
    optimize: bool = False,
    force: bool = False,
    platform: str | None = None,
) -> None:
    """Build VARIANTS (and the images they are built on) that are missing or out of date;
    PLATFORM (`linux/arm64`) builds them for another architecture under emulation."""
    docker.require_engine()
    foreign = platforms.foreign(platform)
    asked = list(variants)
    if foreign:
        platforms.require_emulation(foreign)
    build_pythons = own_build_pythons(with_bases(asked)) if foreign else {}
    ensure_base(foreign)
    with platforms.serving() if foreign else nullcontext() as serve:
        for batch in batches(with_bases(asked), together=bool(foreign)):
            digest = variant_digest(batch[0], optimize, foreign)  # after its base is built
            # --force rebuilds what was asked, not its base
            due = [v for v in batch if (force and v in asked) or not is_current(v, digest)]
            for variant in batch:
                said = f"building {variant.image} (inputs {digest})"
                if variant not in due:
                    said = f"{variant.image} is current (inputs {digest}), skipping"
                print(f"[images] {said}", flush=True)
            if due:
                start = serve(from_image(due[0], foreign)) if serve else None
                compose_build(due, digest, optimize, foreign, start, build_pythons)
    if foreign:
        platforms.keep_under_own_tags([v.image for v in with_bases(asked)], foreign)
        names = ", ".join(v.image for v in with_bases(asked))
        print(
            f"[images] {names}: {foreign} images, which this engine runs under emulation;"
            " `invoke images` builds this machine's own back",
            flush=True,
        )


def batches(variants: list[Variant], together: bool) -> list[list[Variant]]:
    """VARIANTS (in build order) as builds: one each; or, TOGETHER (a foreign platform's), the
    images of the same recipe and start in one, which BuildKit runs side by side (one's
    emulated steps beside another's cross compile, their shared stages once)."""
    if not together:
        return [[variant] for variant in variants]
    groups: dict[object, list[Variant]] = {}
    for variant in variants:  # one built on another of ours waits for it: alone
        groups.setdefault(variant.name if variant.based_on else variant.context, []).append(variant)
    return list(groups.values())


def own_build_pythons(variants: list[Variant]) -> dict[str, str]:
    """For a cross build of VARIANTS: the images whose interpreters it runs (BUILD_PYTHON's),
    {"stock": ..., "ft": ...}, this machine's own current images, by its platform's own tags
    (`lab-cpython:stock-linux-amd64`), which a foreign build under compose.yaml's names
    leaves alone. Built here first where there are none."""
    engine = identity.engine_platform()
    needed = sorted({BUILD_PYTHON[v.name] for v in variants if v.name in BUILD_PYTHON})
    chosen: dict[str, str] = {}
    for own in (ALL_VARIANTS[name] for name in needed):
        tag = platforms.platform_tag(own.image, engine)
        # today's recipe, with or without PGO: either interpreter compiles the same byte-code
        current = {variant_digest(own, optimize) for optimize in (False, True)}
        if not any(is_own_and_current(name, current, engine) for name in (tag, own.image)):
            print(f"[images] {own.image}: this machine's own, for the cross build", flush=True)
            build([own])
        if not is_own_and_current(tag, current, engine):
            docker.docker(["tag", "--", own.image, tag])
        chosen[own.name] = tag
    return chosen


def is_own_and_current(name: str, digests: set[str], engine: str) -> bool:
    """Whether NAME is an image for ENGINE's platform built from inputs of one of DIGESTS."""
    facts = identity.inspect(name)
    if facts is None or not identity.runs_on(facts.platform, engine):
        return False
    labels = docker.image_labels(name) or {}
    return labels.get(lab_labels.INPUTS) in digests


def from_image(variant: Variant, foreign: str) -> str:
    """The local image VARIANT's Dockerfile starts FROM: the base, or one of ours."""
    return ALL_VARIANTS[variant.based_on].image if variant.based_on else base_for(foreign)


def compose_build(
    variants: list[Variant],
    digest: str,
    optimize: bool,
    foreign: str = "",
    start: str | None = None,
    build_pythons: dict[str, str] | None = None,
) -> None:
    """`docker compose build` of VARIANTS (of one recipe), its output streamed; a failure
    becomes the build's own line. For a FOREIGN platform, START names the image they are
    built FROM as the build reaches it, and BUILD_PYTHONS (own_build_pythons) this machine's
    images whose interpreters the cross build runs."""
    settings = {
        "LAB_OPTIMIZE": "yes" if optimize else "no",
        "LAB_INPUTS": digest,
        "LAB_EXTRA_CA": extra_ca(),
        "LAB_BASE_ROOTFS": base_rootfs(foreign),
    }
    from_arg = variants[0].from_arg
    if foreign:  # CPython cross-compiled on this machine (the Dockerfile's CPYTHON_BUILD)
        build_pythons = build_pythons or {}
        settings |= {
            "DOCKER_DEFAULT_PLATFORM": foreign,
            from_arg: start or "",
            "LAB_CPYTHON_BUILD": "cross",
            "LAB_BUILD_PYTHON_GIL": build_pythons.get("stock", ""),
            "LAB_BUILD_PYTHON_FT": build_pythons.get("ft", ""),
        }
    env = docker.compose_env(settings) | {"LAB_TAG_SUFFIX": ""}  # compose.yaml's own names
    if not foreign:  # the engine's own platform and the pinned FROM, whatever the shell says
        cross = ("LAB_CPYTHON_BUILD", "LAB_BUILD_PYTHON_GIL", "LAB_BUILD_PYTHON_FT")
        for name in ("DOCKER_DEFAULT_PLATFORM", from_arg, *cross):
            env.pop(name, None)
    services = [variant.service for variant in variants]
    command = docker.compose_command(["--progress", "plain", "build", *services])
    run_build(command, env, together_name(variants), digest)


def together_name(variants: list[Variant]) -> str:
    """The name a build of VARIANTS goes by (its log, its time): `lab-cpython:stock`, or
    `lab-cpython:stock+debug+ft` for several."""
    repo = variants[0].image.split(":")[0]
    return f"{repo}:{'+'.join(v.image.split(':')[1] for v in variants)}"


def run_build(command: list[str], env: dict[str, str], image: str, digest: str) -> None:
    """Run a BuildKit build (COMMAND, printing `--progress plain`), showing its steps done,
    time so far and an estimate from the last build; its whole log kept in a file, whose
    last lines are shown when a step fails."""
    log_file = build_progress.log_path(image)
    log_file.parent.mkdir(parents=True, exist_ok=True)
    print(f"[images] BuildKit's log: {log_file}", flush=True)
    last = build_progress.last_build(image, digest)
    work = progress.Work(image, "steps")
    if last is not None:  # what the last build took, and how many steps it had
        work.estimate, work.total = last.estimate, last.steps or None
    started = time.monotonic()
    with (
        open(log_file, "w") as log,
        progress.Progress(work, prefix="images") as shown,
        subprocess.Popen(
            command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        ) as process,
    ):
        steps = build_progress.watch(process.stdout or (), log, shown, last.steps if last else 0)
        process.wait()
        if process.returncode != 0:
            failed = "a step" if steps.failed is None else steps.names.get(steps.failed, "a step")
            shown.finish(f"failed at {failed}")
    if process.returncode != 0:
        show_tail(log_file)
        reason = steps.reason or f"see the log's last lines above, or all of it in {log_file}"
        raise LabError(f"building {image} failed: {reason}")
    if steps.ran:  # a build all from BuildKit's cache tells nothing of the next one's time
        build_progress.record(image, digest, time.monotonic() - started, len(steps.names))


def show_tail(log_file: Path) -> None:
    """The last lines of a failed build's log, and where the whole of it is."""
    lines = build_progress.tail(log_file)
    print(f"[images] the last {len(lines)} lines of BuildKit's log:", flush=True)
    for line in lines:
        print(f"  {untrusted.text(line)}", flush=True)
    print(f"[images] the whole log: {log_file}", flush=True)
