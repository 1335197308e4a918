"""`invoke class-report FOLDER --csv FILE [--weights FILE]`: the class's grades, one row
per student, for a learning platform's gradebook.

Points follow the verdicts judged on evidence (verdicts.py): a PASS earns the station's
points, a PARTIAL the share of its checks that were judged and passed, a FAIL or NOT RUN
none. The columns are plain CSV that Canvas's and Moodle's gradebook imports take: a
name and a login to match the student by, then one column of points per station and the
total; the verdicts and marks follow for the instructor's eye (a platform's import lets
the instructor leave such columns out).
"""

from __future__ import annotations

import csv
import io
import sys
from collections.abc import Iterable
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # Ubuntu 22.04's Python 3.10
    import tomli as tomllib

from lab import untrusted
from lab.classroom import verdicts
from lab.classroom.verdicts import StationResult
from lab.errors import LabError

MAX_WEIGHTS = 4096  # bytes of a weights file: a line per station
MAX_POINTS = 1000.0
# A spreadsheet runs a cell that starts with these as a formula (CSV injection): a
# student's name could, so such a cell is prefixed with a quote.
FORMULA = ("=", "+", "-", "@", "\t", "\r")


def weights(path: Path | None, labels: Iterable[str]) -> dict[str, float]:
    """Points per station: 1 each, or WEIGHTS (TOML: `"1" = 10`, a station per line)."""
    labels = list(labels)
    if path is None:
        return dict.fromkeys(labels, 1.0)
    raw = untrusted.regular_file(path, MAX_WEIGHTS)
    try:
        table = tomllib.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, tomllib.TOMLDecodeError) as error:
        raise LabError(f"{path} is not TOML ({untrusted.text(str(error), 100)})") from None
    unknown = sorted(set(table) - set(labels))
    if unknown:
        raise LabError(
            f"{path} names stations this lab does not have ({', '.join(unknown)[:100]}): "
            f"choose from {', '.join(labels)}"
        )
    for label, points in table.items():
        number = isinstance(points, (int, float)) and not isinstance(points, bool)
        if not number or not 0 <= points <= MAX_POINTS:
            raise LabError(f"{path}: station {label}'s points must be a number, 0-{MAX_POINTS:g}")
    return {label: float(table.get(label, 0)) for label in labels}


def points(result: StationResult | None, worth: float) -> float:
    if result is None or result.verdict in (verdicts.FAIL, verdicts.NOT_RUN):
        return 0.0
    if result.verdict == verdicts.PASS:
        return worth
    passed = sum(1 for c in result.checks if c.status == "pass")  # a skip earns nothing
    return worth * passed / len(result.checks) if result.checks else 0.0


def cell(value: str) -> str:
    return "'" + value if value.startswith(FORMULA) else value


def csv_text(hands: list, labels: list[str], worth: dict[str, float]) -> str:
    """One row per student read (a file that is not a hand-in has no student to grade)."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    total = sum(worth.values())
    writer.writerow(
        ["Student", "SIS Login ID", "Hand-in"]
        + [f"Station {label} ({worth[label]:g} pts)" for label in labels]
        + [f"Total ({total:g} pts)"]
        + [f"Station {label} verdict" for label in labels]
        + ["Marks"]
    )
    for hand in hands:
        if not hand.manifest:
            continue
        earned = [points(hand.stations.get(label), worth[label]) for label in labels]
        shown = [
            (hand.stations[label].verdict if label in hand.stations else verdicts.NOT_RUN).upper()
            for label in labels
        ]
        marks = len(hand.problems) + sum(
            len(r.marks) + len(r.problems) for r in hand.stations.values()
        )
        writer.writerow(
            [cell(hand.name), cell(hand.name), cell(hand.file)]
            + [f"{p:.2f}" for p in earned]
            + [f"{sum(earned):.2f}"]
            + shown
            + [str(marks)]
        )
    return out.getvalue()
