"""`invoke class-report FOLDER`: every hand-in in FOLDER on one page, re-judged.

A hand-in (hand_in.py) is a file a student could have edited, or one made by another
version of the lab, or one made to attack the instructor's machine. So it is read as data:
streamed, never unpacked to disk, every member's name, kind and size checked before its
bytes are read, and only the few members the page needs kept in memory. Its verdicts are
not taken on trust: this lab's checks re-run on the observations it holds, and a verdict
they do not give is marked. The observations themselves cannot be proven honest: a file
can hold any numbers, and the page says so.

A hand-in that cannot be read is one line on the terminal and a mark on the page; the rest
of the class is still shown, and nothing is written but the page itself.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import secrets
import stat
import statistics
import tarfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from lab import untrusted
from lab.classroom import facts, hand_in
from lab.classroom.bundle import KINDS, Header, Refused, plain
from lab.config import TORCH_IMAGES
from lab.errors import LabError
from lab.run import figures, page, stations
from lab.run.observations import Observation, Observations, load_checks, run_check

TEMPLATES = Path(__file__).parent / "templates"
HONESTY = (
    "Each verdict is re-judged: this lab's checks run again on the observations the hand-in "
    "holds, and a verdict they do not give is marked. The observations themselves cannot be "
    "proven honest from a file: a hand-in can hold any numbers, and re-judging only shows "
    "that its verdicts follow from them."
)
# What one hand-in may cost to read (a real one: a few MB, a few dozen members).
MAX_HAND_IN = 128 << 20  # bytes of the file itself, compressed
MAX_UNCOMPRESSED = 512 << 20  # bytes of all its members together: a decompression bomb stops
MAX_MEMBERS = 2000
MAX_JSON = 16 << 20  # bytes of one member kept and parsed (a report.json: ~100 KB)
MAX_KEPT = 64 << 20  # bytes kept in memory from one hand-in, all members together
MAX_HAND_INS = 500  # files in FOLDER
MEMBER_NAME = re.compile(
    r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}(?:/[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}){0,2}"
)
REPORT = re.compile(rf"({hand_in.STATION_FOLDER.pattern})/report\.json")
VERDICTS = ("pass", "fail", "skip")


@dataclass
class StationResult:
    label: str
    report: dict  # cleaned: every field of the type the page expects
    recorded: str  # "pass" or "fail": what the hand-in says
    rejudged: str | None  # what this lab's checks say of its observations (None: cannot)
    marks: dict[str, str] = field(default_factory=dict)  # {check name: why it is marked}
    problems: list[str] = field(default_factory=list)

    @property
    def marked(self) -> bool:
        return bool(self.marks or self.problems) or self.recorded != self.rejudged


@dataclass
class HandIn:
    file: str  # the file's name in FOLDER
    name: str = ""  # the student's, from the manifest (untrusted: shown escaped)
    manifest: dict = field(default_factory=dict)
    doctor: Any = None
    reports: dict[str, Any] = field(default_factory=dict)  # label -> parsed report.json
    problems: list[str] = field(default_factory=list)
    stations: dict[str, StationResult] = field(default_factory=dict)
    environment: list[str] = field(default_factory=list)
    identical: bool | None = None  # to the class lock (None: not known)


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
def open_hand_in(folder_fd: int, file_name: str):
    """The file, opened without following a link, where it is regular and not too big."""
    try:
        fd = os.open(
            file_name, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC, dir_fd=folder_fd
        )
    except OSError as error:
        raise LabError(f"cannot open it ({error.strerror}): a link or unreadable") from None
    with os.fdopen(fd, "rb") as fileobj:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise LabError("not a regular file")
        if info.st_size > MAX_HAND_IN:
            raise LabError(f"{info.st_size:,} bytes, over the {MAX_HAND_IN:,} a hand-in may be")
        yield fileobj


def read_members(fileobj, found: HandIn) -> dict[str, bytes]:
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
            data = tar.extractfile(member).read(member.size + 1)
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
    sums = manifest.get("members") if isinstance(manifest.get("members"), dict) else {}
    for member, data in kept.items():
        recorded = sums.get(member) if isinstance(sums.get(member), dict) else {}
        if recorded.get("sha256") != hashlib.sha256(data).hexdigest():
            found.problems.append(
                f"{member} is not the file `invoke hand-in` wrote (its SHA-256 is not the "
                "manifest's): edited after"
            )
        try:
            value = untrusted.json_value(data, member)
        except LabError as why:
            found.problems.append(str(why))
            continue
        if member == hand_in.DOCTOR:
            found.doctor = value
        else:
            found.reports[REPORT.fullmatch(member)[2]] = value


# -- a report.json, cleaned: whatever it holds, the page gets the types it expects -------------


def clean_report(raw: Any, label: str) -> dict:
    raw = raw if isinstance(raw, dict) else {}
    return {
        "station": label,
        "title": line(raw.get("title")),
        "started": line(raw.get("started"), 40),
        "seconds": number(raw.get("seconds")),
        "images": {line(k, 40): line(v, 200) for k, v in mapping(raw.get("images")).items()},
        "reading": [clean_reading(e) for e in sequence(raw.get("reading")) if isinstance(e, dict)],
        "experiments": [clean_experiment(e) for e in sequence(raw.get("experiments"))],
        "observations": sequence(raw.get("observations")),
        "checks": [clean_check(c) for c in sequence(raw.get("checks"))],
        "explain": [clean_question(q) for q in sequence(raw.get("explain"))],
        "files": [line(f, 200) for f in sequence(raw.get("files"))],
        "emulated": {line(k, 40): line(v) for k, v in mapping(raw.get("emulated")).items()},
        "passed": raw.get("passed") is True,
    }


def line(value: Any, limit: int = untrusted.MAX_TEXT) -> str:
    """VALUE as one safe line of at most LIMIT characters (a non-string as its JSON)."""
    if value is None:
        return ""
    if not isinstance(value, str):
        try:
            value = json.dumps(value)[:limit]
        except (ValueError, RecursionError):
            value = "?"
    return untrusted.text(value, limit)


def number(value: Any) -> float:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else 0.0


def mapping(value: Any) -> dict:
    return value if isinstance(value, dict) else {}


def sequence(value: Any) -> list:
    return value if isinstance(value, list) else []


def clean_reading(entry: dict) -> dict:
    clean = {}
    for key, value in entry.items():
        if isinstance(value, str):
            clean[line(key, 40)] = line(value)
        elif isinstance(value, list):
            clean[line(key, 40)] = [line(v) for v in value[:200]]
    return clean


def clean_experiment(entry: Any) -> dict:
    entry = mapping(entry)
    code = entry.get("exit_code")
    return {
        "experiment": line(entry.get("experiment"), 100),
        "variant": line(entry.get("variant"), 40),
        "exit_code": code if type(code) is int or code is None else -1,
        "seconds": number(entry.get("seconds")),
        "note": line(entry.get("note")),
    }


def clean_check(entry: Any) -> dict:
    entry = mapping(entry)
    status = entry.get("status")
    return {
        "name": line(entry.get("name"), 100),
        "description": line(entry.get("description")),
        "status": status if status in VERDICTS else "fail",
        "detail": line(entry.get("detail")),
    }


def clean_question(entry: Any) -> dict:
    entry = mapping(entry)
    evidence = [mapping(e) for e in sequence(entry.get("evidence"))]
    return {
        "question": line(entry.get("question")),
        "evidence": [
            {"key": line(e.get("key"), 100), "text": line(e.get("text"))} for e in evidence
        ],
    }


# -- re-judging: this lab's checks on the hand-in's observations ----------------------------


def rejudge(report: dict, station: stations.Station | None, checks: list) -> StationResult:
    label = report["station"]
    recorded = "pass" if report["passed"] else "fail"
    result = StationResult(label, report, recorded, None)
    if station is None:
        result.problems.append(f"this lab has no station {label}: not re-judged")
        return result
    if not report["checks"] and not report["experiments"]:
        result.rejudged = recorded  # a run that only read: nothing to judge
        return result
    obs = observations(report, station)
    fresh = [run_check(check, obs) for check in checks]
    written = {c["name"]: c for c in report["checks"]}
    for check in fresh:
        said = written.get(check.name)
        if said is None:
            result.problems.append(
                f"this lab's check {check.name} ({check.status.upper()} on these observations) "
                "is not in the hand-in: another version of the lab?"
            )
        elif said["status"] != check.status:
            result.marks[check.name] = (
                f"recorded {said['status'].upper()}, but this lab's check gives "
                f"{check.status.upper()} on the hand-in's observations: {check.detail}"
            )
    for name in written.keys() - {check.name for check in fresh}:
        result.marks[name] = (
            "this lab has no such check: not re-judged (another version of the lab?)"
        )
    failed_run = any(e["exit_code"] for e in report["experiments"])
    failed_check = any(check.status == "fail" for check in fresh)
    result.rejudged = "fail" if failed_run or failed_check else "pass"
    return result


def observations(report: dict, station: stations.Station) -> Observations:
    """The observations as the run's checks saw them: the variants it ran (the others skip,
    as they did) and the ones it ran under emulation (its timing checks skip)."""
    found = (Observation.from_report(o) for o in report["observations"])
    ran = {e["variant"] for e in report["experiments"] if e["exit_code"] is not None}
    torch = [name for name in TORCH_IMAGES if name in ran]  # the PyTorch image it ran in
    station = station.with_torch(torch[0] if torch else TORCH_IMAGES[0])
    every = set(station.variants)
    return Observations(
        [o for o in found if o is not None],
        variants_run=None if not ran or ran >= every else ran,
        planned={e.name: e.variants for e in station.experiments},
        why_not_run="not run in the handed-in run",
        emulated=report["emulated"],
    )


# -- the class -----------------------------------------------------------------------------


@dataclass
class Lab:
    """This lab: its stations, their checks (loaded once), its commit, the class lock."""

    stations: dict[str, stations.Station]
    checks: dict[str, list | LabError]  # a checks.py that does not load: its one line
    commit: dict
    lock: dict | None
    lock_note: str


def this_lab(lock_path: Path | None) -> Lab:
    found = {s.label: s for s in stations.all_stations()}
    checks: dict[str, list | LabError] = {}
    for label, station in found.items():
        try:
            checks[label] = (
                load_checks(station.checks_file) if station.checks_file.is_file() else []
            )
        except LabError as broken:  # that station is not re-judged; the others are
            checks[label] = broken
    lock, note = None, "are listed, not compared: there is no class lock here (lab.lock; or --lock)"
    if lock_path is not None:
        lock = facts.read_reference(lock_path)  # one line (LabError) when it is not one
        note = f"are compared with {lock_path}"
    return Lab(found, checks, hand_in.lab_commit(), lock, note)


def judge(hand: HandIn, lab: Lab) -> None:
    for label, raw in hand.reports.items():
        report = clean_report(raw, label)
        checks = lab.checks.get(label, [])
        if isinstance(checks, LabError):
            result = StationResult(label, report, "pass" if report["passed"] else "fail", None)
            result.problems.append(f"not re-judged: {checks}")
        else:
            result = rejudge(report, lab.stations.get(label), checks)
        hand.stations[label] = result
        if str(mapping(raw).get("station")) != label:
            result.problems.append("its report.json names another station than its folder")
    made_by = mapping(hand.manifest.get("lab"))
    if hand.manifest and made_by.get("commit") != lab.commit.get("commit"):
        theirs = line(str(made_by.get("commit") or "")[:12]) or "an unknown commit"
        hand.problems.append(
            f"made by another version of the lab ({theirs}, this one is "
            f"{str(lab.commit.get('commit'))[:12]}): its verdicts are re-judged by this "
            "one's checks"
        )
    environment(hand, lab)


def environment(hand: HandIn, lab: Lab) -> None:
    """How the student's images differ from the class lock, from the rootfs identities."""
    doctor = mapping(hand.doctor)
    if not hand.manifest:
        return
    if "images" not in doctor:
        why = line(doctor.get("error")) or "no doctor.json"
        hand.environment = [f"no image facts: {why}"]
        return
    try:
        images = {name: facts.facts_entry(name, entry, "its doctor.json")
                  for name, entry in mapping(doctor["images"]).items()}  # fmt: skip
    except LabError as why:
        hand.environment = [f"its doctor.json is not one doctor --json writes: {why}"]
        return
    if lab.lock is None:
        hand.environment = [
            f"{name}: {mapping(entry).get('rootfs', 'not built')}" for name, entry in images.items()
        ]
        return
    # A variant at a time: facts.differences rebinds its `here`/`there` arguments after a
    # difference, so a second variant in one call would be compared with a string.
    hand.environment = [
        line_ for variant, locked in lab.lock.items()
        for line_ in facts.differences(images, {variant: locked})
    ]  # fmt: skip
    hand.identical = not hand.environment


def same_names(hands: list[HandIn]) -> None:
    by_name: dict[str, list[HandIn]] = {}
    for hand in hands:
        if hand.manifest:
            by_name.setdefault(hand.name, []).append(hand)
    for name, group in by_name.items():
        if len(group) > 1:
            files = ", ".join(h.file for h in group)
            for hand in group:
                hand.problems.append(f"{len(group)} hand-ins name {name}: {files}")


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


# -- the class's measurements across machines, as figures ----------------------------------

# The observations drawn (stations/03-gil and stations/01-frames): a hand-in that lacks one,
# or a station that renamed it, gives no point; a figure with no point is not drawn.
CORES = "scaling.cores"
SPEEDUPS = {  # series: observation
    "threads on stock (GIL)": "scaling.threads_speedup@stock",
    "threads on 3.13t (free-threaded)": "scaling.threads_speedup@ft",
    "processes on stock": "scaling.processes_speedup@stock",
}
SUITE_MEAN = "single_thread_tax.mean_s"  # {benchmark: seconds per call}, on stock and ft
PRIME_SINGLE = "scaling.threads_single_s"  # one thread counting primes, on stock and ft
GLOBAL_OVER_LOCAL = "load_fast_vs_global.global_over_local"  # on stock and ft
FIGURE_ERRORS = (KeyError, TypeError, ValueError, ZeroDivisionError, AttributeError)


def class_figures(hands: list[HandIn]) -> list[page.Figure]:
    """Station 3's speedups against the cores, the single-thread tax, station 1's ratio."""
    named = [(shown_name(i, h), h) for i, h in enumerate(hands)]
    runs = {"3": [], "1": []}
    for name, hand in named:
        for label in runs:
            if label in hand.stations:
                runs[label].append((name, figures.observations_of(hand.stations[label].report)))
    return [speedups_figure(runs["3"]), tax_figure(runs["3"]), ratio_figure(runs["1"])]


def shown_name(index: int, hand: HandIn) -> str:
    """A name Matplotlib may draw (no `$`, which it reads as mathematics): a safe one or #N."""
    return hand.name if hand.manifest and hand_in.NAME.fullmatch(hand.name) else f"#{index + 1}"


def measured(obs: Observations, key: str, *timed_on: str) -> float | None:
    """OBS[KEY] as a number, or None where it is absent, not a number, or timed emulated."""
    try:
        obs.timed(*timed_on)
        value = obs[key]
    except FIGURE_ERRORS:
        return None
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def new_figure(width: float = 6.4, height: float = 3.6):
    from matplotlib.figure import Figure  # imported only where a class page is drawn

    figure = Figure(figsize=(width, height))
    return figure, figure.add_subplot()


def not_drawn(title: str) -> page.Figure:
    return page.Figure(title, "not drawn: no hand-in holds these observations")


def speedups_figure(runs: list) -> page.Figure:
    title = "Station 3: speedup at every core, against the machine's cores"
    figure, axes = new_figure()
    points = 0
    for series, key in SPEEDUPS.items():
        xs, ys, names = [], [], []
        for name, obs in runs:
            cores = max_value(obs, CORES)
            speedup = measured(obs, key, key.rpartition("@")[2])
            if cores is not None and speedup is not None:
                xs.append(cores), ys.append(speedup), names.append(name)
        if xs:
            axes.scatter(xs, ys, label=series)
            for x, y, name in zip(xs, ys, names, strict=True):
                axes.annotate(name, (x, y), fontsize=7, xytext=(3, 3), textcoords="offset points")
            points += len(xs)
    if not points:
        return not_drawn(title)
    top = max(axes.get_xlim()[1], 2)
    axes.plot([1, top], [1, top], color="gray", linestyle="--", linewidth=0.8, label="ideal")
    axes.set_xlabel("cores the container could use")
    axes.set_ylabel("speedup over one worker")
    axes.legend(fontsize=8)
    return page.Figure(title, "one point per student; an ideal speedup equals the cores",
                       svg=figures.as_svg(figure))  # fmt: skip


def max_value(obs: Observations, key: str) -> float | None:
    with contextlib.suppress(*FIGURE_ERRORS):
        values = [v for v in obs.by_variant(key).values() if isinstance(v, (int, float))]
        return float(max(values)) if values else None
    return None


def tax_figure(runs: list) -> page.Figure:
    title = "Station 3: the single-thread tax, 3.13t's time over stock's"
    names, suite, prime = [], [], []
    for name, obs in runs:
        s = suite_ratio(obs)
        p_ft, p_stock = (
            measured(obs, f"{PRIME_SINGLE}@{v}", "stock", "ft") for v in ("ft", "stock")
        )
        if s is None and not (p_ft and p_stock):
            continue
        names.append(name)
        suite.append(s or 0.0)
        prime.append(p_ft / p_stock if p_ft and p_stock else 0.0)
    series = {"pyperformance suite (geometric mean)": suite, "counting primes, one thread": prime}
    return paired_bars(title, names, series, "ft / stock (above 1: slower)")


def suite_ratio(obs: Observations) -> float | None:
    with contextlib.suppress(*FIGURE_ERRORS):
        obs.timed("stock", "ft")
        stock, ft = obs[f"{SUITE_MEAN}@stock"], obs[f"{SUITE_MEAN}@ft"]
        ratios = [ft[k] / stock[k] for k in stock if k in ft]
        if ratios and all(r > 0 for r in ratios):
            return statistics.geometric_mean(ratios)
    return None


def ratio_figure(runs: list) -> page.Figure:
    title = "Station 1: a global's read over a local's"
    names, stock, ft = [], [], []
    for name, obs in runs:
        s = measured(obs, f"{GLOBAL_OVER_LOCAL}@stock", "stock")
        f = measured(obs, f"{GLOBAL_OVER_LOCAL}@ft", "ft")
        if s is None and f is None:
            continue
        names.append(name)
        stock.append(s or 0.0)
        ft.append(f or 0.0)
    return paired_bars(title, names, {"stock": stock, "3.13t": ft}, "global / local")


def paired_bars(title: str, names: list, series: dict[str, list], ylabel: str) -> page.Figure:
    """Two bars per student (a series each), beside a line at 1; a bar at 0 was not measured."""
    if not names:
        return not_drawn(title)
    figure, axes = new_figure()
    at = range(len(names))
    for offset, (label, values) in zip((-0.2, 0.2), series.items(), strict=True):
        axes.bar([i + offset for i in at], values, 0.4, label=label)
    axes.axhline(1.0, color="gray", linewidth=0.8)
    axes.set_xticks(list(at), names, fontsize=8)
    axes.set_ylabel(ylabel)
    axes.legend(fontsize=8)
    return page.Figure(title, "a bar at 0 was not measured", svg=figures.as_svg(figure))


# -- what the page and --json show ---------------------------------------------------------


def station_labels(hands: list[HandIn], lab: Lab) -> list[str]:
    seen = {label for hand in hands for label in hand.stations}
    return list(lab.stations) + sorted(seen - set(lab.stations))


def as_json(hands: list[HandIn]) -> dict:
    return {
        "students": [
            {
                "name": hand.name,
                "file": hand.file,
                "stations": {
                    label: {
                        "recorded": r.recorded,
                        "rejudged": r.rejudged,
                        "seconds": r.report["seconds"],
                        "marks": r.marks,
                        "problems": r.problems,
                    }
                    for label, r in hand.stations.items()
                },
                "environment": {"identical": hand.identical, "differences": hand.environment},
                "problems": hand.problems,
            }
            for hand in hands
        ]
    }


def json_text(table: dict) -> str:
    return json.dumps(table, indent=2)


def problem_lines(hands: list[HandIn]) -> list[str]:
    """Each problem as the terminal shows it: one line, naming the file."""
    lines = []
    for hand in hands:
        lines += [f"{hand.file}: {p}" for p in hand.problems]
        for label, result in hand.stations.items():
            lines += [f"{hand.file}: station {label}: {p}" for p in result.problems]
            lines += [
                f"{hand.file}: station {label}: {name}: {why}" for name, why in result.marks.items()
            ]
    return [untrusted.text(line_) for line_ in lines]


def anchor(hand_index: int, label: str = "") -> str:
    return f"student-{hand_index}" + (f"-station-{label}" if label else "")


def page_view(hands: list[HandIn], lab: Lab) -> dict:
    labels = station_labels(hands, lab)
    students = []
    for index, hand in enumerate(hands):
        cells = []
        for label in labels:
            result = hand.stations.get(label)
            cells.append(None if result is None else {
                "label": label, "result": result, "anchor": anchor(index, label),
                "page": page.view(result.report, marks=result.marks),
            })  # fmt: skip
        students.append({"hand": hand, "anchor": anchor(index), "cells": cells})
    return {
        "generated": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "labels": labels,
        "students": students,
        "problems": problem_lines(hands),
        "honesty": HONESTY,
        "lock_note": lab.lock_note,
        "figures": class_figures(hands),
    }


def write_page(output: Path, html: str) -> None:
    """OUTPUT, whole: written aside in its folder, then renamed over what was there."""
    folder = output.parent
    aside = folder / f".{output.name}.{secrets.token_hex(4)}.partial"
    try:
        with open(aside, "x", encoding="utf-8", errors="replace") as out:
            out.write(html)
        os.replace(aside, output)
    except OSError as error:
        with contextlib.suppress(OSError):
            aside.unlink()
        raise LabError(f"cannot write {output}: {error.strerror or error}") from None


def class_report(
    folder: Path, output: Path, lock_path: Path | None, say: Callable[[str], None]
) -> tuple[Path, dict]:
    """Read FOLDER's hand-ins, write the class page to OUTPUT; (its path, the --json table).
    Each problem is one line through SAY."""
    lab = this_lab(lock_path)
    hands = read_class(folder, lab)
    for problem in problem_lines(hands):
        say(problem)
    html = page.render("class.html.j2", folders=(TEMPLATES,), view=page_view(hands, lab))
    write_page(output, html)
    return output, as_json(hands)
