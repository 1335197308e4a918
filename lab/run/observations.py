"""What the experiments measured, and the checks that judge it."""

from __future__ import annotations

import contextlib
import importlib.util
import signal
import threading
import traceback
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from inspect import isfunction
from pathlib import Path
from typing import Any

from lab.errors import LabError
from lab.run.report_model import ObservationRecord
from lab.untrusted import text


@dataclass(frozen=True)
class Observation:
    experiment: str
    variant: str
    name: str
    value: Any
    unit: str = ""

    @property
    def key(self) -> str:
        return f"{self.experiment}.{self.name}"

    @classmethod
    def of(cls, record: ObservationRecord) -> Observation:
        """One of a report's observations (already checked by its model)."""
        return cls(record.experiment, record.variant, record.name, record.value, record.unit)


MIN_MARGIN = 0.02  # below 2%, a difference is not one a learner should be told about
TOO_NOISY = 0.05  # an A/A test off by more: the host cannot tell a ~10% difference today


class NotRun(KeyError):
    """The observation belongs to a variant this run left out (--variant)."""


class Observations:
    """Observations by `experiment.name`, with one value per variant that measured it."""

    def __init__(
        self,
        records: list[Observation] | None = None,
        variants_run: set[str] | None = None,
        planned: dict[str, tuple[str, ...]] | None = None,
        why_not_run: str = "--variant",
        emulated: dict[str, str] | None = None,
    ) -> None:
        self.records: list[Observation] = list(records or [])
        self.variants_run = variants_run  # None: every variant ran
        self.planned = planned or {}  # experiment -> the variants it runs on
        self.why_not_run = why_not_run  # what left the other variants out
        self.emulated = emulated or {}  # variant -> why its timings say nothing

    def timed(self, *variants: str) -> None:
        """A check that judges a time or a speedup calls this first: it skips, saying why,
        where those variants (any of the run's, if none is named) ran under emulation."""
        for variant in variants or tuple(self.emulated):
            if variant in self.emulated:
                raise NotRun(f"timed on {variant}, {self.emulated[variant]}: not judged")

    def beyond_noise(
        self, ratio: float, same: float, detail: str, min_margin: float = MIN_MARGIN
    ) -> tuple[bool | None, str]:
        """A speedup judged against the noise measured in the same run: RATIO is B's time
        over A's, SAME is A timed against itself in the same rounds (an A/A test), so
        |SAME - 1| is what the machine's noise alone makes of no difference. The speedup
        must clear twice that, and at least MIN_MARGIN; where the noise is over TOO_NOISY
        and swallows the effect, the check skips (None), saying so: it cannot pass when
        both sides are the same code."""
        noise = abs(same - 1)
        margin = max(min_margin, 2 * noise)
        detail = f"{detail}; A/A {same:.3f}x, so want > {1 + margin:.3f}x"
        if noise > TOO_NOISY and ratio <= 1 + margin:
            return None, f"{detail}: the host is too noisy to tell (A/A off by {noise:.0%})"
        return ratio > 1 + margin, detail

    def add(self, record: Observation) -> None:
        self.records.append(record)

    def by_variant(self, key: str) -> dict[str, Any]:
        found = {r.variant: r.value for r in self.records if r.key == key}
        if not found:
            experiment = key.partition(".")[0]
            variants = self.planned.get(experiment, ())
            if self.variants_run is not None and variants and not set(variants) & self.variants_run:
                raise NotRun(
                    f"{experiment} runs on {', '.join(variants)}, not run ({self.why_not_run})"
                )
            raise KeyError(f"no observation {key!r} (did its experiment fail?)")
        return found

    def __getitem__(self, key: str) -> Any:
        """The value of KEY; `key@variant` picks one variant where several measured it."""
        key, _, variant = key.partition("@")
        if variant and self.variants_run is not None and variant not in self.variants_run:
            raise NotRun(f"{variant} was not run in this run ({self.why_not_run})")
        values = self.by_variant(key)
        if variant:
            if variant not in values:
                raise KeyError(f"no observation {key!r} on {variant}")
            return values[variant]
        if len(values) > 1:
            raise KeyError(f"{key!r} was measured on {sorted(values)}: name one ({key}@stock)")
        return next(iter(values.values()))

    def unit(self, key: str) -> str:
        return next((r.unit for r in self.records if r.key == key), "")


@dataclass(frozen=True)
class CheckResult:
    name: str
    description: str
    status: str  # "pass", "fail" or "skip"
    detail: str


def load_checks(path: Path) -> list[Callable]:
    """The check_* functions of a station's checks.py, in the order they are written.

    A checks.py that does not import is one line (LabError), before anything runs.
    """
    return load_functions(path, "check_", f"lab_checks_{path.parent.name}")


def load_functions(path: Path, prefix: str, module_name: str) -> list[Callable]:
    """The functions the station's file PATH defines (not those it imports) whose names
    start with PREFIX, in the order they are written; one that does not load is one line."""
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:  # not a .py file Python knows how to load
        raise LabError(f"{path}: not a Python module")
    module = importlib.util.module_from_spec(spec)
    try:
        spec.loader.exec_module(module)
    except (Exception, SystemExit) as error:  # whatever the file raises while it loads
        where = _last_frame_in(path, error)
        raise LabError(
            f"{path} does not load: {type(error).__name__}: {text(str(error), 200)}{where}"
        ) from None
    found = [
        v
        for k, v in vars(module).items()
        if k.startswith(prefix) and isfunction(v) and v.__module__ == module_name
    ]
    return sorted(found, key=lambda f: f.__code__.co_firstlineno)


def _last_frame_in(path: Path, error: BaseException) -> str:
    line = getattr(error, "lineno", None)  # a SyntaxError knows its line
    for frame in traceback.extract_tb(error.__traceback__):
        if frame.filename == str(path):
            line = frame.lineno
    return f" (line {line})" if line else ""


CHECK_TIMEOUT = 30.0  # seconds: a check that loops fails, the others still run


class CheckTimeout(Exception):
    pass


@contextlib.contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    """Within: CheckTimeout after SECONDS (main thread only: that is where signals land)."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def expire(signum: int, frame: object) -> None:
        raise CheckTimeout(f"took longer than {seconds:g} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def run_check(
    check: Callable, observations: Observations, timeout: float = CHECK_TIMEOUT
) -> CheckResult:
    """A check returns (passed, detail): True, False, or None for skipped (detail says why).

    Whatever else happens (it raises, loops, returns something else) is that check
    failing, with one line saying how; the other checks still run.
    """
    name = check.__name__.removeprefix("check_")
    description = text(((check.__doc__ or "").strip() or name).splitlines()[0])
    try:
        with time_limit(timeout):
            returned = check(observations)
    except NotRun as reason:
        return CheckResult(name, description, "skip", text(str(reason.args[0])))
    except KeyError as missing:
        detail = missing.args[0] if missing.args else "an observation is missing"
        return CheckResult(name, description, "fail", text(str(detail)))
    except (Exception, SystemExit) as error:
        frame = traceback.extract_tb(error.__traceback__)[-1]
        where = f"{Path(frame.filename).name}:{frame.lineno}"
        return CheckResult(
            name, description, "fail", text(f"raised {type(error).__name__}: {error} ({where})")
        )
    status = _status(returned)
    if status is None:
        shown = text(repr(returned), 120)
        return CheckResult(
            name, description, "fail", f"returned {shown}, not (True, False or None, detail)"
        )
    return CheckResult(name, description, status, text(str(returned[1])))


def _status(returned: object) -> str | None:
    """pass, fail or skip for a (passed, detail) pair; None for anything else.

    By identity: 1 and 0 are not answers (True == 1), and neither is "yes".
    """
    if not (isinstance(returned, tuple) and len(returned) == 2):
        return None
    answers = ((True, "pass"), (False, "fail"), (None, "skip"))
    return next((status for answer, status in answers if returned[0] is answer), None)
