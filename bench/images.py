"""Measure the images: cold build time per variant, sizes and sharing, doctor and start time.

    python bench/images.py            # everything (the cold builds take a while)
    python bench/images.py --warm     # skip the cold builds

Cold builds use --no-cache and their own tags, so the lab's images and cache stay as they are.
The base image (debootstrap) is timed by `invoke base` itself and not rebuilt here.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from lab.config import CPYTHON_DIR, ROOT, VARIANTS
from lab.images import builder


def seconds(argv: list[str], **kwargs) -> float:
    started = time.monotonic()
    subprocess.run(argv, check=True, capture_output=True, **kwargs)
    return time.monotonic() - started


def cold_build(variant: str) -> float:
    return seconds(
        [
            "docker", "build", "--no-cache", "--target", "lab",
            "--build-arg", f"VARIANT={variant}",
            "--secret", f"id=extra_ca,src={builder.extra_ca()}",
            "-t", f"lab-bench-cold:{variant}", str(CPYTHON_DIR),
        ],
        env={"DOCKER_BUILDKIT": "1", "PATH": "/usr/local/bin:/usr/bin:/bin"},
    )  # fmt: skip


def sizes() -> dict[str, dict]:
    """Size, and how much of it each image shares with the others (docker system df -v)."""
    out = subprocess.run(
        ["docker", "system", "df", "-v", "--format", "{{json .Images}}"],
        capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    rows = json.loads(out)
    return {
        f"{r['Repository']}:{r['Tag']}": {
            "size": r["Size"], "shared": r["SharedSize"], "unique": r["UniqueSize"]
        }
        for r in rows
        if r["Repository"] == "lab-cpython"
    }  # fmt: skip


def main() -> None:
    figures: dict = {}
    if "--warm" not in sys.argv:
        for variant in VARIANTS:
            figures[f"cold_build_s[{variant}]"] = round(cold_build(variant), 1)
            print(f"cold build {variant}: {figures[f'cold_build_s[{variant}]']} s", flush=True)
        subprocess.run(["docker", "rmi", *(f"lab-bench-cold:{v}" for v in VARIANTS)],
                       capture_output=True)  # fmt: skip
    figures["sizes"] = sizes()
    invoke = str(Path(sys.executable).with_name("invoke"))
    figures["doctor_s"] = round(min(seconds([invoke, "doctor"], cwd=ROOT) for _ in range(3)), 2)
    for variant in VARIANTS.values():
        runs = [seconds(["docker", "run", "--rm", variant.image, "true"]) for _ in range(5)]
        figures[f"docker_run_true_s[{variant.name}]"] = round(min(runs), 2)
    print(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
