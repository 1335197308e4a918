"""A classroom's costs, measured on one machine: publish to a registry on loopback, pull
into a second (empty) engine, bundle, and load into the emptied engine again; for the three
CPU images and for all four (the CUDA image where built). Also the bundle's size against
the images' (what storing shared layers once saves).

    python bench/classroom.py [--sets cpu,all] [--store classic|containerd]

The student's engine keeps its images in the classic store, or in containerd's (--store
containerd: Docker 29's and Docker Desktop's default; Debian 13's dockerd, which
scripts/install-test-tools.sh provides). The bundle is made on the student's engine, from
the images it pulled, so that each store's `docker save` is what is measured.

Uses the same registry and second engine as the tests (tests/services.py): needs root,
Debian's docker-registry and the images built. Writes results/bench/classroom[-STORE].json
(no suffix for the classic store).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from lab.config import ALL_VARIANTS, ROOT, VARIANTS
from lab.images import identity
from tests import services

SETS = {"cpu": list(VARIANTS), "all": list(ALL_VARIANTS)}
INVOKE = str(Path(sys.executable).with_name("invoke"))


def timed_invoke(*args: str, env: dict[str, str] | None = None) -> float:
    started = time.monotonic()
    done = subprocess.run(
        [INVOKE, *args], cwd=ROOT, env={**os.environ, **(env or {})},
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    if done.returncode:
        raise SystemExit(f"invoke {' '.join(args)} failed: {done.stderr.strip()}")
    return round(time.monotonic() - started, 1)


def empty(env: dict[str, str]) -> None:
    """The student's engine back to no image at all (a fresh machine's download)."""
    names = [v.image for v in ALL_VARIANTS.values()]
    subprocess.run(["docker", "rmi", "--force", *names], env={**os.environ, **env},
                   capture_output=True)  # fmt: skip
    subprocess.run(["docker", "image", "prune", "--all", "--force"], env={**os.environ, **env},
                   capture_output=True)  # fmt: skip


def image_bytes(variants: list[str]) -> int:
    out = subprocess.run(
        ["docker", "image", "inspect", "--format", "{{.Size}}",
         *(ALL_VARIANTS[v].image for v in variants)],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    return sum(int(size) for size in out.split())


def measure(name: str, variants: list[str], student: dict[str, str], scratch: Path) -> dict:
    chosen = ",".join(variants)
    lock, bundle = scratch / f"{name}.lock", scratch / f"{name}.tar"
    figures: dict = {"images": variants}
    with services.registry() as registry:  # a fresh one: nothing is already there
        figures["publish_s"] = timed_invoke(
            "publish", "--registry", f"{registry}/class", "--variants", chosen, "--lock", str(lock)
        )
        empty(student)
        figures["pull_s"] = timed_invoke("pull", "--lock", str(lock), env=student)
    figures["bundle_s"] = timed_invoke(
        "bundle", "--output", str(bundle), "--variants", chosen, "--lock", str(lock), env=student
    )
    empty(student)
    figures["load_s"] = timed_invoke("load", str(bundle), "--lock", str(lock), env=student)
    figures["bundle_bytes"] = bundle.stat().st_size
    figures["images_bytes_sum"] = image_bytes(variants)
    figures["bundle_over_images"] = round(figures["bundle_bytes"] / figures["images_bytes_sum"], 3)
    bundle.unlink()
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", default="cpu,all")
    parser.add_argument("--store", choices=services.STORES, default="classic")
    args = parser.parse_args()
    built = [v for v in ALL_VARIANTS if identity.inspect(ALL_VARIANTS[v].image) is not None]
    results = {}
    with (
        tempfile.TemporaryDirectory(dir=ROOT / "results") as scratch,
        services.second_engine(store=args.store) as student,
    ):
        for name in args.sets.split(","):
            variants = [v for v in SETS[name] if v in built]
            results[name] = {"store": args.store, **measure(name, variants, student, Path(scratch))}
            print(json.dumps({name: results[name]}, indent=2), flush=True)
    suffix = "" if args.store == "classic" else f"-{args.store}"
    out = ROOT / "results" / "bench" / f"classroom{suffix}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")


if __name__ == "__main__":
    main()
