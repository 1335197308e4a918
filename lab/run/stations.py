"""Stations: one folder each under stations/, described by its station.toml.

Adding a station is adding a folder: the engine has no per-station code. A folder holds
station.toml (title, time, reading list, experiments, explain questions), the experiment
scripts, and checks.py (functions named check_* over the observations).

Every field is type-checked when a station loads, and a broken station is one line
about that station: the others still load and run.
"""

from __future__ import annotations

import os
import re
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

if sys.version_info >= (3, 11):
    import tomllib
else:  # Ubuntu 22.04's Python 3.10
    import tomli as tomllib

from lab.config import ALL_VARIANTS, STATIONS_DIR, TORCH
from lab.errors import LabError
from lab.untrusted import text

DEFAULT_TIMEOUT = 300  # seconds an experiment may run unless its station.toml says otherwise
MAX_TIMEOUT = 3600
# What an experiment may ask for beyond the default (none): attaching py-spy or gdb.
ALLOWED_CAPABILITIES = ("SYS_PTRACE",)
ALIAS = re.compile(r"[a-z][a-z0-9-]{0,30}")  # a word: it becomes part of a folder name
SCRIPT = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.-]*\.py")  # a file in the station's folder
# An observation's name, as the host takes one from a container (lab.untrusted.observation).
OBSERVATION = re.compile(r"[A-Za-z0-9_.-]{1,100}")
# What a station may name as where it runs: an image, or the PyTorch image by its role.
IMAGE_NAMES = (*ALL_VARIANTS, TORCH)


@dataclass(frozen=True)
class Experiment:
    script: str
    title: str
    variants: tuple[str, ...]
    capabilities: tuple[str, ...] = ()
    timeout: float = DEFAULT_TIMEOUT
    optional: bool = False  # runs where its image is built; elsewhere skipped in one line
    # The observations that depend only on the image and the experiment: the same in every
    # honest run (`invoke class-report --verify` runs them again and compares).
    deterministic: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return Path(self.script).stem


@dataclass(frozen=True)
class Question:
    question: str
    evidence: tuple[str, ...] = ()


@dataclass(frozen=True)
class Station:
    number: int
    folder: Path
    title: str
    minutes: int
    aliases: tuple[str, ...] = ()
    reading: tuple[dict, ...] = ()
    experiments: tuple[Experiment, ...] = ()
    questions: tuple[Question, ...] = field(default=())
    read_in: str = "stock"  # the image whose source trees the reading list is resolved in

    @property
    def label(self) -> str:
        return self.aliases[0] if self.aliases else str(self.number)

    @property
    def checks_file(self) -> Path:
        return self.folder / "checks.py"

    @property
    def variants(self) -> tuple[str, ...]:
        """The images its experiments run in, in the lab's order."""
        used = {v for e in self.experiments for v in e.variants}
        return tuple(v for v in IMAGE_NAMES if v in used)

    def with_torch(self, image: str) -> Station:
        """This station with the PyTorch image it names by role (TORCH) resolved to IMAGE."""

        def resolved(names: tuple[str, ...]) -> tuple[str, ...]:
            return tuple(image if name == TORCH else name for name in names)

        experiments = tuple(replace(e, variants=resolved(e.variants)) for e in self.experiments)
        read_in = image if self.read_in == TORCH else self.read_in
        return replace(self, experiments=experiments, read_in=read_in)

    @property
    def optional_variants(self) -> tuple[str, ...]:
        """The images only optional experiments run in: a run goes on without them."""
        required = {v for e in self.experiments if not e.optional for v in e.variants}
        return tuple(v for v in self.variants if v not in required and v != self.read_in)


class Invalid(ValueError):
    """A field of station.toml that is missing or of the wrong type."""


def stations_dir() -> Path:
    """Where the stations are (LAB_STATIONS overrides, for tests of hostile stations)."""
    return Path(os.environ.get("LAB_STATIONS", STATIONS_DIR))


def _get(table: dict, key: str, kind: type | tuple, what: str, default: Any = ...) -> Any:
    if key not in table:
        if default is ...:
            raise Invalid(f"{what}: `{key}` is missing")
        return default
    value = table[key]
    if (isinstance(value, bool) and kind is not bool) or not isinstance(value, kind):
        names = kind.__name__ if isinstance(kind, type) else " or ".join(k.__name__ for k in kind)
        raise Invalid(f"{what}: `{key}` must be a {names}, not {value!r}"[:200])
    return value


def _strings(table: dict, key: str, what: str) -> tuple[str, ...]:
    values = _get(table, key, list, what, [])
    if not all(isinstance(v, str) for v in values):
        raise Invalid(f"{what}: `{key}` must be a list of strings")
    return tuple(values)


def _tables(spec: dict, key: str) -> list[dict]:
    tables = _get(spec, key, list, "station.toml", [])
    if not all(isinstance(t, dict) for t in tables):
        raise Invalid(f"`{key}` must be tables ([[{key}]])")
    return tables


def _experiment(table: dict, folder: Path, index: int) -> Experiment:
    what = f"[[run]] #{index + 1}"
    script = _get(table, "script", str, what)
    if not SCRIPT.fullmatch(script) or not (folder / script).is_file():
        raise Invalid(f"{what}: script {script!r} is not a .py file in {folder.name}/")
    variants = _strings(table, "variants", what)
    unknown = [v for v in variants if v not in IMAGE_NAMES]
    if not variants or unknown:
        raise Invalid(f"{what}: variants must name some of {', '.join(IMAGE_NAMES)}")
    capabilities = _strings(table, "capabilities", what)
    if set(capabilities) - set(ALLOWED_CAPABILITIES):
        raise Invalid(f"{what}: capabilities may only be {', '.join(ALLOWED_CAPABILITIES)}")
    timeout = _get(table, "timeout", (int, float), what, DEFAULT_TIMEOUT)
    if not 0 < timeout <= MAX_TIMEOUT:
        raise Invalid(f"{what}: timeout must be between 0 and {MAX_TIMEOUT} seconds")
    optional = _get(table, "optional", bool, what, False)
    title = text(_get(table, "title", str, what))
    deterministic = _deterministic(table, what)
    return Experiment(script, title, variants, capabilities, timeout, optional, deterministic)


def _deterministic(table: dict, what: str) -> tuple[str, ...]:
    names = _strings(table, "deterministic", what)
    wrong = next((name for name in names if not OBSERVATION.fullmatch(name)), None)
    if wrong is not None:
        shown, rule = text(repr(wrong), 100), "letters, digits, _ . -"
        raise Invalid(f"{what}: deterministic must name observations ({rule}), not {shown}")
    return tuple(dict.fromkeys(names))  # each once


def _reading(table: dict, index: int) -> dict:
    what = f"[[read]] #{index + 1}"
    for key in ("url", "title") if "url" in table else ("tree", "path"):
        _get(table, key, str, what)
    if not all(isinstance(v, str) for v in table.values()):
        raise Invalid(f"{what}: every field must be a string")
    return dict(table)


def _question(table: dict) -> Question:
    what = "[[explain]]"
    return Question(text(_get(table, "question", str, what)), _strings(table, "evidence", what))


def _parse(spec: dict, folder: Path) -> Station:
    number = _get(spec, "number", int, "station.toml")
    aliases = _strings(spec, "aliases", "station.toml")
    if not all(ALIAS.fullmatch(a) for a in aliases):
        raise Invalid("aliases must be words (a-z, 0-9, -): they name the results folder")
    read_in = _get(spec, "read_in", str, "station.toml", "stock")
    if read_in not in IMAGE_NAMES:
        raise Invalid(f"read_in names {read_in!r}, not an image of the lab")
    questions = tuple(_question(q) for q in _tables(spec, "explain"))
    return Station(
        number=number,
        folder=folder,
        title=text(_get(spec, "title", str, "station.toml")),  # LAB_STATIONS: any folder
        minutes=_get(spec, "minutes", int, "station.toml"),
        aliases=aliases,
        reading=tuple(_reading(t, i) for i, t in enumerate(_tables(spec, "read"))),
        experiments=tuple(_experiment(t, folder, i) for i, t in enumerate(_tables(spec, "run"))),
        questions=questions,
        read_in=read_in,
    )


def load(folder: Path) -> Station:
    spec_file = folder / "station.toml"
    try:
        return _parse(tomllib.loads(spec_file.read_text(encoding="utf-8")), folder)
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError, Invalid) as error:
        raise LabError(f"{spec_file}: not a valid station ({error})") from None


def scan(root: Path | None = None) -> tuple[list[Station], dict[Path, LabError]]:
    """The stations that load, by number, and each broken one's error by folder."""
    root = root or stations_dir()
    loaded, broken = [], {}
    for folder in sorted(p for p in root.iterdir() if (p / "station.toml").is_file()):
        try:
            loaded.append(load(folder))
        except LabError as error:
            broken[folder] = error
    return sorted(loaded, key=lambda s: s.number), broken


def all_stations(root: Path | None = None) -> list[Station]:
    """The stations that load (a broken one is left out: `listing` and `find` name it)."""
    return scan(root)[0]


def listing(root: Path | None = None) -> list[str]:
    """`invoke stations`: each station, its time and experiments; a broken one in one line."""
    loaded, broken = scan(root)
    lines = []
    for st in loaded:
        runs = ", ".join(f"{e.name} ({'/'.join(e.variants)})" for e in st.experiments)
        lines.append(f"{st.label:>9}  {st.title} ({st.minutes} min)\n{'':>11}{runs or '-'}")
    lines += [f"{'broken':>9}  {error}" for error in broken.values()]
    return lines


def find(wanted: str, root: Path | None = None) -> Station:
    """The station a learner named: its number or an alias (`synthesis`)."""
    loaded, broken = scan(root)
    wanted = wanted.strip().lower()
    for station in loaded:
        if wanted in (str(station.number), *station.aliases):
            return station
    for folder, error in broken.items():  # `03-gil` is station 3, even when it is broken
        if wanted and folder.name.split("-", 1)[0].lstrip("0") == wanted:
            raise error
    names = ", ".join(s.label for s in loaded)
    raise LabError(
        f"unknown station {wanted!r}: choose one of {names} (`invoke stations` lists them)"
    )
