"""Stations: one folder each under stations/, described by its station.toml.

Adding a station is adding a folder: the engine has no per-station code. A folder holds
station.toml (title, time, reading list, experiments, explain questions), the experiment
scripts, and checks.py (functions named check_* over the observations).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import tomllib

from lab.config import ALL_VARIANTS, STATIONS_DIR
from lab.errors import LabError


@dataclass(frozen=True)
class Experiment:
    script: str
    title: str
    variants: tuple[str, ...]
    capabilities: tuple[str, ...] = ()

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


def load(folder: Path) -> Station:
    spec_file = folder / "station.toml"
    try:
        spec = tomllib.loads(spec_file.read_text())
        experiments = tuple(
            Experiment(
                script=e["script"],
                title=e["title"],
                variants=tuple(e["variants"]),
                capabilities=tuple(e.get("capabilities", ())),
            )
            for e in spec.get("run", ())
        )
        station = Station(
            number=spec["number"],
            folder=folder,
            title=spec["title"],
            minutes=spec["minutes"],
            aliases=tuple(spec.get("aliases", ())),
            reading=tuple(spec.get("read", ())),
            experiments=experiments,
            questions=tuple(
                Question(q["question"], tuple(q.get("evidence", ())))
                for q in spec.get("explain", ())
            ),
            read_in=spec.get("read_in", "stock"),
        )
    except (OSError, tomllib.TOMLDecodeError, KeyError, TypeError) as error:
        raise LabError(f"{spec_file}: not a valid station ({error})") from None
    if station.read_in not in ALL_VARIANTS:
        raise LabError(f"{spec_file}: read_in names {station.read_in!r}, not an image of the lab")
    for experiment in experiments:
        unknown = set(experiment.variants) - set(ALL_VARIANTS)
        if unknown or not (folder / experiment.script).is_file():
            raise LabError(
                f"{spec_file}: experiment {experiment.script} is missing or names {unknown}"
            )
    return station


def all_stations(root: Path = STATIONS_DIR) -> list[Station]:
    folders = sorted(p for p in root.iterdir() if (p / "station.toml").is_file())
    return sorted((load(f) for f in folders), key=lambda s: s.number)


def find(wanted: str, root: Path = STATIONS_DIR) -> Station:
    """The station a learner named: its number or an alias (`synthesis`)."""
    stations = all_stations(root)
    for station in stations:
        if wanted.strip().lower() in (str(station.number), *station.aliases):
            return station
    names = ", ".join(s.label for s in stations)
    raise LabError(
        f"unknown station {wanted!r}: choose one of {names} (`invoke stations` lists them)"
    )
