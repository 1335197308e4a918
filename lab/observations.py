"""What the experiments measured, and the checks that judge it."""

from __future__ import annotations

import importlib.util
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any


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


class NotRun(KeyError):
    """The observation belongs to a variant this run left out (--variant)."""


class Observations:
    """Observations by `experiment.name`, with one value per variant that measured it."""

    def __init__(
        self, records: list[Observation] | None = None, variants_run: set[str] | None = None
    ) -> None:
        self.records: list[Observation] = list(records or [])
        self.variants_run = variants_run  # None: every variant ran

    def add(self, record: Observation) -> None:
        self.records.append(record)

    def by_variant(self, key: str) -> dict[str, Any]:
        found = {r.variant: r.value for r in self.records if r.key == key}
        if not found:
            raise KeyError(f"no observation {key!r} (did its experiment fail?)")
        return found

    def __getitem__(self, key: str) -> Any:
        """The value of KEY; `key@variant` picks one variant where several measured it."""
        key, _, variant = key.partition("@")
        if variant and self.variants_run is not None and variant not in self.variants_run:
            raise NotRun(f"{variant} was not run in this run (--variant)")
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


def load_checks(path: Path) -> list:
    """The check_* functions of a station's checks.py, in the order they are written."""
    spec = importlib.util.spec_from_file_location(f"lab_checks_{path.parent.name}", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    functions = [v for k, v in vars(module).items() if k.startswith("check_") and callable(v)]
    return sorted(functions, key=lambda f: f.__code__.co_firstlineno)


def run_check(check, observations: Observations) -> CheckResult:
    """A check returns (passed, detail): True, False, or None for skipped (detail says why)."""
    name = check.__name__.removeprefix("check_")
    description = (check.__doc__ or name).strip().splitlines()[0]
    try:
        passed, detail = check(observations)
    except NotRun as reason:
        return CheckResult(name, description, "skip", str(reason.args[0]))
    except KeyError as missing:
        return CheckResult(name, description, "fail", str(missing.args[0]))
    except Exception:
        return CheckResult(name, description, "fail", traceback.format_exc(limit=1).strip())
    status = {True: "pass", False: "fail", None: "skip"}[passed]
    return CheckResult(name, description, status, detail)
