"""`invoke station N`: Read, Run, Check, Explain, then a report in results/station-N/<time>/."""

from __future__ import annotations

import json
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path

from lab import containers, docker
from lab.config import ALL_VARIANTS, STATIONS_DIR, Variant
from lab.config import variant as lookup_variant
from lab.errors import LabError
from lab.observations import Observation, Observations, load_checks, run_check
from lab.report import format_value, reading_line, write
from lab.runner import RESULTS_MOUNT, STATIONS_MOUNT, ComposeRunner, Runner
from lab.stations import Station

sys.path.insert(0, str(STATIONS_DIR / "_lib"))
from labkit.protocol import parse_line


@dataclass
class Options:
    read: bool = True
    run: bool = True
    variant: str | None = None  # run only the experiments on this variant
    quick: bool = False  # small workloads (LAB_QUICK=1): a fast pass, and what tests run


def variants_needed(station: Station, options: Options) -> list[Variant]:
    names = {station.read_in} if options.read and not options.variant else set()
    if options.variant:
        names.add(lookup_variant(options.variant).name)
    elif options.run:
        names |= {v for e in station.experiments for v in e.variants}
    return [ALL_VARIANTS[n] for n in ALL_VARIANTS if n in names]


class StationRun:
    def __init__(self, station: Station, options: Options, runner: Runner, say: Callable) -> None:
        self.station, self.options, self.runner, self.say = station, options, runner, say
        self.observations = Observations(
            variants_run={options.variant} if options.variant else None
        )
        self.report: dict = {
            "station": station.label,
            "title": station.title,
            "started": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "images": {},
            "reading": [],
            "experiments": [],
            "observations": [],
            "checks": [],
            "explain": [],
            "files": [],
        }

    # -- the four sections ------------------------------------------------------------
    def read(self, variant: Variant) -> None:
        self.section("Read")
        resolved = self.runner.resolve_reading(variant, list(self.station.reading))
        for entry in resolved:
            marker = {"found": " ", "moved": "→", "missing": "✗", "document": "📄"}[entry["status"]]
            self.say(f" {marker} {reading_line(entry)}")
            if entry.get("why"):
                self.say(f"     why: {entry['why']}")
            for line in entry.get("context", []):
                self.say(f"     {line}")
        self.report["reading"] = resolved

    def run(self, output: Path) -> None:
        self.section("Run")
        for experiment in self.station.experiments:
            for name in experiment.variants:
                if self.options.variant in (None, name):
                    self.run_one(experiment, ALL_VARIANTS[name], output)

    def run_one(self, experiment, variant: Variant, output: Path) -> None:
        self.say(f"▶ {experiment.name} on {variant.name}: {experiment.title}")
        script = f"{STATIONS_MOUNT}/{self.station.folder.name}/{experiment.script}"
        env = {"LAB_OUTPUT": f"{RESULTS_MOUNT}/{output.relative_to(output.parents[1])}"}
        if self.options.quick:
            env["LAB_QUICK"] = "1"

        def on_line(line: str) -> None:
            record = parse_line(line)
            if record is None:
                self.say(f"  {variant.name:>5} │ {line}")
                return
            observation = Observation(experiment.name, variant.name, **record)
            self.observations.add(observation)
            value = format_value(observation.value, observation.unit)
            self.say(f"  {variant.name:>5} ● {observation.key} = {value}")

        started = time.monotonic()
        code = self.runner.run(
            variant, ["python3", script], env=env,
            capabilities=experiment.capabilities, on_line=on_line,
        )  # fmt: skip
        seconds = time.monotonic() - started
        self.say(f"  {'exit ' + str(code) if code else 'done'} in {seconds:.1f} s")
        self.report["experiments"].append(
            {"experiment": experiment.name, "variant": variant.name,
             "exit_code": code, "seconds": seconds}
        )  # fmt: skip

    def check(self) -> None:
        if not self.station.checks_file.is_file():
            return
        self.section("Check")
        for check in load_checks(self.station.checks_file):
            result = run_check(check, self.observations)
            self.say(f"  {result.status.upper():<4}  {result.description}: {result.detail}")
            self.report["checks"].append(asdict(result))

    def explain(self) -> None:
        self.section("Explain")
        for question in self.station.questions:
            self.say(f"  ? {question.question}")
            evidence = [self.evidence(key) for key in question.evidence]
            for item in evidence:
                self.say(f"      {item['key']}: {item['text']}")
            self.report["explain"].append({"question": question.question, "evidence": evidence})

    # -- helpers ----------------------------------------------------------------------
    def evidence(self, key: str) -> dict:
        """What was measured under KEY (`key@variant`: on that variant only)."""
        name, _, only = key.partition("@")
        try:
            values = self.observations.by_variant(name)
        except KeyError:
            values = {}
        values = {v: x for v, x in values.items() if only in ("", v)}
        if not values:
            return {"key": key, "values": {}, "text": "(not measured in this run)"}
        unit = self.observations.unit(name)
        text = ", ".join(f"{v}: {format_value(x, unit)}" for v, x in values.items())
        return {"key": key, "values": values, "text": text}

    def section(self, name: str) -> None:
        self.say(f"\n== {name} ==")

    def passed(self) -> bool:
        failed_runs = any(e["exit_code"] for e in self.report["experiments"])
        return not failed_runs and all(c["status"] != "fail" for c in self.report["checks"])


def new_run_folder(station_results: Path) -> tuple[Path, Path]:
    """(final, partial): a fresh <time> folder's name, and its .partial twin made empty."""
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    for attempt in range(1, 100):  # two runs in one second get -2, -3, ...
        name = stamp if attempt == 1 else f"{stamp}-{attempt}"
        final, partial = station_results / name, station_results / f"{name}.partial"
        if not final.exists():
            try:
                partial.mkdir(parents=True)
                return final, partial
            except FileExistsError:
                continue  # another run in this second is writing there
    raise LabError(f"could not make a new run folder in {station_results}")


def run_station(
    station: Station,
    options: Options,
    *,
    runner: Runner | None = None,
    say: Callable[[str], None] = print,
) -> tuple[dict, Path]:
    """Run a station; the report lands in results/station-N/<time>/ only if the run finishes."""
    runner = runner or ComposeRunner()
    variants = variants_needed(station, options)
    for variant in variants:  # every image is checked before anything runs
        containers.require_image(variant)
    with containers.writable_results() as results:
        final, partial = new_run_folder(results / f"station-{station.label}")
        containers.lend(partial)  # the containers write there and nowhere else
        started = time.monotonic()
        say(f"━━ Station {station.label}: {station.title} ({station.minutes} min) ━━")
        for variant in variants:  # a GPU image on an engine that gives it no GPU
            note = containers.device_note(variant)
            if note:
                say(note)
        try:
            run = StationRun(station, options, runner, say)
            run.report["images"] = {v.name: docker.image_id(v.image) for v in variants}
            if options.read and station.reading:
                run.read(next((v for v in variants if v.name == station.read_in), variants[0]))
            if options.run and station.experiments:
                run.run(partial)
                run.check()
            if station.questions and options.run:
                run.explain()
            report = run.report
            report["observations"] = [asdict(o) for o in run.observations.records]
            report["passed"] = run.passed()
            report["seconds"] = time.monotonic() - started
            report["files"] = sorted(p.name for p in partial.iterdir())
            write(report, partial)
            containers.hand_back(partial)
            partial.rename(final)
        except BaseException:
            shutil.rmtree(partial, ignore_errors=True)
            raise
    return report, final


def as_json(report: dict) -> str:
    return json.dumps(report, indent=2, default=str)
