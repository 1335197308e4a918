"""Measure the images: a cold set-up's build time, sizes per layer and what they share,
doctor's time and a container's start.

    python bench/images.py            # everything: empties the build cache first
    python bench/images.py --warm     # skip the cold set-up

The cold set-up is what scripts/setup.sh does on a new machine that has the base image:
the lab's images and the whole build cache (downloads included) are removed, then
`invoke images` builds the three CPython images and `invoke images --variant torch-cpu`
the CPU PyTorch image, each timed. The base image (debootstrap) is timed by `invoke base`
itself and kept. Writes results/bench/images.json and prints a table of layers.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from lab.config import ALL_VARIANTS, ROOT, VARIANTS

INVOKE = str(Path(sys.executable).with_name("invoke"))


def seconds(argv: list[str], **kwargs) -> float:
    started = time.monotonic()
    subprocess.run(argv, check=True, capture_output=True, **kwargs)
    return round(time.monotonic() - started, 1)


def docker(*args: str) -> str:
    return subprocess.run(["docker", *args], capture_output=True, text=True, check=True).stdout


def cold_setup() -> dict[str, float]:
    """The images from an empty build cache, as a new machine's set-up builds them."""
    # The CUDA image stays: its several GB of wheels are not what a set-up here measures.
    names = [v.image for v in ALL_VARIANTS.values() if v.name != "cuda"]
    subprocess.run(["docker", "rmi", "--force", *names], capture_output=True)
    docker("builder", "prune", "--all", "--force")
    times = {"cpython_images_s": seconds([INVOKE, "images"], cwd=ROOT)}
    print(f"cold: the three CPython images in {times['cpython_images_s']} s", flush=True)
    times["torch_cpu_s"] = seconds([INVOKE, "images", "--variant", "torch-cpu"], cwd=ROOT)
    print(f"cold: the CPU PyTorch image in {times['torch_cpu_s']} s", flush=True)
    return times


def layers(image: str) -> list[dict]:
    """The image's layers that hold bytes, oldest first: size and the step that made them."""
    out = docker("history", "--no-trunc", "--human=false", "--format", "{{json .}}", image)
    rows = [json.loads(line) for line in out.splitlines()][::-1]
    return [
        {"bytes": int(r["Size"]), "step": " ".join(r["CreatedBy"].split())[:160]}
        for r in rows
        if int(r["Size"])
    ]


def sizes() -> dict[str, dict]:
    """Size, and how much of it each image shares with the others (docker system df -v)."""
    rows = json.loads(docker("system", "df", "-v", "--format", "{{json .Images}}"))
    lab = {v.image for v in ALL_VARIANTS.values()}
    return {
        f"{r['Repository']}:{r['Tag']}": {
            "size": r["Size"], "shared": r["SharedSize"], "unique": r["UniqueSize"]
        }
        for r in rows
        if f"{r['Repository']}:{r['Tag']}" in lab
    }  # fmt: skip


def main() -> None:
    figures: dict = {}
    if "--warm" not in sys.argv:
        figures["cold_setup"] = cold_setup()
    figures["sizes"] = sizes()
    built = [v for v in ALL_VARIANTS.values() if v.image in figures["sizes"]]
    figures["layers"] = {v.image: layers(v.image) for v in built}
    for image, found in figures["layers"].items():
        print(f"\n{image}")
        for layer in found:
            print(f"  {layer['bytes'] / 1e6:8.1f} MB  {layer['step'][:100]}")
    figures["doctor_s"] = min(seconds([INVOKE, "doctor"], cwd=ROOT) for _ in range(3))
    for variant in VARIANTS.values():
        runs = [seconds(["docker", "run", "--rm", variant.image, "true"]) for _ in range(5)]
        figures[f"docker_run_true_s[{variant.name}]"] = min(runs)
    out = ROOT / "results" / "bench" / "images.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(figures, indent=2))
    print(json.dumps({k: v for k, v in figures.items() if k != "layers"}, indent=2))


if __name__ == "__main__":
    main()
