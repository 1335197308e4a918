"""The lab's commands. Each task is a few lines; the work is in the `lab` package.

invoke --list            every task
invoke doctor            what this machine has, and how to fix what it lacks
invoke images            build what is missing or out of date
invoke shell ft          a shell in the free-threaded image
invoke test              the test suite
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from invoke import Context, Exit, task

from lab import doctor as lab_doctor
from lab.classroom import bundle as lab_bundle
from lab.classroom import class_page
from lab.classroom import hand_in as lab_hand_in
from lab.classroom import registry as registry_ops
from lab.classroom.lockfile import LOCK_FILE, class_images
from lab.cli import (
    interruptible,
    one_line_errors,
    printer,
    quiet_when_stdout_closes,
    told_when_interrupted,
)
from lab.config import ROOT, TORCH, VARIANTS
from lab.images import builder as image_builder
from lab.images import locks
from lab.images import platforms as lab_platforms
from lab.run import containers, station_run
from lab.run import page as lab_page
from lab.run import stations as lab_stations


@task(
    help={
        "json": "print this machine's facts as JSON (for another machine's --compare)",
        "compare": "name every difference from FILE: another machine's --json, or lab.lock",
        "platform": "linux/arm64: that platform's images, kept here under their own tags",
    }
)
@one_line_errors
def doctor(
    c: Context, json: bool = False, compare: str | None = None, platform: str | None = None
) -> None:
    """Engine, plugins, GPU, images and their fingerprints; --json, --compare FILE."""
    platform = lab_platforms.run_images_of(platform)  # the image names, for this run
    if json:
        print(lab_doctor.facts_json())
        return
    if compare:
        lines, identical = lab_doctor.compare(Path(compare), platform)
        print("\n".join(lines))
        if not identical:
            raise Exit(f"lab: this machine differs from {compare} (above)", code=1)
        return
    table, healthy = lab_doctor.report()
    print(table)
    if not healthy:
        raise Exit("lab: the stations cannot run here yet: run the `fix:` commands above", code=1)


@task(help={"platform": "linux/arm64: another architecture's base (debootstrap, emulated)"})
@one_line_errors
def base(c: Context, platform: str | None = None) -> None:
    """Pull the pinned base image, or debootstrap one of that name."""
    foreign = lab_platforms.foreign(platform)
    image_builder.ensure_base(foreign)
    print(f"[base] {image_builder.base_for(foreign)} is here")


@task(
    help={
        "variant": "stock, debug, ft; torch (this machine's PyTorch image: cuda where an NVIDIA"
        " GPU is reachable, else torch-cpu), cuda or torch-cpu (default: the CPython builds)",
        "optimize": "PGO+LTO for stock and ft (much slower to build)",
        "force": "rebuild even when the image is current",
        "platform": "linux/arm64: build for another architecture, under emulation",
    }
)
@one_line_errors
def images(
    c: Context,
    variant: str | None = None,
    optimize: bool = False,
    force: bool = False,
    platform: str | None = None,
) -> None:
    """Build the images that are missing or out of date."""
    chosen = [image_builder.named(variant)] if variant else list(VARIANTS.values())
    if variant == TORCH:
        print(f"[images] the PyTorch image for this machine: {chosen[0].image}", flush=True)
    image_builder.build(chosen, optimize=optimize, force=force, platform=platform)


@task(
    help={
        "variant": "stock, debug, ft, torch, cuda or torch-cpu",
        "command": "run this instead of bash",
    }
)
@one_line_errors
def shell(c: Context, variant: str, command: str | None = None) -> None:
    """A non-root shell in an image (stations mounted read-only)."""
    argv = ["bash", "-c", command] if command else ["bash"]
    with told_when_interrupted():  # the container is removed; say so, exit 128+N
        code = containers.interactive(image_builder.named(variant, built_only=True), argv)
    if code:
        raise Exit(code=code)


@task
@one_line_errors
@quiet_when_stdout_closes
def stations(c: Context) -> None:
    """List the stations, their time and experiments."""
    for line in lab_stations.listing():  # a broken station.toml is one line, not the end
        print(line)


@task(
    help={
        "number": "1-6, or synthesis",
        "read_only": "only resolve and print the reading list",
        "skip_reading": "skip the reading list",
        "variant": "run only the experiments on this variant (stock, debug, ft, torch, cuda,"
        " torch-cpu)",
        "json": "print the report as JSON on stdout (the sections go to stderr)",
        "quick": "small workloads: a fast pass (the figures are noisier)",
        "open": "open the run's page (report.html) in this machine's browser",
        "platform": "linux/arm64: that platform's images (built or pulled here under their own"
        " tags), under emulation",
    }
)
@one_line_errors
@quiet_when_stdout_closes
def station(
    c: Context,
    number: str,
    read_only: bool = False,
    skip_reading: bool = False,
    variant: str | None = None,
    json: bool = False,
    quick: bool = False,
    open: bool = False,
    platform: str | None = None,
) -> None:
    """Read, run, check and explain one station; report and page in results/."""
    platform = lab_platforms.run_images_of(platform)  # the image names, for this run
    options = station_run.Options(
        read=not skip_reading,
        run=not read_only,
        variant=variant,
        quick=quick,
        # a class's: what its lock leaves out is skipped, not compiled
        locked=class_images(platform=platform),
    )
    say = printer(sys.stderr if json else sys.stdout)
    with interruptible():  # containers and the .partial folder are removed
        report, folder = station_run.run_station(lab_stations.find(number), options, say=say)
    if json:
        print(station_run.as_json(report))
    say(f"\nreport: {folder}/report.md")
    say(f"page:   {(folder / lab_page.PAGE).as_uri()}")
    for name in report["files"]:  # what the experiments saved: plots, data
        say(f"saved:  {folder}/{name}")
    if open:
        say(lab_page.open_in_browser(folder / lab_page.PAGE))
    if not report["passed"]:
        raise Exit("lab: some checks failed (see Check above)", code=1)


# -- a classroom: build once, run identical everywhere (README, "For a classroom") --------


@task(
    help={
        "registry": "HOST[:PORT][/PREFIX] of an OCI registry (e.g. 127.0.0.1:5000/class)",
        "variants": "comma-separated (default: every image built here)",
        "lock": "where to write the lock (default: lab.lock)",
        "platforms": "linux/amd64,linux/arm64 (default: this engine's own)",
        "append": "add these platforms to the lock's others (a second machine's publish)",
    }
)
@one_line_errors
def publish(
    c: Context,
    registry: str,
    variants: str | None = None,
    lock: str = str(LOCK_FILE),
    platforms: str | None = None,
    append: bool = False,
) -> None:
    """Push the built images to a registry and write lab.lock (commit it)."""
    locked = registry_ops.publish(registry, variants, Path(lock), platforms, append)
    print(
        f"[publish] {lock}: {', '.join(locked.images)} for {', '.join(locked.platforms())}"
        " (commit it for the class)"
    )


@task(
    help={
        "lock": "the lock to fetch (default: lab.lock)",
        "platform": "another platform's images (default: this engine's), under their own tags",
    }
)
@one_line_errors
def pull(c: Context, lock: str = str(LOCK_FILE), platform: str | None = None) -> None:
    """Fetch exactly the images lab.lock names, verify them, tag them; compile nothing."""
    locked = registry_ops.pull(Path(lock), platform)
    which = next(iter(locked.values())).platform if locked else ""
    print(f"[pull] identical to {lock} ({which}): {', '.join(locked)}")


@task(
    help={
        "output": "the bundle file (default: lab-bundle.tar)",
        "variants": "comma-separated (default: every image built here)",
        "lock": "a published lock whose digests the bundle carries (default: lab.lock)",
        "platforms": "linux/amd64,linux/arm64: a part each (default: this engine's own)",
    }
)
@one_line_errors
def bundle(
    c: Context,
    output: str = "lab-bundle.tar",
    variants: str | None = None,
    lock: str = str(LOCK_FILE),
    platforms: str | None = None,
) -> None:
    """One file with every image (zstd, shared layers once), its lock and SHA-256 sums."""
    made = lab_bundle.bundle(Path(output), variants, Path(lock), platforms)
    which = f"{', '.join(made['images'])} for {', '.join(made['platforms'])}"
    print(f"[bundle] {made['bundle']}: {which}, {made['bytes'] / 1e9:.2f} GB")


@task(
    help={
        "lock": "the class's lock the bundle must match, where there is one",
        "platform": "another platform's images (default: this engine's), under their own tags",
    }
)
@one_line_errors
def load(
    c: Context, bundle_file: str, lock: str = str(LOCK_FILE), platform: str | None = None
) -> None:
    """Check a bundle whole (a bad one loads nothing), then load and tag this engine's images."""
    checked = lab_bundle.load(Path(bundle_file), Path(lock), platform)
    print(f"[load] verified and tagged ({checked.platform}): {', '.join(checked.image_ids)}")


@task(help={"name": "your name, as the class page shows it", "output": "hand-in-NAME.tar.gz"})
@one_line_errors
def hand_in(c: Context, name: str, output: str | None = None) -> None:
    """One file for the instructor: each station's latest run, doctor --json, the lab's commit."""
    made = lab_hand_in.hand_in(name, Path(output) if output else None)
    for line in made.left_out:  # the student hears it now, not from the instructor
        print(f"left out: {line}", file=sys.stderr)
    print(made.path)


@task(
    help={
        "lock": "the class's lock to compare each machine with (default: lab.lock, if here)",
        "output": "the page (default: class.html; with --json, none unless named)",
        "json": "print the verdicts as JSON on stdout; writes no page unless --output names one",
        "verify": "re-run the deterministic experiments here and compare every hand-in's values",
        "csv": "also write the grades: one row per student (Canvas, Moodle)",
        "weights": "TOML of points per station for --csv (default: 1 each)",
    }
)
@one_line_errors
@quiet_when_stdout_closes
def class_report(
    c: Context,
    folder: str,
    lock: str | None = None,
    output: str | None = None,
    json: bool = False,
    verify: bool = False,
    csv: str | None = None,
    weights: str | None = None,
) -> None:
    """Every hand-in in FOLDER on one page, each station judged on evidence by this lab."""
    lock_path = Path(lock) if lock else (LOCK_FILE if LOCK_FILE.is_file() else None)
    page = Path(output) if output else (None if json else Path("class.html"))
    say = printer(sys.stderr)  # a problem per line; the rest of the class is still shown
    worth = class_page.grade_weights(Path(weights) if weights else None)  # before any work
    with interruptible():  # --verify's containers and scratch folder are removed
        hands, lab = class_page.class_report(Path(folder), page, lock_path, say, verify)
    if csv:
        class_page.write_grades(Path(csv), hands, lab, worth)
    print(class_page.json_text(class_page.as_json(hands)) if json else page)


@task
@one_line_errors
def lock(c: Context) -> None:
    """Refresh the images' hashed package locks from their .in files (needs uv)."""
    for name in locks.LOCKS:
        print(f"locked {locks.compile_lock(name).relative_to(ROOT)}")


@task(help={"unit": "only the tests that need no engine or browser", "k": "pytest -k expression"})
def test(c: Context, unit: bool = False, k: str | None = None) -> None:
    """Unit tests, then the real images through testcontainers. First (not with --unit) the
    tools the container tests need, where missing: scripts/install-test-tools.sh."""
    argv = [sys.executable, "-m", "pytest"]  # testpaths in pyproject.toml: unit tests first
    if unit:
        argv += ["-m", "not container and not browser"]
    elif code := subprocess.run(["bash", "scripts/install-test-tools.sh"], cwd=ROOT).returncode:
        # What it names, the tests that need it skip saying so; in CI they fail.
        print(f"lab: scripts/install-test-tools.sh failed (exit {code})", file=sys.stderr)
    if k:
        argv += ["-k", k]
    raise Exit(code=subprocess.run(argv, cwd=ROOT).returncode)


@task
def lint(c: Context) -> None:
    """ruff lint and format check; mypy over lab/ and tasks.py (pyproject.toml's [tool.mypy])."""
    ruff = [sys.executable, "-m", "ruff"]  # the venv's, activated or not
    mypy = [sys.executable, "-m", "mypy"]
    for argv in ([*ruff, "check", "."], [*ruff, "format", "--check", "."], mypy):
        if subprocess.run(argv, cwd=ROOT).returncode:
            raise Exit(code=1)
