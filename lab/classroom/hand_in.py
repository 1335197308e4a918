"""`invoke hand-in --name NAME`: a student's work as one file for the instructor.

The archive (a gzip'd tar) holds, for each station, the latest finished run that ran
experiments (a `--read-only` run is skipped): report.json, report.html, report.md and the
files the experiments saved (regular files with one name only, each capped, and a run's
count too), this machine's `invoke doctor --json` facts (doctor.json), and last
manifest.json: the hand-in's format, the student's name, when, the lab's commit, the
machine's core count and platform, and every other member's size and SHA-256. Nothing else
of the machine goes in (no user or host name: every member is owned by 0, named "").

The manifest comes last so that a copy cut short has none: the class page
(class_page.py) then says the hand-in is truncated instead of showing half of it.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import json
import os
import platform
import re
import subprocess
import tarfile
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import BinaryIO

from lab import untrusted
from lab.classroom import facts
from lab.config import ROOT, results_dir
from lab.errors import LabError
from lab.files import write_atomically
from lab.run import report_model, run_folders, safe_files

FORMAT = 1
MANIFEST, DOCTOR, REPORT = "manifest.json", "doctor.json", "report.json"
# A student's name becomes part of a file name and of the class page: a short word.
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,39}")
# A saved file is taken under its own name only where that name is a plain word: an
# experiment (a container) chose it. Anything else is left out, and the manifest says so.
FILE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}")
STATION_FOLDER = re.compile(r"station-([a-z0-9][a-z0-9-]{0,30})")
MAX_FILE = 8 << 20  # bytes of one file of a run (a flame graph: ~200 KB; a report: ~100 KB)
MAX_RUN = 16 << 20  # bytes of one run: 7 stations stay under the class page's 128 MiB
# Members of one hand-in: the class page refuses a hand-in with more (class_page.py reads
# this one). A run's files are capped well below it, report.json first, so that the seven
# stations (7 x 250 + doctor.json + manifest.json) always fit.
MAX_MEMBERS = 2000
MAX_RUN_FILES = 250  # files taken from one run (a real run saves a handful)


def check_name(name: str) -> str:
    """NAME, where it is a short safe word; else one line saying what a name may be."""
    if not isinstance(name, str) or not NAME.fullmatch(name):
        shown = untrusted.text(repr(name), 60)
        raise LabError(
            f"--name {shown} is not a short name: 1-40 letters, digits, `_`, `.` or `-`, "
            "starting with a letter or digit (it names the file and the class page's row)"
        )
    return name


def default_output(name: str) -> Path:
    """hand-in-NAME.tar.gz in the current folder: the file is for handing over, so it lands
    where the student stands (as `invoke bundle`'s does), not inside results/, which the
    lab's own index lists."""
    return Path.cwd() / f"hand-in-{name}.tar.gz"


@dataclass(frozen=True)
class HandedIn:
    """The hand-in written, and what was left out of it (a line each, the manifest's too):
    the student is told at once, not when the instructor reads it."""

    path: Path
    left_out: list[str]


def hand_in(name: str, output: Path | None = None, results: Path | None = None) -> HandedIn:
    """Write the hand-in whole or not at all; where it is, and what it left out."""
    check_name(name)
    output = Path(output) if output else default_output(name)
    runs: dict[str, str] = {}  # station-X: the run folder taken
    left_out: list[str] = []  # what could not be taken, a line each
    members = run_members(results or results_dir(), runs, left_out)
    members[DOCTOR] = as_json(doctor_facts())
    members[MANIFEST] = as_json(manifest(name, members, runs, left_out))
    write_archive(output, members)
    return HandedIn(output, left_out)


def as_json(value: object) -> bytes:
    return (json.dumps(value, indent=2, sort_keys=True, default=str) + "\n").encode()


def manifest(
    name: str, members: dict[str, bytes], runs: dict[str, str], left_out: list[str]
) -> dict:
    return {
        "lab_hand_in": FORMAT,
        "name": name,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "lab": lab_commit(),
        "cpu_count": os.cpu_count(),
        "platform": {"system": platform.platform(), "machine": platform.machine()},
        "runs": runs,
        "members": {
            member: {"bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
            for member, data in members.items()
        },
        "left_out": left_out,
    }


def lab_commit() -> dict:
    """The lab's commit and whether its tracked files differ from it (null: no git here)."""

    def git(*args: str) -> str | None:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            done = subprocess.run(
                ["git", *args], cwd=ROOT, capture_output=True, text=True, timeout=30
            )
            if done.returncode == 0:
                return done.stdout.strip()
        return None

    commit = git("rev-parse", "HEAD")
    changes = git("status", "--porcelain", "--untracked-files=no")
    return {"commit": commit, "dirty": None if changes is None else bool(changes)}


def doctor_facts() -> dict:
    """`invoke doctor --json`'s facts; where no engine answers, that line instead."""
    try:
        return facts.machine_facts()
    except LabError as error:
        return {"lab_facts": facts.FACTS_FORMAT, "error": untrusted.text(str(error), 500)}


# -- the runs ---------------------------------------------------------------------------


def run_members(results: Path, runs: dict[str, str], left_out: list[str]) -> dict[str, bytes]:
    """{station-X/<file>: bytes} for each station's latest run of experiments under RESULTS;
    the run folders taken go in RUNS, and what could not be taken in LEFT_OUT, a line each.
    All of them together stay within MAX_MEMBERS, with doctor.json and manifest.json."""
    members: dict[str, bytes] = {}
    if not results.is_dir():
        return members
    root_fd = safe_files.open_root(results)
    try:
        for station_name in sorted(os.listdir(root_fd)):
            if not STATION_FOLDER.fullmatch(station_name):
                continue
            room = min(MAX_RUN_FILES, MAX_MEMBERS - len(members) - len((DOCTOR, MANIFEST)))
            if room < 1:
                left_out.append(f"{station_name}: the hand-in holds {MAX_MEMBERS:,} files at most")
                continue
            station_dir = results / station_name
            members |= station_members(root_fd, station_dir, runs, left_out, room)
    finally:
        os.close(root_fd)
    return members


def newest_first(names: list[str]) -> list[str]:
    """The finished runs' folder names (`<time>`, `<time>-N`; never `.partial`), newest first."""

    def when(name: str) -> tuple[str, int]:
        day, time_of_day, *again = name.split("-")
        return day + time_of_day, int(again[0]) if again else 1

    return sorted((n for n in names if run_folders.NAME.fullmatch(n)), key=when, reverse=True)


def station_members(
    root_fd: int, station_dir: Path, runs: dict[str, str], left_out: list[str], room: int
) -> dict[str, bytes]:
    """At most ROOM files of the newest run in STATION_DIR that ran experiments."""
    station_fd = safe_files.open_folder(root_fd, station_dir.name, create=False, shown=station_dir)
    try:
        run = chosen_run(station_fd, station_dir, left_out)
        if run is None:
            return {}
        run_fd = safe_files.open_folder(station_fd, run, create=False, shown=station_dir / run)
        try:
            found = run_files(run_fd, f"{station_dir.name}/{run}", left_out, room)
        finally:
            os.close(run_fd)
        runs[station_dir.name] = run
        return {f"{station_dir.name}/{name}": data for name, data in found.items()}
    finally:
        os.close(station_fd)


def chosen_run(station_fd: int, station_dir: Path, left_out: list[str]) -> str | None:
    """The newest finished run whose report.json lists an experiment that ran. A run made
    with `--read-only` ran none and says "passed": it stands for no work, so is skipped."""
    skipped = {False: 0, None: 0}  # read-only runs; runs with no report.json to read
    for run in newest_first(os.listdir(station_fd)):
        run_fd = safe_files.open_folder(station_fd, run, create=False, shown=station_dir / run)
        try:
            ran = ran_experiments(run_fd, f"{station_dir.name}/{run}/{REPORT}")
        finally:
            os.close(run_fd)
        if ran:
            return run
        skipped[ran] += 1
    if any(skipped.values()):
        left_out.append(
            f"{station_dir.name}: no run that ran experiments ({skipped[False]} read-only, "
            f"{skipped[None]} with no readable {REPORT}); run the station to hand it in"
        )
    return None


def ran_experiments(run_fd: int, shown: str) -> bool | None:
    """Whether the run's report.json lists an experiment that ran; None where there is no
    report.json this lab could have written (the run is not one)."""
    try:
        return not report_model.read(read_member(run_fd, REPORT), shown).read_only
    except LabError:
        return None


def read_member(run_fd: int, name: str) -> bytes:
    """NAME's bytes, where it is a regular file with one name (a hard link could be a key or
    another user's file), within MAX_FILE; else one line."""
    return safe_files.read_regular(run_fd, name, MAX_FILE, one_name=True)


def run_files(run_fd: int, where: str, left_out: list[str], room: int) -> dict[str, bytes]:
    """The regular files at the top of a run folder, by name: report.json first, then at most
    ROOM in all, within MAX_FILE and MAX_RUN."""
    taken: dict[str, bytes] = {}
    total = 0
    names = sorted(os.listdir(run_fd), key=lambda name: (name != REPORT, name))
    for name in names:
        if len(taken) == room:
            past = len(names) - names.index(name)
            left_out.append(f"{where}: {past:,} files more than the {room:,} a run hands in")
            break
        if not FILE_NAME.fullmatch(name):
            left_out.append(f"{where}/{untrusted.text(name, 100)}: not a plain file name")
            continue
        try:
            data = read_member(run_fd, name)
        except LabError as why:  # a link, a folder, a fifo, or too big: left out
            left_out.append(f"{where}/{untrusted.text(str(why), 200)}")
            continue
        if total + len(data) > MAX_RUN and name != REPORT:
            left_out.append(f"{where}/{name}: the run's files are over {MAX_RUN:,} bytes")
            continue
        taken[name] = data
        total += len(data)
    return taken


# -- the file --------------------------------------------------------------------------


def write_archive(output: Path, members: dict[str, bytes]) -> None:
    """OUTPUT as a gzip'd tar of MEMBERS, in their order, whole or not at all."""
    folder = output.parent if str(output.parent) else Path(".")
    if not folder.is_dir():
        raise LabError(f"cannot write {output}: {folder} is not a folder")
    now = int(time.time())
    write_atomically(output, lambda raw: write_members(raw, members, now))


def write_members(raw: BinaryIO, members: dict[str, bytes], now: int) -> None:
    # No file name of this machine in the gzip header (tarfile's "w:gz" writes the path).
    with (
        gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=now) as compressed,
        tarfile.open(fileobj=compressed, mode="w", format=tarfile.PAX_FORMAT) as tar,
    ):
        for name, data in members.items():
            tar.addfile(member_info(name, len(data), now), io.BytesIO(data))


def member_info(name: str, size: int, mtime: int) -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.size, info.mtime, info.mode = size, mtime, 0o644
    return info  # uid, gid 0 and no user or group name: nothing of who made it
