"""A class of two platforms, for real: this machine's CPython images and the arm64 ones
built here (`invoke images --platform linux/arm64`, or `bench/arm64.py`), published as one
lock; a student's engine pulls its own platform and, asked, arm64; `doctor --compare` on
each; station 1 on the arm64 images under emulation; a bundle of both platforms, loaded
into the emptied engine. Each step's time, and what it said.

    python bench/two_platforms.py [--variants stock,debug,ft] [--store containerd|classic]
                                  [--station 1]

Needs what bench/classroom.py needs (root, Debian's docker-registry, the second engine of
tests/services.py; for --store containerd, Debian 13's dockerd from
scripts/install-test-tools.sh), QEMU (`scripts/install-docker.sh --emulation`) and both
platforms' images here: the machine's own under the lab's names, the arm64 ones as
`lab-cpython:stock-linux-arm64`. Writes results/bench/two_platforms.json.
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
from lab.classroom import lockfile
from lab.config import ALL_VARIANTS, ROOT
from lab.images import identity, platforms
from tests import services

PLATFORMS = ("linux/amd64", "linux/arm64")
INVOKE = str(Path(sys.executable).with_name("invoke"))


def step(name: str, *args: str, env: dict[str, str] | None = None) -> dict:
    """`invoke ARGS` (on the student's engine where ENV says so): its time, exit and the last
    lines it printed."""
    print(f"{name}: invoke {' '.join(args)}", flush=True)
    started = time.monotonic()
    done = subprocess.run(
        [INVOKE, *args], cwd=ROOT, env={**os.environ, **(env or {})},
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    seconds = round(time.monotonic() - started, 1)
    said = (done.stdout + done.stderr).strip().splitlines()[-3:]
    print(f"  exit {done.returncode} after {seconds} s: {' | '.join(said)[:300]}", flush=True)
    return {"seconds": seconds, "exit": done.returncode, "said": said}


def student_images(env: dict[str, str]) -> dict[str, str]:
    """{local name: platform rootfs} of the lab's images on the student's engine."""
    out = subprocess.run(
        ["docker", "image", "ls", "--format", "{{.Repository}}:{{.Tag}}"],
        env={**os.environ, **env}, capture_output=True, text=True, check=True,
    ).stdout.split()  # fmt: skip
    found = {}
    for name in (n for n in out if n.startswith("lab-")):
        listed = subprocess.run(
            ["docker", "image", "inspect", "--format",
             "{{.Os}}/{{.Architecture}} {{json .RootFS.Layers}}", name],
            env={**os.environ, **env}, capture_output=True, text=True, check=True,
        ).stdout  # fmt: skip
        platform, layers = listed.split(" ", 1)
        found[name] = f"{platform} {identity.rootfs_identity(json.loads(layers))}"
    return found


def empty(env: dict[str, str]) -> None:
    """The student's engine back to no image at all."""
    subprocess.run(["docker", "image", "prune", "--all", "--force"],
                   env={**os.environ, **env}, capture_output=True)  # fmt: skip
    names = student_images(env)
    if names:
        subprocess.run(["docker", "rmi", "--force", *names],
                       env={**os.environ, **env}, capture_output=True)  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", default="stock,debug,ft")
    parser.add_argument("--store", choices=services.STORES, default="containerd")
    parser.add_argument("--station", default="1")
    args = parser.parse_args()
    figures: dict = {"store": args.store, "variants": args.variants, "steps": {}}
    steps = figures["steps"]
    with (
        tempfile.TemporaryDirectory(dir=ROOT / "results") as scratch,
        services.registry() as registry,
        services.second_engine(store=args.store) as student,
    ):
        lock, bundle = Path(scratch) / "lab.lock", Path(scratch) / "class.tar"
        steps["publish"] = step("publish", "publish", "--registry", f"{registry}/class",
                                "--variants", args.variants, "--platforms", ",".join(PLATFORMS),
                                "--lock", str(lock))  # fmt: skip
        locked = lockfile.read_all(lock)
        figures["lock"] = {
            name: {p: entry.rootfs for p, entry in entries.items()}
            for name, entries in locked.images.items()
        }
        at = ("--lock", str(lock))
        steps["pull"] = step("pull own", "pull", *at, env=student)
        steps["pull_arm64"] = step("pull arm64", "pull", *at, "--platform", PLATFORMS[1],
                                   env=student)  # fmt: skip
        steps["compare"] = step("compare own", "doctor", "--compare", str(lock), env=student)
        steps["compare_arm64"] = step("compare arm64", "doctor", "--compare", str(lock),
                                      "--platform", PLATFORMS[1], env=student)  # fmt: skip
        figures["pulled"] = student_images(student)
        steps["station"] = step(f"station {args.station}", "station", args.station, "--quick",
                                "--platform", PLATFORMS[1],
                                env={**student, "LAB_RESULTS": scratch})  # fmt: skip
        steps["bundle"] = step("bundle both", "bundle", "--output", str(bundle), "--variants",
                               args.variants, "--platforms", ",".join(PLATFORMS), *at,
                               env=student)  # fmt: skip
        figures["bundle_bytes"] = bundle.stat().st_size if bundle.exists() else None
        empty(student)
        steps["load"] = step("load own", "load", str(bundle), *at, env=student)
        steps["load_arm64"] = step("load arm64", "load", str(bundle), *at, "--platform",
                                   PLATFORMS[1], env=student)  # fmt: skip
        figures["loaded"] = student_images(student)
    wanted = {  # the student's engine is this machine's platform: arm64's under its own tags
        platforms.local_tag(ALL_VARIANTS[name].image, p, PLATFORMS[0]): f"{p} {rootfs}"
        for name, by in figures["lock"].items()
        for p, rootfs in by.items()
    }
    figures["pulled_as_locked"] = figures["pulled"] == wanted
    figures["loaded_as_locked"] = figures["loaded"] == wanted
    out = ROOT / "results" / "bench" / "two_platforms.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(figures, indent=1) + "\n")
    print(json.dumps({k: v for k, v in figures.items() if k != "steps"}, indent=1))


if __name__ == "__main__":
    main()
