"""arm64 from this x86-64 machine, measured: build the CPython images for linux/arm64
(`invoke images --platform linux/arm64`: CPython cross-compiled here, apt-get and pip under
QEMU), run stations in them (`--quick`, under emulation), and report the build times, the
images' rootfs identities and what every check said. The cross build runs this machine's
own stock and ft images as its build python: they must be built (`invoke images`) first.
The variants are one `invoke images` (stock,debug,ft: the default, one BuildKit build; or
one image, e.g. cuda).

    python bench/arm64.py [--variants stock,debug,ft|cuda] [--stations 1,2,3,5,6]
                          [--reuse] [--together] [--cold] [--twice]

`--cold` first forgets what earlier arm64 builds left in the build cache: the records created
since the last arm64 build began (results/bench/arm64-cache-since, or --cold-since) and the
cache mounts (apt's downloads); the machine's own images' layers stay cached. `--twice`
builds the variants twice, cold each time, and says whether the two builds' rootfs
identities agree; without it, each identity is compared with the IMAGE-arm64 image an
earlier run left, where there is one.

Needs `scripts/install-docker.sh --emulation` (QEMU, the loopback registry) and root (the
arm64 base is debootstrapped). A station runs on the variants built here only (`--variant`),
so build ft too for station 3's free-threaded half, and cuda (torch's aarch64 wheel, a CPU
build) for stations 5 and 6. `--together` runs a station once on all the variants it uses
(they must all be among --variants), so its checks that compare variants are judged;
`--reuse` builds nothing and takes the IMAGE-arm64 images an earlier run left. The
machine's own images are kept under other tags while it runs and put back after; the arm64
images stay as IMAGE-arm64 and their layers in the build cache. Prints a Markdown table;
writes results/bench/arm64.json.
Emulation is many times slower than the machine: a one-off measurement, never a CI step.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from lab.config import ALL_VARIANTS, ROOT, VARIANTS, Variant
from lab.images import identity, platforms
from lab.run import stations

PLATFORM = "linux/arm64"
OUT = ROOT / "results" / "bench"
# What a learner sees of a build's progress: invoke's own lines and BuildKit's step headers.
PROGRESS = ("[images]", "[base]", "[cpython]")
# When the last arm64 build began (UTC, ISO): --cold forgets the cache records made since.
CACHE_SINCE = OUT / "arm64-cache-since"


def invoke(*args: str, log: Path) -> tuple[int, float, list[str]]:
    """Run `invoke ARGS`, its output into LOG; show the progress lines. (exit code, seconds,
    the output's lines)."""
    started, lines = time.monotonic(), []
    with open(log, "w") as saved, subprocess.Popen(
        [sys.executable, "-m", "invoke", *args], cwd=ROOT, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
    ) as process:  # fmt: skip
        for line in process.stdout or ():
            saved.write(line)
            lines.append(line.rstrip("\n"))
            if line.startswith(PROGRESS) or (" RUN " in line and line.startswith("#")):
                print(f"  {line.rstrip()[:150]}", flush=True)
    return process.returncode, time.monotonic() - started, lines


def retag(source: str, target: str) -> bool:
    if identity.inspect(source) is None:
        return False
    subprocess.run(["docker", "tag", source, target], check=True)
    subprocess.run(["docker", "rmi", source], check=True, capture_output=True)
    return True


def cache_records() -> list[dict[str, str]]:
    """The build cache's records, as `docker buildx du --verbose` lists their fields."""
    out = subprocess.run(
        ["docker", "buildx", "du", "--verbose"], capture_output=True, text=True, check=True
    ).stdout
    records: list[dict[str, str]] = [{}]
    for line in out.splitlines():
        key, colon, value = line.partition(":")
        if not colon:
            records.append({})
        elif key.strip() and not key.startswith(" "):
            records[-1][key.strip()] = value.strip()
    return [r for r in records if "ID" in r]


def created(record: dict[str, str]) -> datetime:
    """A record's `Created at` (`2026-12-07 18:39:09.40 +0000 UTC`), to the second."""
    return datetime.strptime(record["Created at"][:19], "%Y-%m-%d %H:%M:%S").replace(tzinfo=UTC)


def forget(since: datetime) -> int:
    """A cold cache for the next arm64 build, the machine's own layers kept: prune the
    records created since SINCE (a child before its parent: several passes) and the cache
    mounts. How many records went."""
    subprocess.run(["docker", "builder", "prune", "-af", "--filter", "type=exec.cachemount"],
                   check=True, capture_output=True)  # fmt: skip
    gone = 0
    for _ in range(6):
        ids = [r["ID"].rstrip("*") for r in cache_records() if created(r) >= since]
        for record_id in ids:
            subprocess.run(["docker", "builder", "prune", "-af", "--filter", f"id={record_id}"],
                           check=False, capture_output=True)  # fmt: skip
        left = sum(1 for r in cache_records() if created(r) >= since)
        gone += len(ids) - left
        if not left or left == len(ids):
            break
    return gone


def station_checks(lines: list[str]) -> dict:
    """The run's checks, from the report.json beside the report it names."""
    report = next((line.split(": ", 1)[1] for line in lines if line.startswith("report: ")), "")
    if not report:
        return {"error": (lines or ["no output"])[-1]}
    ran = json.loads(Path(report).with_suffix(".json").read_text())
    return {
        "seconds": round(ran["seconds"], 1),
        "checks": {
            c["name"]: {"status": c["status"], "detail": c["detail"]} for c in ran["checks"]
        },
    }


def build(variants: list[Variant], reuse: bool) -> dict:
    """VARIANTS' arm64 images under their own names: built here in one `invoke images
    --platform` (the CPython images are one BuildKit build, side by side), or (REUSE) the
    ones an earlier run left as IMAGE-arm64. Each one's rootfs identity; the build's time."""
    names = ",".join(v.name for v in variants)
    code, seconds = 0, 0.0
    for variant in variants if reuse else ():
        print(f"using {variant.image}-arm64, built earlier", flush=True)
        code |= 0 if retag(f"{variant.image}-arm64", variant.image) else 1
    if not reuse:
        print(f"building {names} for {PLATFORM} (CPython cross-compiled here)", flush=True)
        log = OUT / "arm64-build.log"
        # --force: a second round's images are current, but the build is what is measured
        code, seconds, _ = invoke("images", "--platform", PLATFORM, "--force",
                                  *variant_flags(variants), log=log)  # fmt: skip
        print(f"  exit {code} after {seconds / 60:.1f} min ({log})", flush=True)
    made = {"exit": code, "seconds": round(seconds), "reused": reuse, "images": {}}
    for variant in variants:
        facts = identity.inspect(variant.image)
        made["images"][variant.name] = {
            "platform": facts and facts.platform, "rootfs": facts and facts.rootfs,
        }  # fmt: skip
    return made


def variant_flags(variants: list[Variant]) -> list[str]:
    """`--variant X` where one is asked; none for the three CPython images (the default)."""
    if {v.name for v in variants} == set(VARIANTS):
        return []
    if len(variants) == 1:
        return ["--variant", variants[0].name]
    raise SystemExit("--variants: one image, or stock,debug,ft (what `invoke images` builds)")


def build_round(variants: list[Variant], args: argparse.Namespace, since: str) -> dict:
    """Build VARIANTS once (cold where asked, forgetting the cache records made since
    SINCE): the build's time and each image's rootfs identity."""
    if args.cold and not args.reuse:
        went = forget(datetime.fromisoformat(since).replace(tzinfo=UTC))
        print(f"cold: {went} cache records of arm64 builds since {since} pruned", flush=True)
    if not args.reuse:
        CACHE_SINCE.write_text(datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S"))
    return build(variants, args.reuse)


def station_runs(number: str, built: list[Variant], together: bool) -> list[tuple]:
    """(--variant, label) of each run of station NUMBER: one per built variant it uses, or
    (TOGETHER) one run on all of them, so that its cross-variant checks are judged too."""
    used = stations.find(number).with_torch("cuda").variants  # arm64's torch: the wheel
    if not together:
        return [(v.name, v.name) for v in built if v.name in used]
    missing = set(used) - {v.name for v in built}
    if missing:  # the machine's own image would stand in: a mix no check expects
        print(f"station {number}: not run together, {', '.join(sorted(missing))} not built")
        return []
    return [(None, "+".join(used))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--variants", default="stock,debug,ft")
    parser.add_argument("--stations", default="1,2,3")
    parser.add_argument("--reuse", action="store_true", help="build nothing: use IMAGE-arm64")
    parser.add_argument("--together", action="store_true", help="one run a station, no --variant")
    parser.add_argument("--cold", action="store_true", help="forget earlier arm64 builds' cache")
    parser.add_argument("--cold-since", help="UTC time (ISO) of the first arm64 build to forget")
    parser.add_argument("--twice", action="store_true", help="two cold builds: same identities?")
    args = parser.parse_args()
    args.cold |= args.twice
    variants = [ALL_VARIANTS[name] for name in args.variants.split(",")]
    OUT.mkdir(parents=True, exist_ok=True)
    since = args.cold_since or (CACHE_SINCE.read_text().strip() if CACHE_SINCE.exists() else "")
    if args.cold and not since:
        since = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S")
    figures: dict = {"platform": PLATFORM, "engine": identity.engine_platform()}
    earlier = {
        v.name: facts.rootfs for v in variants if (facts := identity.inspect(f"{v.image}-arm64"))
    }
    # The machine's own images under their platform's tags, where the cross build also takes
    # its build python from (lab/images/builder.py, own_build_pythons).
    own = {v.name: platforms.platform_tag(v.image, figures["engine"]) for v in variants}
    kept = [v for v in variants if retag(v.image, own[v.name])]
    try:
        if args.twice:
            first = build_round(variants, args, since)
            earlier = {name: image["rootfs"] for name, image in first["images"].items()}
            figures["first_build"] = first
            since = CACHE_SINCE.read_text().strip()
        figures["build"] = build_round(variants, args, since)
        for name, image in figures["build"]["images"].items():
            if name in earlier and image["rootfs"] and not figures["build"]["reused"]:
                image["earlier_rootfs"] = earlier[name]
                image["same_rootfs"] = earlier[name] == image["rootfs"]
        figures["stations"] = {}
        made = figures["build"]
        built = [v for v in variants if made["exit"] == 0 and made["images"][v.name]["rootfs"]]
        for number in filter(None, args.stations.split(",")):
            for name, label in station_runs(number, built, args.together):
                print(f"station {number} --quick on {label} ({PLATFORM})", flush=True)
                log = OUT / f"arm64-station-{number}-{label}.log"
                chosen = ("--variant", name) if name else ()
                _, seconds, lines = invoke(
                    "station", number, "--quick", "--platform", PLATFORM, *chosen, log=log
                )
                checks = station_checks(lines)
                figures["stations"][f"{number}@{label}"] = {
                    "wall_seconds": round(seconds), **checks,
                }  # fmt: skip
    finally:
        for variant in variants:  # the arm64 images aside, the machine's own back
            retag(variant.image, f"{variant.image}-arm64")
        for variant in kept:
            subprocess.run(["docker", "tag", own[variant.name], variant.image], check=True)
    (OUT / "arm64.json").write_text(json.dumps(figures, indent=1))
    print(table(figures))


def table(figures: dict) -> str:
    rows = ["| what | time | result |", "|---|---|---|"]
    same = {True: ", the same as before", False: ", NOT the same as before"}
    for label, key in (("first build", "first_build"), ("build", "build")):
        made = figures.get(key)
        if not made:
            continue
        took = "reused" if made["reused"] else f"{made['seconds'] / 60:.1f} min"
        rows.append(f"| {label}: {', '.join(made['images'])} | {took} | exit {made['exit']} |")
        for name, image in made["images"].items():
            rootfs = f"rootfs {image['rootfs']}{same.get(image.get('same_rootfs'), '')}"
            rows.append(f"| {label}: {name} ({image['platform']}) | | {rootfs} |")
    for name, run in figures.get("stations", {}).items():
        statuses = [c["status"] for c in run.get("checks", {}).values()]
        counts = ", ".join(f"{statuses.count(s)} {s}" for s in ("pass", "skip", "fail"))
        rows.append(f"| station {name} --quick | {run['wall_seconds']} s |"
                    f" {counts or run.get('error', '')} |")  # fmt: skip
    return "\n".join(rows)


if __name__ == "__main__":
    main()
