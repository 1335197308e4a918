"""`invoke doctor`: what this machine has for the lab, and the command that fixes each gap;
`--json` for the facts, `--compare FILE` for every difference from another machine."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from lab import docker, facts, identity, images, platforms
from lab.config import ALL_VARIANTS, OPTIONAL_VARIANTS, Variant
from lab.errors import LabError
from lab.lockfile import LockedImage
from lab.table import render
from lab.untrusted import text

OK, MISSING, BROKEN = "ok", "MISSING", "BROKEN"
# An image built only on request (the CUDA image): absent is no fault of the machine.
NOT_BUILT = "not built"


@dataclass
class Row:
    item: str
    status: str
    detail: str

    @property
    def cells(self) -> tuple[str, str, str]:
        return (self.item, self.status, self.detail)


def image_or_error(variant: Variant) -> LockedImage | LabError | None:
    """One image's facts; an error stays in its own row instead of ending the table."""
    try:
        return facts.local_image(variant)
    except LabError as error:
        return error


def shown(value: object) -> str:
    """A value an image printed, as one short printable line."""
    return text(str(value), 80)


def image_row(
    variant: Variant, found: LockedImage | LabError | None, engine_platform: str = ""
) -> Row:
    if isinstance(found, LabError):
        return Row(variant.image, BROKEN, f"{found} (fix: invoke images --force --variant "
                   f"{variant.name})")  # fmt: skip
    if found is None:
        status = NOT_BUILT if variant.name in OPTIONAL_VARIANTS else MISSING
        return Row(variant.image, status, f"fix: invoke images --variant {variant.name}")
    fp = found.fingerprint  # what the image printed, checked (facts.fingerprint): shown as text
    packages = fp.get("packages") if isinstance(fp.get("packages"), dict) else {}
    gil = "no GIL" if fp.get("Py_GIL_DISABLED") else "GIL"
    debug = ", Py_DEBUG" if fp.get("Py_DEBUG") else ""
    detail = f"fingerprint {shown(fp.get('digest'))}  rootfs {found.rootfs[7:19]}  Python "
    detail += f"{shown(fp.get('python'))} ({gil}{debug}) {found.platform}"
    if platforms.emulation_note(found.platform, engine_platform):
        detail += " (emulated on this engine; `invoke images` builds this machine's own)"
    if "torch" in packages:
        detail += f"  torch {shown(packages['torch'])}"
        # The lock's CUDA libraries are x86-64's only: on arm64 torch's wheel is a CPU build.
        if not any(name.startswith("nvidia-cuda-runtime") for name in packages):
            detail += " (a CPU build: the lock has no CUDA libraries for this architecture)"
    if variant.left_out:
        left_out = (f"{name}: {why}" for name, why in variant.left_out.items())
        detail += "  left out: " + "; ".join(left_out)
    return Row(variant.image, OK, detail)


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


def rows() -> list[Row]:
    engine = docker.engine_version()
    table = [
        Row("engine", OK if engine else MISSING, engine or f"fix: {docker.INSTALL_HINT}"),
    ]
    for plugin in ("compose", "buildx"):
        version = docker.plugin_version(plugin)
        fix = "fix: scripts/install-docker.sh"
        table.append(Row(f"docker {plugin}", OK if version else MISSING, version or fix))
    if engine is None:
        return table
    table.append(gpu_row(docker.gpu_runtime(), docker.host_gpus(), docker.cdi_gpu_specs()))
    base = images.base_image()
    base_here = docker.image_labels(base) is not None
    table.append(
        Row(base, OK, "base image") if base_here else Row(base, MISSING, "fix: invoke base")
    )
    variants = list(ALL_VARIANTS.values())
    with ThreadPoolExecutor() as pool:  # one container start per image, run side by side
        found = list(pool.map(image_or_error, variants))
    engine_platform = identity.engine_platform()
    table += [image_row(v, f, engine_platform) for v, f in zip(variants, found, strict=True)]
    return table


def report() -> tuple[str, bool]:
    """The table, and whether everything the lab needs is there."""
    table = rows()
    healthy = all(row.status not in (MISSING, BROKEN) for row in table)
    return render(("what", "status", "detail"), [r.cells for r in table]), healthy


def facts_json() -> str:
    return json.dumps(facts.machine_facts(), indent=2, sort_keys=True)


def compare(path: Path) -> tuple[list[str], bool]:
    """Lines naming every difference between this machine and PATH; whether there are none."""
    there = facts.read_reference(path)
    docker.require_engine()
    here = {name: facts.as_entry(image) for name, image in facts.local_images().items()}
    lines = facts.differences(here, there)
    if lines:
        return lines, False
    same = [name for name, entry in there.items() if entry is not None]
    rootfs = ", ".join(f"{name} {there[name]['rootfs'][7:19]}" for name in same)
    return [f"identical to {path}: {rootfs or 'no images on either side'}"], True
