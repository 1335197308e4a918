"""`invoke doctor`: what this machine has for the lab, and the command that fixes each gap;
`--json` for the facts, `--compare FILE` for every difference from another machine."""

from __future__ import annotations

import json
import os
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from lab.classroom import facts, lockfile
from lab.classroom.lockfile import LockedImage
from lab.config import ALL_VARIANTS, OPTIONAL_VARIANTS, Variant
from lab.engine import docker
from lab.errors import LabError
from lab.images import builder, identity, platforms
from lab.table import render
from lab.untrusted import text

OK, MISSING, BROKEN = "ok", "MISSING", "BROKEN"
# Statuses that are no fault of the machine, so doctor stays green: an image built only on
# request (the CUDA image), the base image (only `invoke images` builds from it), an image
# other than lab.lock's (the stations run; `invoke pull` makes it the class's), an image
# not checked because the engine cannot start containers (the engine row says so), what
# only `invoke shell` needs (Podman's catatonit), an image the class's lab.lock leaves out
# (a class fetches its images: the stations skip that one's experiments), and a note.
NOT_BUILT, NOT_HERE, DIFFERS, UNCHECKED = "not built", "not here", "differs", "unchecked"
NOT_LOCKED, NOTE = "not locked", "note"
NOT_LOCKED_DETAIL = "not in the class's lab.lock: the class does not use it, stations skip it"
PULL_FIX = "fix: invoke pull (or invoke load BUNDLE)"


@dataclass
class Row:
    item: str
    status: str
    detail: str

    @property
    def cells(self) -> tuple[str, str, str]:
        return (self.item, self.status, self.detail)


Found = LockedImage | LabError | None  # an image's facts, its error, or not built


def image_or_error(variant: Variant) -> Found:
    """One image's facts; an error stays in its own row instead of ending the table."""
    try:
        return facts.local_image(variant)
    except LabError as error:
        return error


def shown(value: object) -> str:
    """A value an image printed, as one short printable line."""
    return text(str(value), 80)


def class_lock(path: Path = lockfile.LOCK_FILE) -> dict[str, LockedImage] | LabError:
    """The images the class's lab.lock names ({} where there is none): with one, the images
    are fetched (`invoke pull`), never compiled; a broken lock is its own row."""
    if not os.path.lexists(path):
        return {}
    try:
        return lockfile.read(path)
    except LabError as error:
        return error


def missing_fix(variant: Variant, locked: dict[str, LockedImage]) -> str:
    return PULL_FIX if variant.name in locked else f"fix: invoke images --variant {variant.name}"


def image_row(
    variant: Variant,
    found: LockedImage | LabError | None,
    engine_platform: str = "",
    locked: dict[str, LockedImage] | None = None,
) -> Row:
    locked = locked or {}
    if isinstance(found, LabError):
        fix = f"invoke images --force --variant {variant.name}"
        if variant.name in locked:  # pull keeps an image with the locked rootfs: remove it
            fix = f"docker rmi {variant.image}, then invoke pull"
        return Row(variant.image, BROKEN, f"{found} (fix: {fix})")
    if found is None:
        if locked and variant.name not in locked:
            return Row(variant.image, NOT_LOCKED, NOT_LOCKED_DETAIL)
        status = NOT_BUILT if variant.name in OPTIONAL_VARIANTS else MISSING
        return Row(variant.image, status, missing_fix(variant, locked))
    row = Row(variant.image, OK, image_detail(variant, found, engine_platform))
    mine = locked.get(variant.name)
    if mine is not None and mine.rootfs != found.rootfs:
        row.status = DIFFERS
        rootfs = docker.short_id(mine.rootfs)
        row.detail = f"not lab.lock's (rootfs {rootfs}): {PULL_FIX}  " + row.detail
    return row


def image_detail(variant: Variant, found: LockedImage, engine_platform: str) -> str:
    fp = found.fingerprint  # what the image printed, checked (facts.fingerprint): shown as text
    packages = fp["packages"] if isinstance(fp.get("packages"), dict) else {}
    gil = "no GIL" if fp.get("Py_GIL_DISABLED") else "GIL"
    debug = ", Py_DEBUG" if fp.get("Py_DEBUG") else ""
    rootfs = docker.short_id(found.rootfs)
    detail = f"fingerprint {shown(fp.get('digest'))}  rootfs {rootfs}  Python "
    detail += f"{shown(fp.get('python'))} ({gil}{debug}) {found.platform}"
    if platforms.emulation_note(found.platform, engine_platform):
        detail += " (emulated on this engine; `invoke images` builds this machine's own)"
    if "torch" in packages:
        detail += f"  torch {shown(packages['torch'])}"
        # The lock's CUDA libraries are x86-64's only: on arm64 torch's wheel is a CPU build.
        cuda_libraries = any(name.startswith("nvidia-cuda-runtime") for name in packages)
        if variant.gpu and not cuda_libraries:
            detail += " (a CPU build: the lock has no CUDA libraries for this architecture)"
    if variant.left_out:
        left_out = (f"{name}: {why}" for name, why in variant.left_out.items())
        detail += "  left out: " + "; ".join(left_out)
    return detail


GPU_FIX = "fix: sudo scripts/install-nvidia-toolkit.sh"


def gpu_row(access: docker.GpuAccess | None, gpus: list[str], specs: list[Path]) -> Row:
    """Whether containers get a GPU; where the machine has one they cannot reach, exactly
    that and the command that gives it to them (not "CPU only")."""
    if access:
        return Row("GPU in containers", "yes", str(access))
    if not gpus:
        return Row("GPU in containers", "no", "CPU only (no NVIDIA GPU answers nvidia-smi)")
    why = "no nvidia runtime in `docker info` and no CDI spec naming nvidia.com/gpu"
    if specs:
        why = f"{specs[0]} names nvidia.com/gpu, but the engine reads no CDI specs"
    gpu = gpus[0] + (f" and {len(gpus) - 1} more" if len(gpus) > 1 else "")
    detail = f"this machine has a GPU ({gpu}) that containers cannot reach: {why}; {GPU_FIX}"
    return Row("GPU in containers", MISSING, detail)


def torch_row(gpu: bool, built: set[str], locked: dict[str, LockedImage] | None = None) -> Row:
    """The PyTorch image stations 5 and 6 run in here: builder.torch_image's choice, told;
    with a class lock, the one it names is fetched, and none is compiled."""
    wanted, other = builder.torch_images(gpu)
    why = "an NVIDIA GPU is reachable" if gpu else "no NVIDIA GPU is reachable"
    if wanted.name in built:
        return Row("PyTorch image", OK, f"stations 5 and 6 run in {wanted.image}: {why}")
    if other.name in built:
        detail = f"stations 5 and 6 run in {other.image}, the one built ({why}: "
        return Row("PyTorch image", OK, detail + f"{wanted.image} would suit this machine)")
    if locked and not {wanted.name, other.name} & set(locked):
        return Row("PyTorch image", NOT_LOCKED, f"none here; {NOT_LOCKED_DETAIL}")
    fix = f"fix: invoke images --variant torch (builds {wanted.image})"
    return Row("PyTorch image", NOT_BUILT, f"none built; {why}: {PULL_FIX if locked else fix}")


def base_row(base: str, here: bool) -> Row:
    """The base image: no station runs it, so its absence fails nothing."""
    if here:
        return Row(base, OK, "base image (only `invoke images` builds from it)")
    return Row(
        base, NOT_HERE, "needed only to build images (`invoke images`): fix then: invoke base"
    )


def catatonit_row(kind: str, local: bool, present: bool) -> Row | None:
    """Podman runs compose's `init: true` (compose.shell.yaml, `invoke shell`) with its
    catatonit, which Debian packages apart; a station needs no init, so it fails nothing."""
    if "Podman" not in kind or not local or present:
        return None
    detail = "`invoke shell` (init: true) needs Podman's init: fix: sudo apt-get install catatonit"
    return Row("catatonit", NOT_HERE, detail)


def podman_service_row(kind: str, local: bool, argvs: list[list[str]]) -> Row | None:
    """A local Podman whose API service leaves after some seconds idle (no --time=0): the
    next lab command would find no engine. Socket activation (podman.socket) comes back."""
    if "Podman" not in kind or not local:
        return None
    idle = [s for s in map(docker.idle_seconds, argvs) if s]
    if not idle:
        return None
    detail = (
        f"`podman system service` leaves after {idle[0]} s idle: fix: start it with "
        "--time=0, or `systemctl enable --now podman.socket`"
    )
    return Row("Podman service", NOTE, detail)


def engine_fault(
    errors: list[str], probe: str | None, independent: bool, alike: bool
) -> str | None:
    """The engine's own fault behind images that would not start, or None (the images').

    The engine's, where a container from an image that is fine (INDEPENDENT: the base
    image, or one that passed) cannot start either; where an error names the engine's
    runtime, cgroups or API (the PROBE's first: run detached, it says why a container did
    not start where an attached run says only "409"); or where every image failed, and
    failed ALIKE.
    """
    if probe and (independent or docker.names_the_engine(probe)):
        return probe
    named = [error for error in errors if docker.names_the_engine(error)]
    if named:
        return named[0]
    return errors[0] if len(errors) > 1 and alike else None


def probe_of(base: str | None, found: list[tuple[Variant, Found]]) -> tuple[str | None, bool]:
    """(a probe's error or None, whether its image is independent of the failing ones)."""
    fine = [v.image for v, f in found if isinstance(f, LockedImage)]
    failing = [v.image for v, f in found if isinstance(f, LabError)]
    image = base or (fine or failing)[0]
    return docker.probe(image), image not in failing


def engine_rows(version: str | None, kind: str) -> list[Row]:
    if version is None:
        table = [Row("engine", MISSING, f"fix: {shown_line(docker.engine_fix())}")]
    else:
        table = [Row("engine", OK, f"{version} ({kind})")]
    for plugin in ("compose", "buildx"):
        found = docker.plugin_version(plugin)
        fix = "fix: scripts/install-docker.sh"
        table.append(Row(f"docker {plugin}", OK if found else MISSING, found or fix))
    return table


def shown_line(value: str) -> str:
    """A line holding what the environment said (DOCKER_HOST): printable, not cut short."""
    return text(value, 600)


def rows() -> list[Row]:
    version = docker.engine_version()
    info = docker.engine_info() if version else {}
    kind = docker.engine_kind(docker.engine_server(), info) if version else ""
    table = engine_rows(version, kind)
    if version is None:
        return table
    access = docker.gpu_runtime()
    table.append(gpu_row(access, docker.host_gpus(), docker.cdi_gpu_specs()))
    local = docker.engine_is_local()
    notes = [
        catatonit_row(kind, local, docker.has_catatonit()),
        podman_service_row(kind, local, docker.podman_services() if "Podman" in kind else []),
    ]
    table += [row for row in notes if row]
    base = builder.base_image()
    base_here = docker.image_labels(base) is not None
    table.append(base_row(base, base_here))
    locked = class_lock()
    if isinstance(locked, LabError):
        table.append(Row("lab.lock", BROKEN, str(locked)))
        locked = {}
    table += image_rows(table[0], base if base_here else None, locked, gpu=access is not None)
    return table


def image_rows(
    engine: Row, base: str | None, locked: dict[str, LockedImage], *, gpu: bool
) -> list[Row]:
    """A row an image, and which PyTorch image suits this machine (GPU: containers get
    one); where the engine, not the images, cannot start containers, ENGINE says so and
    the images are left unchecked."""
    variants = list(ALL_VARIANTS.values())
    with ThreadPoolExecutor() as pool:  # one container start per image, run side by side
        found = list(zip(variants, pool.map(image_or_error, variants), strict=True))
    failed = [(v, f) for v, f in found if isinstance(f, LabError)]
    errors = [str(f) for _, f in failed]
    alike = len({str(f).replace(v.image, "IMAGE") for v, f in failed}) == 1
    fault = None
    checked = any(isinstance(f, LockedImage) for _, f in found)
    # No image failed, but none ran either: the base image, if here, says whether one can.
    if errors or (base and not checked):
        probe, independent = probe_of(base, found)
        fault = engine_fault(errors, probe, independent, alike)
    if fault:
        engine.status = BROKEN
        engine.detail += f" cannot start containers: {docker.engine_fault_line(fault)}"
    engine_platform = identity.engine_platform()
    built = {v.name for v, f in found if isinstance(f, LockedImage)}
    return [
        Row(v.image, UNCHECKED, "the engine cannot start containers (engine row)")
        if fault and isinstance(f, LabError)
        else image_row(v, f, engine_platform, locked)
        for v, f in found
    ] + [torch_row(gpu, built, locked)]


def report() -> tuple[str, bool]:
    """The table, and whether everything the lab needs is there."""
    table = rows()
    healthy = all(row.status not in (MISSING, BROKEN) for row in table)
    return render(("what", "status", "detail"), [r.cells for r in table]), healthy


def facts_json() -> str:
    return json.dumps(facts.machine_facts(), indent=2, sort_keys=True)


def compare(path: Path, platform: str | None = None) -> tuple[list[str], bool]:
    """Lines naming every difference between this machine and PATH; whether there are none.
    PLATFORM: the images kept here for another platform (platforms.run_images_of)."""
    references = facts.read_references(path)
    docker.require_engine()
    # A lock of several platforms: the entry for this machine's (or PLATFORM's), named in
    # the first line.
    platform, there = facts.platform_reference(references, platform, str(path))
    compared = f"compared with {path}'s {platform} images" if platform else ""
    here = {name: facts.as_entry(image) for name, image in facts.local_images().items()}
    lines = facts.differences(here, there)
    if lines:
        return ([compared] if compared else []) + lines, False
    rootfs = ", ".join(
        f"{name} {docker.short_id(entry['rootfs'])}" for name, entry in there.items() if entry
    )
    which = f" ({platform})" if platform else ""
    return [f"identical to {path}{which}: {rootfs or 'no images on either side'}"], True
