"""`invoke class-report FOLDER`: every hand-in in FOLDER on one page, judged on evidence.

A hand-in (hand_in.py) is a file a student could have edited, or one made by another
version of the lab, or one made to attack the instructor's machine. So it is read as data:
streamed, never unpacked to disk, every member's name, kind and size checked before its
bytes are read, only the few members the page needs kept in memory, and each report.json
read into the report's model (lab/run/report_model.py), which bounds every field. What a
hand-in says of itself is a claim: each station's verdict is judged here on the evidence
(verdicts.py), and with --verify the deterministic observations are re-run (verify.py).

A hand-in that cannot be read is a few lines on the terminal and a mark on the page; the
rest of the class is still shown, and nothing is written but the page (and --csv's file).
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import tarfile
import zlib
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, BinaryIO

import confusables
import msgspec

from lab import untrusted
from lab.classroom import class_figures, facts, grades, hand_in, verdicts, verify
from lab.classroom.verdicts import StationResult
from lab.errors import LabError
from lab.files import write_atomically
from lab.run import page, report_model, stations
from lab.run.observations import Observation, load_checks
from lab.run.report_model import Report
from lab.untrusted_tar import KINDS, Header, Refused, member_file, plain

TEMPLATES = Path(__file__).parent / "templates"
HONESTY = (
    "Each verdict is judged here, on evidence: this lab's checks run again on the observations "
    "of the experiments the hand-in ran; which variants count comes from this lab's stations, "
    "and emulation from the hand-in's own machine facts. The observations themselves cannot be "
    "proven honest from a file: --verify re-runs those that depend only on the image; the "
    "timings stay the student's word."
)
# What one hand-in may cost to read (a real one: a few MB, a few dozen members).
MAX_HAND_IN = 128 << 20  # bytes of the file itself, compressed
MAX_UNCOMPRESSED = 512 << 20  # bytes of all its members together: a decompression bomb stops
MAX_MEMBERS = hand_in.MAX_MEMBERS  # the cap hand_in.py writes within
MAX_JSON = 16 << 20  # bytes of one member kept and parsed (a report.json: ~100 KB)
MAX_KEPT = 64 << 20  # bytes kept in memory from one hand-in, all members together
MAX_HAND_INS = 500  # files in FOLDER
MAX_LINES = 8  # terminal lines per hand-in: the rest are counted (the page lists them all)
MEMBER_NAME = re.compile(
    r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}(?:/[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}){0,2}"
)
REPORT = re.compile(rf"({hand_in.STATION_FOLDER.pattern})/report\.json")


@dataclass
class HandIn:
    file: str  # the file's name in FOLDER
    name: str = ""  # the student's, from the manifest (untrusted: shown escaped)
    manifest: dict = field(default_factory=dict)
    doctor: Any = None
    reports: dict[str, Report | LabError] = field(default_factory=dict)  # by station label
    problems: list[str] = field(default_factory=list)
    stations: dict[str, StationResult] = field(default_factory=dict)
    environment: list[str] = field(default_factory=list)
    identical: bool | None = None  # to the class lock (None: not known)

    @property
    def machine(self) -> dict:
        """Its doctor.json, where that is an object (its images checked in environment())."""
        return self.doctor if isinstance(self.doctor, dict) else {}


# -- reading one hand-in ------------------------------------------------------------------


def read_hand_in(folder_fd: int, file_name: str) -> HandIn:
    """The hand-in FOLDER/FILE_NAME, or one that says why it could not be read (problems)."""
    found = HandIn(file=untrusted.text(file_name, 200))
    try:
        with open_hand_in(folder_fd, file_name) as fileobj:
            kept = read_members(fileobj, found)
        take_members(found, kept)
    except Refused as why:
        found.problems.append(f"refused: {why}")
    except LabError as why:
        found.problems.append(str(why))
    except (tarfile.TarError, EOFError, zlib.error, OSError, RecursionError) as error:
        found.problems.append(
            f"not a hand-in, or truncated or damaged ({untrusted.text(str(error), 200)})"
        )
    found.name = found.name or found.file
    return found


@contextlib.contextmanager
def open_hand_in(folder_fd: int, file_name: str) -> Iterator[BinaryIO]:
    """The file, opened without following a link, where it is regular and not too big."""
    with untrusted.open_regular(file_name, dir_fd=folder_fd) as fileobj:
        size = os.fstat(fileobj.fileno()).st_size
        if size > MAX_HAND_IN:
            raise LabError(f"{size:,} bytes, over the {MAX_HAND_IN:,} a hand-in may be")
        yield fileobj


def read_members(fileobj: BinaryIO, found: HandIn) -> dict[str, bytes]:
    """Stream the tar (plain or gzip'd): check every member, keep the ones the page reads."""
    kept: dict[str, bytes] = {}
    members = total = kept_bytes = 0
    with tarfile.open(fileobj=fileobj, mode="r|*", tarinfo=Header) as tar:
        for member in tar:
            members += 1
            if members > MAX_MEMBERS:
                raise Refused(f"over {MAX_MEMBERS:,} members (a hand-in has a few dozen)")
            name = checked_name(member)
            total += member.size
            if total > MAX_UNCOMPRESSED:
                raise Refused(f"over {MAX_UNCOMPRESSED:,} bytes unpacked: a decompression bomb?")
            if member.isdir():
                continue
            if not wanted(name):
                continue  # streamed past, never kept
            if name in kept:
                raise Refused(f"it holds {name} twice")
            if member.size > MAX_JSON or kept_bytes + member.size > MAX_KEPT:
                found.problems.append(
                    f"{name} is {member.size:,} bytes, over the {MAX_JSON:,} the page reads: "
                    "not read"
                )
                continue
            data = member_file(tar, member).read(member.size + 1)
            if len(data) != member.size:
                raise LabError(f"truncated: {name} ends early")
            kept[name] = data
            kept_bytes += len(data)
    return kept


def checked_name(member: tarfile.TarInfo) -> str:
    """MEMBER's name, where it is a plain relative path of a regular file or a folder."""
    name = member.name
    shown = untrusted.text(repr(name), 100)
    if name.startswith("/") or ".." in name.split("/"):
        raise Refused(f"a member is named {shown}: outside the hand-in")
    if not (plain(member) or member.isdir()):
        kind = KINDS.get(member.type, "special member")
        raise Refused(f"its member {shown} is a {kind}, not a file")
    if not MEMBER_NAME.fullmatch(name.rstrip("/")):
        raise Refused(f"a member is named {shown}, not as a hand-in names them")
    return name.rstrip("/")


def wanted(name: str) -> bool:
    return name in (hand_in.MANIFEST, hand_in.DOCTOR) or bool(REPORT.fullmatch(name))


def take_members(found: HandIn, kept: dict[str, bytes]) -> None:
    """The manifest (last in the archive: without it, the copy was cut short), the facts,
    and each station's report, each checked against the manifest's SHA-256."""
    if hand_in.MANIFEST not in kept:
        raise LabError("no manifest.json at its end: truncated, or not made by `invoke hand-in`")
    manifest = untrusted.json_value(kept.pop(hand_in.MANIFEST), "its manifest.json")
    if not isinstance(manifest, dict) or manifest.get("lab_hand_in") != hand_in.FORMAT:
        raise LabError(f"its manifest.json is not a hand-in's of format {hand_in.FORMAT}")
    found.manifest = manifest
    name = manifest.get("name")
    if not (isinstance(name, str) and hand_in.NAME.fullmatch(name)):
        found.problems.append(f"its name {untrusted.text(repr(name), 80)} is not a short name")
    found.name = untrusted.text(name, 80) if isinstance(name, str) else ""
    sums = members if isinstance(members := manifest.get("members"), dict) else {}
    for member, data in kept.items():
        recorded = entry if isinstance(entry := sums.get(member), dict) else {}
        if recorded.get("sha256") != hashlib.sha256(data).hexdigest():
            found.problems.append(
                f"{member} is not the file `invoke hand-in` wrote (its SHA-256 is not the "
                "manifest's): edited after"
            )
        if member == hand_in.DOCTOR:
            try:
                found.doctor = untrusted.json_value(data, member)
            except LabError as why:
                found.problems.append(str(why))
            continue
        report = REPORT.fullmatch(member)
        if report is None:  # never: what is kept is the manifest, doctor.json or a report
            continue
        label = report[2]
        try:
            found.reports[label] = report_model.read(data, member)
        except LabError as why:
            found.reports[label] = why


# -- judging: each station on its evidence ---------------------------------------------


@dataclass
class Lab:
    """This lab: its stations, their checks (loaded once), its commit, the class lock, and
    what --verify re-ran here."""

    stations: dict[str, stations.Station]
    checks: dict[str, list | LabError]  # a checks.py that does not load: its one line
    commit: dict
    lock: dict[str, facts.Images] | None  # {platform: the images locked for it}
    lock_note: str
    reference: verify.Reference | None = None


def this_lab(lock_path: Path | None) -> Lab:
    found = {s.label: s for s in stations.all_stations()}
    checks: dict[str, list | LabError] = {}
    for label, station in found.items():
        try:
            checks[label] = (
                load_checks(station.checks_file) if station.checks_file.is_file() else []
            )
        except LabError as broken:  # that station is not judged; the others are
            checks[label] = broken
    lock, note = None, "are listed, not compared: there is no class lock here (lab.lock; or --lock)"
    if lock_path is not None:
        lock = facts.read_references(lock_path)  # one line (LabError) when it is not one
        note = f"are compared with {lock_path}"
        if len(lock) > 1:  # each student's with the entry for their own engine's platform
            note += f", each with its platform's images ({', '.join(sorted(lock))})"
    return Lab(found, checks, hand_in.lab_commit(), lock, note)


def judge(hand: HandIn, lab: Lab) -> None:
    environment(hand, lab)  # first: it checks the doctor.json the verdicts read
    made_by = lab_facts if isinstance(lab_facts := hand.manifest.get("lab"), dict) else {}
    same_lab = made_by.get("commit") == lab.commit.get("commit")
    # This lab's experiments re-run: another version's may have changed what they observe.
    reference = lab.reference if same_lab else None
    for label, report in hand.reports.items():
        hand.stations[label] = judge_station(hand, label, report, lab, reference)
    if not same_lab:
        theirs = untrusted.text(str(made_by.get("commit") or "")[:12]) or "an unknown commit"
        verified = ", not verified by the re-run" if lab.reference else ""
        hand.problems.append(
            f"made by another version of the lab ({theirs}, this one is "
            f"{str(lab.commit.get('commit'))[:12]}): judged by this one's checks{verified}"
        )
    if made_by.get("dirty") is not False:
        hand.problems.append(
            "made from a checkout with local changes (an edited experiment or check?), or one "
            "that could not tell: its runs may not be this lab's"
        )


def judge_station(
    hand: HandIn,
    label: str,
    report: Report | LabError,
    lab: Lab,
    reference: verify.Reference | None,
) -> StationResult:
    if isinstance(report, LabError):
        return verdicts.not_run(label, None, str(report))
    if report.station != label:
        return verdicts.not_run(label, report, "its report.json names another station")
    station, checks = lab.stations.get(label), lab.checks.get(label, [])
    if station is None:
        return verdicts.not_run(label, report, f"this lab has no station {label}: not judged")
    if isinstance(checks, LabError):
        return verdicts.not_run(label, report, f"not judged: {checks}")
    mismatches: list[verify.Mismatch] = []
    verified: list[str] = []
    if reference is not None:
        observed = [Observation.of(o) for o in report.observations]
        mismatches, verified = verify.compare(
            reference, label, observed, verdicts.image_ids(hand.machine)
        )
    result = verdicts.judge(report, station, checks, hand.machine, mismatches)
    result.verified = verified
    return result


def environment(hand: HandIn, lab: Lab) -> None:
    """How the student's images differ from the class lock, from the rootfs identities."""
    doctor = hand.machine
    if "images" not in doctor:
        why = untrusted.text(str(doctor.get("error") or "no doctor.json"), 200)
        hand.environment, hand.doctor = [f"no image facts: {why}"], {}
        return
    listed = doctor["images"] if isinstance(doctor["images"], dict) else {}
    try:
        images = {
            name: facts.facts_entry(name, entry, "its doctor.json")
            for name, entry in listed.items()
        }
    except LabError as why:
        hand.environment = [f"its doctor.json is not one doctor --json writes: {why}"]
        hand.doctor = {}
        return
    hand.doctor = {**doctor, "images": images}
    if lab.lock is None:
        hand.environment = [
            f"{name}: {entry.get('rootfs', 'not built') if entry else 'not built'}"
            for name, entry in images.items()
        ]
        return
    try:
        locked = facts.platform_reference(lab.lock, engine_platform(doctor), "the class's lock")[1]
    except LabError as why:  # a platform the class's lock has no images for
        hand.environment, hand.identical = [str(why)], False
        return
    hand.environment = facts.differences(images, locked)
    hand.identical = not hand.environment


def engine_platform(doctor: dict) -> str:
    """The student's engine platform, from their doctor.json ("unknown": none of that form):
    their images are judged against the lock's entry for it."""
    return verdicts.platforms(doctor)[0] or "unknown"


def same_names(hands: list[HandIn]) -> None:
    """Hand-ins whose names could be one student's: equal case-folded, or confusable
    (Unicode's confusables: `AIice` with a capital i reads as `alice`)."""
    named = [h for h in hands if h.manifest]
    patterns = [re.compile(confusables.confusable_regex(h.name)) for h in named]
    for i, hand in enumerate(named):
        alike = [
            other
            for j, other in enumerate(named)
            if j != i
            and (other.name.casefold() == hand.name.casefold() or patterns[i].fullmatch(other.name))
        ]
        if alike:
            files = ", ".join(sorted(h.file for h in [hand, *alike]))
            names = ", ".join(sorted({h.name for h in [hand, *alike]}))
            hand.problems.append(
                f"{len(alike) + 1} hand-ins could be one student ({names}): {files}"
            )


def read_class(folder: Path, lab: Lab) -> list[HandIn]:
    """Every hand-in in FOLDER (each file not starting with `.`), read and judged."""
    try:
        folder_fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as error:
        raise LabError(f"cannot read the folder {folder}: {error.strerror}") from None
    try:
        names = sorted(n for n in os.listdir(folder_fd) if not n.startswith("."))
        hands = [read_hand_in(folder_fd, n) for n in names[:MAX_HAND_INS]]
    finally:
        os.close(folder_fd)
    if len(names) > MAX_HAND_INS:
        hands.append(
            HandIn(
                file="...",
                problems=[f"{len(names) - MAX_HAND_INS} more files not read (over {MAX_HAND_INS})"],
            )
        )
    for hand in hands:
        if hand.manifest:
            judge(hand, lab)
    same_names(hands)
    return hands


# -- what the page, --json and --csv show -------------------------------------------------


def station_labels(hands: list[HandIn], lab: Lab) -> list[str]:
    seen = {label for hand in hands for label in hand.stations}
    return list(lab.stations) + sorted(seen - set(lab.stations))


def verdict_of(hand: HandIn, label: str) -> str:
    result = hand.stations.get(label)
    return result.verdict if result else verdicts.NOT_RUN


def as_json(hands: list[HandIn]) -> dict:
    return {
        "students": [
            {
                "name": hand.name,
                "file": hand.file,
                "stations": {label: station_json(r) for label, r in hand.stations.items()},
                "environment": {"identical": hand.identical, "differences": hand.environment},
                "problems": hand.problems,
            }
            for hand in hands
        ]
    }


def station_json(result: StationResult) -> dict:
    return {
        "verdict": result.verdict,
        "recorded": result.recorded,
        "seconds": result.seconds,
        "not_judged": result.not_judged,
        "marks": result.marks,
        "problems": result.problems,
        "verified": result.verified,
    }


def json_text(table: dict) -> str:
    return json.dumps(table, indent=2, allow_nan=False)


def problem_lines(hands: list[HandIn]) -> list[str]:
    """Each problem as the terminal shows it: one line, naming the file; at most MAX_LINES
    a hand-in, then how many more the page lists."""
    lines = []
    for hand in hands:
        own = [f"{hand.file}: {p}" for p in hand.problems]
        for label, result in hand.stations.items():
            own += [f"{hand.file}: station {label}: {p}" for p in result.problems]
            own += [f"{hand.file}: station {label}: {k}: {why}" for k, why in result.marks.items()]
        if len(own) > MAX_LINES:
            own[MAX_LINES - 1 :] = [f"{hand.file}: {len(own) - MAX_LINES + 1} more (on the page)"]
        lines += own
    return [untrusted.text(line) for line in lines]


def anchor(hand_index: int, label: str = "") -> str:
    return f"student-{hand_index}" + (f"-station-{label}" if label else "")


def shown_name(index: int, hand: HandIn) -> str:
    """A name Matplotlib may draw (no `$`, which it reads as mathematics): a safe one or #N."""
    return hand.name if hand.manifest and hand_in.NAME.fullmatch(hand.name) else f"#{index + 1}"


def page_view(hands: list[HandIn], lab: Lab) -> dict:
    labels = station_labels(hands, lab)
    students = [student_view(i, hand, labels) for i, hand in enumerate(hands)]
    counts = {label: Counter(verdict_of(h, label) for h in hands if h.manifest) for label in labels}
    read = [h for h in hands if h.manifest]
    return {
        "generated": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "labels": labels,
        "verdicts": verdicts.VERDICTS,
        "counts": counts,
        "students": students,
        "problems": problem_lines(hands),
        "honesty": HONESTY,
        "lock_note": lab.lock_note,
        "identical": sum(1 for h in read if h.identical),
        "engines": Counter(engine_of(h) for h in read).most_common(),
        "differing": [s for s in students if s["hand"].manifest and not s["hand"].identical],
        "verified": verify.declared(lab.stations.values()) if lab.reference else None,
        "reference": lab.reference,
        "figures": class_figures.class_figures(
            [(shown_name(i, h), h.stations) for i, h in enumerate(hands)], lab.stations
        ),
    }


def engine_of(hand: HandIn) -> str:
    """The engine its doctor.json names (`Podman 4.3.1`), as one short printable line; a
    hand-in from before doctor recorded the kind says so."""
    engine = hand.machine.get("engine")
    if not isinstance(engine, dict):
        return "no engine facts"
    kind, version = engine.get("kind"), engine.get("version")
    said = f"{kind or 'an engine of unrecorded kind'}" + (f" {version}" if version else "")
    return untrusted.text(said, 80)


def student_view(index: int, hand: HandIn, labels: list[str]) -> dict:
    cells = []
    for label in labels:
        result = hand.stations.get(label)
        cells.append(
            None
            if result is None
            else {
                "label": label,
                "result": result,
                "anchor": anchor(index, label),
                "page": None if result.report is None else station_view(result, result.report),
            }
        )
    return {"hand": hand, "anchor": anchor(index), "cells": cells}


def station_view(result: StationResult, report: Report) -> dict:
    """The student's station (REPORT, RESULT's) as the class page shows it: the run, this
    lab's checks on its evidence and their marks, the questions; not the reading, which is
    the same for all."""
    shown = msgspec.structs.replace(report, reading=[])
    return page.view(
        shown,
        marks=result.marks,
        checks=result.checks or report.checks,
        shown_verdict=result.verdict,
    )


def class_report(
    folder: Path,
    output: Path | None,
    lock_path: Path | None,
    say: Callable[[str], None],
    verify_here: bool = False,
) -> tuple[list[HandIn], Lab]:
    """Read FOLDER's hand-ins and judge them; the class page to OUTPUT where one is named.
    Each problem is one line through SAY. With VERIFY_HERE, the deterministic experiments
    run first in this machine's images."""
    lab = this_lab(lock_path)
    if verify_here:
        lab.reference = verify.rerun(list(lab.stations.values()), say)
        for problem in lab.reference.problems:
            say(f"verify: {problem}")
    hands = read_class(folder, lab)
    for problem in problem_lines(hands):
        say(problem)
    if output is not None:
        html = page.render("class.html.j2", folders=(TEMPLATES,), view=page_view(hands, lab))
        write_atomically(output, html)
    return hands, lab


def grade_weights(path: Path | None) -> dict[str, float]:
    """Points per station for --csv (one line, before anything is read, if WEIGHTS is bad)."""
    return grades.weights(path, [s.label for s in stations.all_stations()])


def write_grades(output: Path, hands: list[HandIn], lab: Lab, worth: dict[str, float]) -> None:
    write_atomically(output, grades.csv_text(hands, list(lab.stations), worth))
