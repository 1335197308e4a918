"""Reproducibility, measured: build each CPython image twice from clean (--no-cache, the same
inputs, the same machine) and compare the fingerprints and rootfs identities; where a layer
differs, say what differs in it, file by file.

    python bench/reproducibility.py [--variants stock,debug,ft] [--keep]

The builds get their own tags (lab-repro-a, lab-repro-b), so the lab's images and build cache
stay as they are; --keep leaves those images for a closer look. Prints a Markdown table and
writes the figures as JSON to results/bench/reproducibility.json.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from lab.classroom.bundle import HashingFile
from lab.classroom.facts import fingerprint
from lab.config import CPYTHON_DIR, ROOT, VARIANTS
from lab.images import builder, identity

EXAMPLES = 4


def build(variant: str, tag: str) -> float:
    started = time.monotonic()
    subprocess.run(
        [
            "docker", "build", "--no-cache", "--target", "lab", "--progress", "plain",
            "--build-arg", f"VARIANT={variant}",
            "--build-arg", f"BASE_ROOTFS={builder.base_rootfs()}",
            "--secret", f"id=extra_ca,src={builder.extra_ca()}",
            "-t", tag, str(CPYTHON_DIR),
        ],
        check=True, capture_output=True, env={**os.environ, "DOCKER_BUILDKIT": "1"},
    )  # fmt: skip
    return time.monotonic() - started


def layer_files(image: str) -> tuple[list[str], dict[str, dict], list[str]]:
    """From `docker save`: the image's diff IDs in order, each layer's files as {path: (kind,
    mode, owner, mtime, size, content sha256)}, and the step that made each layer."""
    layers: dict[str, dict] = {}
    config: dict = {}
    with (
        subprocess.Popen(["docker", "save", image], stdout=subprocess.PIPE) as saving,
        tarfile.open(fileobj=saving.stdout, mode="r|") as saved,
    ):
        for member in saved:  # layer.tar (classic store) or blobs/sha256/* (OCI layout)
            if not member.isfile():
                continue
            if member.size < 1 << 20 and not member.name.endswith("layer.tar"):
                data = saved.extractfile(member).read()
                with contextlib.suppress(ValueError):
                    parsed = json.loads(data)
                    config = parsed if isinstance(parsed, dict) and "rootfs" in parsed else config
                    continue
                member_stream = io.BytesIO(data)
            else:
                member_stream = saved.extractfile(member)
            hashed = HashingFile(member_stream)
            try:
                files = index_layer(hashed)
            except tarfile.ReadError:
                continue  # neither a layer nor the config
            layers["sha256:" + hashed.drain()] = files
    steps = [h.get("created_by", "") for h in config["history"] if not h.get("empty_layer")]
    return config["rootfs"]["diff_ids"], layers, steps


def index_layer(stream) -> dict[str, tuple]:
    files = {}
    with tarfile.open(fileobj=stream, mode="r|") as layer:
        for entry in layer:
            content = ""
            if entry.isfile():
                content = hashlib.sha256(layer.extractfile(entry).read()).hexdigest()[:16]
            files[entry.name] = (
                entry.type, entry.mode, f"{entry.uid}:{entry.gid}", int(entry.mtime),
                entry.size, content or entry.linkname,
            )  # fmt: skip
    return files


def kind_of(path: str, a: tuple | None, b: tuple | None) -> str:
    if a is None or b is None:
        return "only in one build"
    if a[5] != b[5] or a[4] != b[4]:
        return "content (.pyc)" if path.endswith(".pyc") else "content"
    if a[3] != b[3]:
        return "mtime"
    return "mode or owner"


def layer_differences(a: dict, b: dict) -> dict:
    kinds: Counter = Counter()
    examples: dict[str, list[str]] = {}
    for path in sorted(set(a) | set(b)):
        if a.get(path) == b.get(path):
            continue
        kind = kind_of(path, a.get(path), b.get(path))
        kinds[kind] += 1
        if len(examples.setdefault(kind, [])) < EXAMPLES:
            examples[kind].append(path)
    return {"counts": dict(kinds), "examples": examples}


def compare(variant: str) -> dict:
    a, b = f"lab-repro-a:{variant}", f"lab-repro-b:{variant}"
    figures = {"build_s": [round(build(variant, a)), round(build(variant, b))]}
    facts_a, facts_b = identity.inspect(a), identity.inspect(b)
    figures["fingerprint_equal"] = fingerprint(a)["digest"] == fingerprint(b)["digest"]
    figures["rootfs_equal"] = facts_a.rootfs == facts_b.rootfs
    order_a, files_a, steps = layer_files(a)
    order_b, files_b, _ = layer_files(b)
    figures["layers"] = len(order_a)
    figures["layers_equal"] = sum(x == y for x, y in zip(order_a, order_b, strict=False))
    figures["differing"] = [
        {"layer": i, "step": (steps[i] if i < len(steps) else "?")[:160],
         **layer_differences(files_a[x], files_b[y])}
        for i, (x, y) in enumerate(zip(order_a, order_b, strict=False)) if x != y
    ]  # fmt: skip
    return figures


def table(results: dict) -> str:
    lines = [
        "| image | fingerprint equal | rootfs equal | layers equal | what still differs |",
        "|---|---|---|---|---|",
    ]
    for variant, r in results.items():
        what = "; ".join(
            f"layer {d['layer']}: " + ", ".join(f"{n} {k}" for k, n in d["counts"].items())
            for d in r["differing"]
        )
        lines.append(
            f"| {variant} | {'yes' if r['fingerprint_equal'] else 'no'} | "
            f"{'yes' if r['rootfs_equal'] else 'no'} | {r['layers_equal']}/{r['layers']} | "
            f"{what or 'nothing'} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--keep", action="store_true", help="keep the lab-repro-* images")
    args = parser.parse_args()
    results = {}
    for variant in args.variants.split(","):
        results[variant] = compare(variant)
        print(json.dumps({variant: results[variant]}, indent=2), flush=True)
        if not args.keep:
            subprocess.run(["docker", "rmi", f"lab-repro-a:{variant}", f"lab-repro-b:{variant}"],
                           capture_output=True)  # fmt: skip
    out = ROOT / "results" / "bench" / "reproducibility.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(results, indent=2) + "\n")
    print(table(results))


if __name__ == "__main__":
    main()
