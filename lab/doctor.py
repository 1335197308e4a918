"""`invoke doctor`: what this machine has for the lab, and the command that fixes each gap."""

from __future__ import annotations

import json
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from lab import docker, images
from lab.config import ALL_VARIANTS, OPTIONAL_VARIANTS, Variant
from lab.table import render

OK, MISSING = "ok", "MISSING"
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


def fingerprint(variant: Variant) -> dict | None:
    """The fingerprint the image recorded at build time, or None when it is not built."""
    if docker.image_labels(variant.image) is None:
        return None
    out = docker.docker(["run", "--rm", variant.image, "cat", "/etc/lab/fingerprint.json"])
    return json.loads(out)


def image_row(variant: Variant, facts: dict | None) -> Row:
    if facts is None:
        status = NOT_BUILT if variant.name in OPTIONAL_VARIANTS else MISSING
        return Row(variant.image, status, f"fix: invoke images --variant {variant.name}")
    gil = "no GIL" if facts["Py_GIL_DISABLED"] else "GIL"
    debug = ", Py_DEBUG" if facts["Py_DEBUG"] else ""
    detail = f"fingerprint {facts['digest']}  Python {facts['python']} ({gil}{debug})"
    if "torch" in facts["packages"]:
        detail += f"  torch {facts['packages']['torch']}"
    if variant.left_out:
        left_out = (f"{name}: {why}" for name, why in variant.left_out.items())
        detail += "  left out: " + "; ".join(left_out)
    return Row(variant.image, OK, detail)


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
    gpu = docker.gpu_runtime()
    table.append(Row("GPU in containers", "yes" if gpu else "no", gpu or "CPU only"))
    base = images.base_image()
    base_here = docker.image_labels(base) is not None
    table.append(
        Row(base, OK, "base image") if base_here else Row(base, MISSING, "fix: invoke base")
    )
    with ThreadPoolExecutor() as pool:  # one container start per image, run side by side
        facts = list(pool.map(fingerprint, ALL_VARIANTS.values()))
    table += [image_row(v, f) for v, f in zip(ALL_VARIANTS.values(), facts, strict=True)]
    return table


def report() -> tuple[str, bool]:
    """The table, and whether everything the lab needs is there."""
    table = rows()
    healthy = all(row.status != MISSING for row in table)
    return render(("what", "status", "detail"), [r.cells for r in table]), healthy
