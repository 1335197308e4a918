"""A hand-in's station, judged on evidence: the verdict the class page shows and grades.

A report.json says which variants ran, what ran under emulation, which checks passed and
whether the run passed. Each of those is a claim. The verdict here rests on what the lab
can check instead:

- which variants a station runs comes from the station's definition (this lab's
  station.toml), not from the report; an experiment on a variant the station does not
  have, or one the station does not run, is not evidence of anything;
- what ran under emulation must agree with the hand-in's own machine facts (doctor.json:
  the image's platform against the engine's), else the timing checks are judged;
- every check is run again by this lab on the observations of the experiments that ran,
  and a skip's reason is the lab's own (a variant not run, emulation, the noise measured);
- where `--verify` re-ran the deterministic experiments here, an observation that differs
  from the re-run is false evidence: the station fails.

PASS: every check judged and passed, every experiment of every variant ran and exited 0.
PARTIAL: nothing failed, but something was not judged (say which and why). FAIL. NOT RUN:
no run that ran an experiment (a read-only run judges nothing), or no report to read.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from lab import untrusted
from lab.config import TORCH_IMAGES
from lab.run import stations
from lab.run.observations import CheckResult, Observation, Observations, run_check
from lab.run.report_model import Report

PASS, PARTIAL, FAIL, NOT_RUN = "pass", "partial", "fail", "not run"
VERDICTS = (PASS, PARTIAL, FAIL, NOT_RUN)
PLATFORM = re.compile(r"linux/[a-z0-9_]{1,20}(/[a-z0-9]{1,8})?")
MAX_NAMED = 5  # names listed in one line (unknown checks, experiments); the rest counted


@dataclass
class StationResult:
    """One station of one hand-in: its verdict, and the evidence the page shows for it."""

    label: str
    report: Report | None  # None: the hand-in's report.json could not be read
    recorded: str  # what the hand-in says: "pass", "fail" or "read only"
    verdict: str = NOT_RUN
    checks: list[CheckResult] = field(default_factory=list)  # this lab's, on the evidence
    not_judged: list[str] = field(default_factory=list)  # why PARTIAL: a line each
    marks: dict[str, str] = field(default_factory=dict)  # {check or observation: why}
    problems: list[str] = field(default_factory=list)
    emulated: dict[str, str] = field(default_factory=dict)  # the emulation the facts confirm
    verified: list[str] = field(default_factory=list)  # observations equal to the re-run's

    @property
    def marked(self) -> bool:
        return bool(self.marks or self.problems)

    @property
    def contradicted(self) -> bool:
        """The hand-in's own verdict and this lab's disagree on passing (a PARTIAL recorded
        as a pass is not a contradiction: the run itself did not say what went unjudged)."""
        return (self.recorded == PASS) != (self.verdict in (PASS, PARTIAL))

    @property
    def seconds(self) -> float:
        return self.report.seconds if self.report else 0.0


def recorded(report: Report) -> str:
    if report.read_only:
        return "read only"
    return PASS if report.passed else FAIL


def not_run(label: str, report: Report | None, why: str) -> StationResult:
    result = StationResult(label, report, recorded(report) if report else "unreadable")
    result.problems.append(why)
    return result


def judge(
    report: Report,
    station: stations.Station,
    checks: list,
    machine: dict,
    mismatches: Sequence = (),
) -> StationResult:
    """REPORT of STATION re-judged with CHECKS on its evidence; MACHINE: the hand-in's
    doctor.json; MISMATCHES: what --verify found different from its re-run."""
    label = station.label
    if report.read_only:
        return not_run(label, report, "a read-only run: no experiment ran, nothing was judged")
    station = resolved_torch(station, report)
    result = StationResult(label, report, recorded(report))
    ran = variants_ran(report, station, result.problems)
    if not ran:
        result.problems.append(f"no experiment of station {label} ran: nothing was judged")
        return result
    result.emulated = confirmed_emulation(report.emulated, machine, result.problems)
    obs = evidence(report, station, ran, result.emulated)
    result.checks = [run_check(check, obs) for check in checks]
    compare_recorded(report, result)
    for m in mismatches:
        result.marks[f"{m.experiment}.{m.name}@{m.variant}"] = m.line()
    result.not_judged = unjudged(report, station, ran, result.checks)
    result.verdict = verdict_of(report, station, result, bool(mismatches))
    return result


def resolved_torch(station: stations.Station, report: Report) -> stations.Station:
    """The station with "the PyTorch image" as the one the hand-in ran in (either is one)."""
    used = [e.variant for e in report.experiments if e.variant in TORCH_IMAGES]
    return station.with_torch(used[0] if used else TORCH_IMAGES[0])


def planned_pairs(station: stations.Station) -> set[tuple[str, str]]:
    """(experiment, variant) for each experiment the station runs, on each of its variants."""
    return {(e.name, v) for e in station.experiments for v in e.variants}


def ran_pairs(report: Report) -> set[tuple[str, str]]:
    """(experiment, variant) for each experiment the report says ran."""
    return {(e.experiment, e.variant) for e in report.experiments if e.ran}


def variants_ran(report: Report, station: stations.Station, problems: list[str]) -> set[str]:
    """The station's variants the run ran an experiment on; a listed experiment the station
    does not have (on that variant) is a problem, not evidence."""
    planned = planned_pairs(station)
    foreign = sorted(
        {
            f"{e.experiment} on {e.variant}"
            for e in report.experiments
            if (e.experiment, e.variant) not in planned
        }
    )
    if foreign:
        problems.append(
            f"lists experiments station {station.label} does not run: {named(foreign)}; "
            "not taken as evidence"
        )
    return {variant for _, variant in ran_pairs(report) & planned}


def named(items: list[str]) -> str:
    shown = ", ".join(untrusted.text(i, 80) for i in items[:MAX_NAMED])
    return shown + (f" and {len(items) - MAX_NAMED} more" if len(items) > MAX_NAMED else "")


def confirmed_emulation(claimed: dict[str, str], machine: dict, problems: list[str]) -> dict:
    """The variants the report says ran emulated, where the hand-in's own machine facts
    agree (the image's platform is not the engine's); the others' timings are judged."""
    engine, images = platforms(machine)
    confirmed = {}
    for variant in claimed:
        image = images.get(variant)
        if engine and image and image != engine:
            confirmed[variant] = f"emulated ({image} on {engine})"
        else:
            shown = f"{image or 'unknown'} on {engine or 'an unknown engine'}"
            problems.append(
                f"says {variant} ran emulated, but its machine facts say {shown}: "
                "its timing checks are judged"
            )
    return confirmed


def platforms(machine: dict) -> tuple[str | None, dict[str, str]]:
    """The engine's platform and each image's, from a doctor.json (already checked)."""
    engine = machine["engine"] if isinstance(machine.get("engine"), dict) else {}
    platform = engine.get("platform")
    platform = platform if isinstance(platform, str) and PLATFORM.fullmatch(platform) else None
    return platform, image_facts(machine, "platform")


def evidence(
    report: Report, station: stations.Station, ran: set[str], emulated: dict[str, str]
) -> Observations:
    """The observations of the experiments that ran, as the run's checks saw them."""
    done = ran_pairs(report)
    records = [Observation.of(o) for o in report.observations if (o.experiment, o.variant) in done]
    every = set(station.variants)
    return Observations(
        records,
        variants_run=None if ran >= every else ran,
        planned={e.name: e.variants for e in station.experiments},
        why_not_run="not run in the handed-in run",
        emulated=emulated,
    )


def compare_recorded(report: Report, result: StationResult) -> None:
    """Mark each check whose recorded verdict this lab's does not give on the evidence."""
    written = {c.name: c for c in report.checks}
    fresh = {c.name for c in result.checks}
    for check in result.checks:
        said = written.get(check.name)
        if said is not None and said.status != check.status:
            result.marks[check.name] = (
                f"recorded {said.status.upper()}, but this lab's check gives "
                f"{check.status.upper()} on the hand-in's evidence: {check.detail}"
            )
    missing = [c.name for c in result.checks if c.name not in written]
    if missing:
        result.problems.append(
            f"this lab's checks {named(missing)} are not in the hand-in (another version of "
            "the lab?): judged here all the same"
        )
    unknown = sorted(written.keys() - fresh)
    if unknown:
        result.problems.append(f"checks this lab does not have: {named(unknown)}; not judged")


def unjudged(
    report: Report, station: stations.Station, ran: set[str], checks: list[CheckResult]
) -> list[str]:
    """Why the station is not a full PASS though nothing failed: a line each."""
    lines = [f"{c.name} skipped: {c.detail}" for c in checks if c.status == "skip"]
    done = ran_pairs(report)
    left = [
        f"{e.name} on {v}"
        for e in station.experiments
        for v in e.variants
        if v in ran and (e.name, v) not in done
    ]
    if left:
        lines.insert(0, f"did not run {named(left)}")
    missing = [v for v in station.variants if v not in ran]
    if missing:
        lines.insert(0, f"not run on {', '.join(missing)}")
    return lines


def verdict_of(
    report: Report, station: stations.Station, result: StationResult, false: bool
) -> str:
    planned = planned_pairs(station)
    failed_run = any(
        e.exit_code for e in report.experiments if (e.experiment, e.variant) in planned
    )
    if false or failed_run or any(c.status == "fail" for c in result.checks):
        return FAIL
    return PARTIAL if result.not_judged else PASS


def image_ids(machine: dict) -> dict[str, str]:
    """Each image's rootfs identity from a hand-in's doctor.json (already checked)."""
    return image_facts(machine, "rootfs")


def image_facts(machine: dict, key: str) -> dict[str, str]:
    """KEY of each image a doctor.json lists as built (a string), by variant."""
    images = machine["images"] if isinstance(machine.get("images"), dict) else {}
    return {
        name: entry[key]
        for name, entry in images.items()
        if isinstance(entry, dict) and isinstance(entry.get(key), str)
    }
