"""A station run's report as one typed model: what report.json may hold, bounded.

Every reader of a report.json goes through `read()`: the run's own page and the index,
and the class page, where the file is a student's hand-in and may hold anything. The run
writes through `of()`, so its own report passes the same gate. Each field has its type,
and every string, list and number its bound, so that a 70 KB hand-in cannot become
millions of entries, a 400-digit number, infinity or a list where a line was expected;
what does not fit is one line naming the field (msgspec's path: `$.experiments[3].seconds`),
never a traceback. Nothing downstream re-checks a field by hand.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import msgspec

from lab.errors import LabError
from lab.untrusted import MAX_EXCERPT_LINES, MAX_NAME_CHARS, MAX_TEXT, measured

# What one report may hold. A real run: a few dozen of each, a few hundred observations.
MAX_READING = 200
MAX_EXPERIMENTS = 200
MAX_OBSERVATIONS = 10_000  # the run keeps the first ones, and says so
MAX_CHECKS = 200
MAX_QUESTIONS = 100
MAX_EVIDENCE = 50
MAX_FILES = 501  # the run lists 500, then "... and N more"
MAX_IMAGES = 16
MAX_SECONDS = 1e6

Text = Annotated[str, msgspec.Meta(max_length=MAX_TEXT)]
Short = Annotated[str, msgspec.Meta(max_length=MAX_NAME_CHARS)]
Word = Annotated[str, msgspec.Meta(pattern=r"^[A-Za-z0-9_.-]{1,100}$")]
Digits = Annotated[str, msgspec.Meta(pattern=r"^[0-9]{0,7}$")]  # "²" is a digit to isdigit()
Seconds = Annotated[float, msgspec.Meta(ge=0, le=MAX_SECONDS)]
ExitCode = Annotated[int, msgspec.Meta(ge=-(2**31), le=2**31)]
Status = Literal["pass", "fail", "skip"]


def at_most(n: int) -> msgspec.Meta:
    """A list's bound, as Annotated[list[...], at_most(N)] (a type checker reads the list)."""
    return msgspec.Meta(max_length=n)


class Struct(msgspec.Struct):
    """Unknown fields are ignored (a newer lab's report still reads); none is required
    that an older lab did not write."""


class ReadingEntry(Struct):
    status: Literal["found", "moved", "missing", "document"]
    tree: Short = ""
    path: Short = ""
    symbol: Short = ""
    why: Text = ""
    note: Text = ""
    url: Text = ""
    title: Text = ""
    at: Text = ""
    excerpt_start: Digits = ""
    excerpt: Annotated[list[Text], at_most(MAX_EXCERPT_LINES)] = []
    context: Annotated[list[Text], at_most(MAX_EXCERPT_LINES)] = []


class ExperimentRun(Struct):
    experiment: Word
    variant: Word
    exit_code: ExitCode | None  # None: skipped (its image is not built here)
    seconds: Seconds = 0.0
    note: Text = ""

    @property
    def ran(self) -> bool:
        return self.exit_code is not None


class ObservationRecord(Struct):
    experiment: Word
    variant: Word
    name: Word
    value: Any
    unit: Short = ""

    def __post_init__(self) -> None:
        self.value = measured(self.value)  # the run's collector's own check


class CheckRecord(Struct):
    name: Word
    status: Status
    description: Text = ""
    detail: Text = ""


class Evidence(Struct):
    key: Short
    text: Text = ""
    values: dict[Word, Any] = {}

    def __post_init__(self) -> None:
        self.values = measured(self.values)


class Question(Struct):
    question: Text
    evidence: Annotated[list[Evidence], at_most(MAX_EVIDENCE)] = []


class Report(Struct):
    station: Annotated[str, msgspec.Meta(pattern=r"^[a-z0-9][a-z0-9-]{0,30}$")]
    title: Text = ""
    started: Annotated[str, msgspec.Meta(max_length=40)] = ""
    seconds: Seconds = 0.0
    images: Annotated[dict[Word, Short], msgspec.Meta(max_length=MAX_IMAGES)] = {}
    reading: Annotated[list[ReadingEntry], at_most(MAX_READING)] = []
    experiments: Annotated[list[ExperimentRun], at_most(MAX_EXPERIMENTS)] = []
    observations: Annotated[list[ObservationRecord], at_most(MAX_OBSERVATIONS)] = []
    checks: Annotated[list[CheckRecord], at_most(MAX_CHECKS)] = []
    explain: Annotated[list[Question], at_most(MAX_QUESTIONS)] = []
    files: Annotated[list[Short], at_most(MAX_FILES)] = []
    emulated: Annotated[dict[Word, Text], msgspec.Meta(max_length=MAX_IMAGES)] = {}
    passed: bool = False

    @property
    def read_only(self) -> bool:
        """A run that only read (`--read-only`): no experiment ran, so nothing was judged."""
        return not any(e.ran for e in self.experiments)


def reading_entry(entry: dict) -> ReadingEntry:
    """One entry of the reading resolver's answer (already checked by untrusted.reading)."""
    try:
        return msgspec.convert(entry, type=ReadingEntry)
    except msgspec.ValidationError as error:
        raise LabError(f"the reading resolver's answer does not fit its model: {error}") from None


def read(data: bytes, source: str) -> Report:
    """DATA (a report.json's bytes) as a Report, or one line naming SOURCE and the field."""
    try:
        return msgspec.json.decode(data, type=Report)
    except msgspec.ValidationError as error:
        raise LabError(f"{source} is not a report this lab writes: {str(error)[:300]}") from None
    except msgspec.DecodeError as error:
        raise LabError(f"{source} is not JSON ({str(error)[:120]})") from None
    except RecursionError:
        raise LabError(f"{source} nests too deep to be a report this lab writes") from None


def of(report: dict) -> Report:
    """The run's own report (a dict as station_run builds it), through the same gate."""
    try:
        return msgspec.convert(report, type=Report)
    except msgspec.ValidationError as error:
        raise LabError(f"the run's report does not fit its model: {error}") from None


def as_json(report: Report) -> str:
    """report.json's text: indented, strict JSON (no NaN or Infinity: the model has none)."""
    return msgspec.json.format(msgspec.json.encode(report), indent=2).decode() + "\n"


def as_dict(report: Report) -> dict:
    """REPORT as plain JSON values (what `--json` prints)."""
    return msgspec.to_builtins(report)
