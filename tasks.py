"""The lab's commands. Each task is a few lines; the work is in the `lab` package.

invoke --list            every task
invoke doctor            what this machine has, and how to fix what it lacks
invoke images            build what is missing or out of date
invoke shell ft          a shell in the free-threaded image
invoke test              the test suite
"""

from __future__ import annotations

import contextlib
import functools
import os
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from invoke import Exit, task

from lab import doctor as lab_doctor
from lab import untrusted
from lab.classroom import bundle as lab_bundle
from lab.classroom import class_page
from lab.classroom import hand_in as lab_hand_in
from lab.classroom import registry as registry_ops
from lab.classroom.lockfile import LOCK_FILE
from lab.config import ROOT, TORCH, VARIANTS
from lab.engine import signals
from lab.errors import LabError
from lab.images import builder as image_builder
from lab.images import locks
from lab.images import platforms as lab_platforms
from lab.run import containers, station_run
from lab.run import page as lab_page
from lab.run import stations as lab_stations

SHOWN_CHARS = 2 * untrusted.MAX_TEXT  # a line cut at MAX_TEXT, and what it is prefixed with


HELP_FLAGS = {"--help", "-h"}


def one_line_errors(body):
    """Turn a LabError into its one line and a non-zero exit, never a traceback; and show
    the task's help where Invoke passed `--help` in as an argument's value."""

    @functools.wraps(body)
    def wrapper(*args, **kwargs):
        values = {value for value in (*args[1:], *kwargs.values()) if isinstance(value, str)}
        if values & HELP_FLAGS:
            # `invoke publish --help` fills the task's first positional argument with
            # "--help" (Invoke 2 and 3): never run a task on that, show its help.
            task_name = body.__name__.replace("_", "-")
            shown = subprocess.run([sys.executable, "-m", "invoke", "--help", task_name], cwd=ROOT)
            raise Exit(code=shown.returncode)
        try:
            return body(*args, **kwargs)
        except LabError as error:
            # It may name what a container made (a link's name): no escape reaches the terminal.
            message = untrusted.text(str(error), SHOWN_CHARS)
            raise Exit(f"lab: {message}", code=error.exit_code) from None

    return wrapper


def quiet_when_stdout_closes(body):
    """A reader that went away (`invoke station 1 | head -3`) ends the task quietly with
    128+SIGPIPE, as a shell's own commands do; the run has cleaned up on the way out."""

    @functools.wraps(body)
    def wrapper(*args, **kwargs):
        try:
            return body(*args, **kwargs)
        except BrokenPipeError:
            # What is still buffered must not fail again at exit (Python's note on SIGPIPE).
            devnull = os.open(os.devnull, os.O_WRONLY)
            with contextlib.suppress(OSError, ValueError):  # stdout may have no descriptor
                os.dup2(devnull, sys.stdout.fileno())
            os.close(devnull)
            raise Exit(code=128 + signal.SIGPIPE) from None

    return wrapper


def printer(stream: TextIO) -> Callable[[str], None]:
    """A `say` for STREAM: each line through untrusted.text, so that what a station or its
    containers printed reaches the terminal without its escape sequences."""

    def say(line: str) -> None:
        shown = "\n".join(untrusted.text(part, SHOWN_CHARS) for part in line.split("\n"))
        print(shown, file=stream, flush=True)

    return say


@task(
    help={
        "json": "print this machine's facts as JSON (for another machine's --compare)",
        "compare": "name every difference from FILE: another machine's --json, or lab.lock",
    }
)
@one_line_errors
def doctor(c, json=False, compare=None):
    """Engine, plugins, GPU, images and their fingerprints; --json, --compare FILE."""
    if json:
        print(lab_doctor.facts_json())
        return
    if compare:
        lines, identical = lab_doctor.compare(Path(compare))
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
def base(c, platform=None):
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
def images(c, variant=None, optimize=False, force=False, platform=None):
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
def shell(c, variant, command=None):
    """A non-root shell in an image (stations mounted read-only)."""
    argv = ["bash", "-c", command] if command else ["bash"]
    try:
        code = containers.interactive(image_builder.named(variant, built_only=True), argv)
    except signals.Interrupted as stop:  # the container is removed; say so, exit 128+N
        raise Exit(f"lab: {stop.message()}", code=stop.exit_code) from None
    if code:
        raise Exit(code=code)


@task
@one_line_errors
@quiet_when_stdout_closes
def stations(c):
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
    }
)
@one_line_errors
@quiet_when_stdout_closes
def station(
    c, number, read_only=False, skip_reading=False, variant=None, json=False, quick=False,
    open=False,
):  # fmt: skip
    """Read, run, check and explain one station; report and page in results/."""
    options = station_run.Options(
        read=not skip_reading, run=not read_only, variant=variant, quick=quick
    )
    say = printer(sys.stderr if json else sys.stdout)
    try:
        with signals.interruptible():  # containers and the .partial folder are removed
            report, folder = station_run.run_station(lab_stations.find(number), options, say=say)
    except signals.Interrupted as stop:
        raise Exit(f"lab: {stop.message()}", code=stop.exit_code) from None
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
    }
)
@one_line_errors
def publish(c, registry, variants=None, lock=str(LOCK_FILE)):
    """Push the built images to a registry and write lab.lock (commit it)."""
    locked = registry_ops.publish(registry, variants, Path(lock))
    print(f"[publish] {lock}: {', '.join(locked)} (commit it for the class)")


@task(help={"lock": "the lock to fetch (default: lab.lock)"})
@one_line_errors
def pull(c, lock=str(LOCK_FILE)):
    """Fetch exactly the images lab.lock names, verify them, tag them; compile nothing."""
    locked = registry_ops.pull(Path(lock))
    print(f"[pull] identical to {lock}: {', '.join(locked)}")


@task(
    help={
        "output": "the bundle file (default: lab-bundle.tar)",
        "variants": "comma-separated (default: every image built here)",
        "lock": "a published lock whose digests the bundle carries (default: lab.lock)",
    }
)
@one_line_errors
def bundle(c, output="lab-bundle.tar", variants=None, lock=str(LOCK_FILE)):
    """One file with every image (zstd, shared layers once), its lock and SHA-256 sums."""
    made = lab_bundle.bundle(Path(output), variants, Path(lock))
    print(f"[bundle] {made['bundle']}: {', '.join(made['images'])}, {made['bytes'] / 1e9:.2f} GB")


@task(help={"lock": "the class's lock the bundle must match, where there is one"})
@one_line_errors
def load(c, bundle_file, lock=str(LOCK_FILE)):
    """Check a bundle whole, then load its images and tag them; a bad one loads nothing."""
    checked = lab_bundle.load(Path(bundle_file), Path(lock))
    print(f"[load] verified and tagged: {', '.join(checked.image_ids)}")


@task(help={"name": "your name, as the class page shows it", "output": "hand-in-NAME.tar.gz"})
@one_line_errors
def hand_in(c, name, output=None):
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
    c, folder, lock=None, output=None, json=False, verify=False, csv=None, weights=None
):  # fmt: skip
    """Every hand-in in FOLDER on one page, each station judged on evidence by this lab."""
    lock_path = Path(lock) if lock else (LOCK_FILE if LOCK_FILE.is_file() else None)
    page = Path(output) if output else (None if json else Path("class.html"))
    say = printer(sys.stderr)  # a problem per line; the rest of the class is still shown
    worth = class_page.grade_weights(Path(weights) if weights else None)  # before any work
    try:
        with signals.interruptible():  # --verify's containers and scratch folder are removed
            hands, lab = class_page.class_report(Path(folder), page, lock_path, say, verify)
    except signals.Interrupted as stop:
        raise Exit(f"lab: {stop.message()}", code=stop.exit_code) from None
    if csv:
        class_page.write_grades(Path(csv), hands, lab, worth)
    print(class_page.json_text(class_page.as_json(hands)) if json else page)


@task
@one_line_errors
def lock(c):
    """Refresh the images' hashed package locks from their .in files (needs uv)."""
    for name in locks.LOCKS:
        print(f"locked {locks.compile_lock(name).relative_to(ROOT)}")


@task(help={"unit": "only the tests that need no engine or browser", "k": "pytest -k expression"})
def test(c, unit=False, k=None):
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
def lint(c):
    """ruff lint and format check."""
    ruff = [sys.executable, "-m", "ruff"]  # the venv's, activated or not
    for argv in ([*ruff, "check", "."], [*ruff, "format", "--check", "."]):
        if subprocess.run(argv, cwd=ROOT).returncode:
            raise Exit(code=1)
