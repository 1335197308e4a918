"""`invoke station N`: Read, Run, Check, Explain, then a report in results/station-N/<time>/.

The report appears whole when the run finishes, or not at all: on an error, a signal
(SIGINT, SIGTERM, SIGHUP, SIGQUIT) or a refused run folder, the run's containers and its
`.partial` folder are removed. What the containers wrote or printed is untrusted.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timezone
from pathlib import Path

from lab import untrusted
from lab.config import ALL_VARIANTS, TORCH, TORCH_IMAGES, Variant, image_platform, results_dir
from lab.config import variant as lookup_variant
from lab.engine import docker, signals
from lab.engine import labels as lab_labels
from lab.errors import LabError
from lab.images import builder
from lab.run import (
    containers,
    figures,
    page,
    reading_cache,
    report_model,
    run_folders,
    safe_files,
)
from lab.run.observations import Observation, Observations, load_checks, run_check
from lab.run.report import NAME_CHARS, format_value, reading_line, write
from lab.run.runner import (
    DISK_STOP,
    OUTPUT_MOUNT,
    STATIONS_MOUNT,
    ComposeRunner,
    Job,
    Outcome,
    Runner,
    size,
)
from lab.run.stations import Experiment, Station

MARKER = "@@lab-observation "  # labkit.protocol's: what an experiment's observe() prints
MAX_FILES = 500  # files listed in the report
# How much longer an experiment may take in an image of another architecture: under QEMU,
# station 3's scaling took 457 s against its native 12.8 s (36x, on a busy host).
EMULATION_SLOWDOWN = 30


@dataclass
class Options:
    read: bool = True
    run: bool = True
    variant: str | None = None  # run only the experiments on this variant
    quick: bool = False  # small workloads (LAB_QUICK=1): a fast pass, and what tests run
    # The images the class's lab.lock names (None: no lock). A class fetches its images and
    # compiles none: one the lock leaves out, not built here, is skipped, not asked for.
    locked: frozenset[str] | None = None


def with_torch_image(station: Station, options: Options) -> tuple[Station, Options]:
    """The station and options with the PyTorch image (TORCH) resolved: the one --variant
    names, else the one this machine has and wants (builder.torch_image)."""
    if TORCH not in (*station.variants, station.read_in):
        return station, options
    if options.variant in TORCH_IMAGES:
        return station.with_torch(options.variant), options
    image = builder.torch_image(built_only=True).name
    variant = image if options.variant == TORCH else options.variant
    return station.with_torch(image), replace(options, variant=variant)


def validate(station: Station, options: Options) -> None:
    """Options that would run nothing, or report on what was not run: one line each."""
    if not options.read and not options.run:
        raise LabError("--read-only and --skip-reading together leave nothing to do")
    if not options.run and not station.reading:
        raise LabError(f"station {station.label} has no reading list: --read-only shows nothing")
    if options.variant:
        name = lookup_variant(options.variant).name
        if options.run and name not in station.variants:
            used = ", ".join(station.variants) or "no variant"
            raise LabError(f"station {station.label} runs on {used}, not on {name}")


def variants_needed(station: Station, options: Options) -> list[Variant]:
    names = {station.read_in} if options.read and station.reading else set()
    if options.variant:
        names = {lookup_variant(options.variant).name} if options.run else names
    elif options.run:
        names |= set(station.variants) - set(station.optional_variants)
    return [ALL_VARIANTS[n] for n in ALL_VARIANTS if n in names]


def optional_images(station: Station, options: Options) -> tuple[list[Variant], dict[str, str]]:
    """The optional images a run uses (built here), and {image: why} for those it goes
    without: an optional one not built here, and, with a lab.lock, one the lock does not
    name and that is not built here. An image named by --variant, or the one the reading is
    resolved in, is never left out: variants_needed asks for it."""
    if options.variant or not options.run:
        return [], {}
    reader = station.read_in if options.read and station.reading else None
    unlocked = (
        []
        if options.locked is None
        else [name for name in station.variants if name not in options.locked and name != reader]
    )
    built: list[Variant] = []
    absent: dict[str, str] = {}
    for name in dict.fromkeys([*station.optional_variants, *unlocked]):
        if containers.is_built(ALL_VARIANTS[name]):
            built += [ALL_VARIANTS[name]] if name in station.optional_variants else []
        else:
            absent[name] = absent_why(name, options.locked)
    return built, absent


def absent_why(name: str, locked: frozenset[str] | None) -> str:
    """Why a run goes without the image NAME, which is not here, as its skips say it."""
    if locked is not None and name not in locked:
        return "is not in the class's lab.lock (the class does not use it)"
    if locked is not None:
        return "is not here (`invoke pull` fetches the class's)"
    if platform := image_platform():  # `invoke station --platform`: another platform's
        return (
            f"is not here for {platform} (`invoke images --platform {platform} --variant {name}`)"
        )
    return f"is not built here (`invoke images --variant {name}` builds it)"


class StationRun:
    def __init__(
        self,
        station: Station,
        options: Options,
        runner: Runner,
        say: Callable,
        absent: dict[str, str] | None = None,
        emulated: dict[str, str] | None = None,
    ) -> None:
        self.station, self.options, self.runner, self.say = station, options, runner, say
        self.absent = absent or {}  # {image: why}: images not here, their experiments skipped
        ran, why = None, "--variant"
        if options.variant:
            ran = {lookup_variant(options.variant).name}
        elif self.absent:
            ran = set(station.variants) - set(self.absent)
            why = "; ".join(f"{name} {reason}" for name, reason in self.absent.items())
        self.observations = Observations(
            variants_run=ran,
            planned={e.name: e.variants for e in station.experiments},
            why_not_run=why,
            emulated=emulated,
        )
        self.labels: dict[str, str] = {}
        self.output = Path()
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
    def read(self, variant: Variant, image_id: str) -> None:
        self.section("Read")
        entries = list(self.station.reading)
        resolved = reading_cache.cached(
            image_id, entries, lambda: self.runner.resolve_reading(variant, entries, self.labels)
        )
        for entry in map(report_model.reading_entry, resolved):
            marker = {"found": " ", "moved": "→", "missing": "✗", "document": "📄"}[entry.status]
            self.say(f" {marker} {reading_line(entry)}")
            if entry.why:
                self.say(f"     why: {entry.why}")
            for line in entry.context:
                self.say(f"     {line}")
        self.report["reading"] = resolved

    def run(self) -> None:
        self.section("Run")
        groups = sorted(
            {
                (name, experiment.capabilities)
                for experiment in self.station.experiments
                for name in experiment.variants
                if self.options.variant in (None, name) and name not in self.absent
            }
        )
        # Every container starts at once, before the first experiment: their starts overlap.
        self.runner.prepare([(ALL_VARIANTS[n], c) for n, c in groups], self.output, self.labels)
        for experiment in self.station.experiments:
            for name in experiment.variants:
                if name in self.absent:
                    self.skip_one(experiment, ALL_VARIANTS[name])
                elif self.options.variant in (None, name):
                    self.run_one(experiment, ALL_VARIANTS[name])

    def skip_one(self, experiment: Experiment, variant: Variant) -> None:
        note = f"skipped: image {variant.image} {self.absent[variant.name]}"
        self.say(f"▷ {experiment.name} on {variant.name}: {experiment.title}: {note}")
        self.report["experiments"].append(
            {
                "experiment": experiment.name,
                "variant": variant.name,
                "exit_code": None,
                "seconds": 0.0,
                "note": note,
            }
        )

    def run_one(self, experiment: Experiment, variant: Variant) -> None:
        self.say(f"▶ {experiment.name} on {variant.name}: {experiment.title}")
        emulated = variant.name in self.observations.emulated
        job = experiment_job(self.station.folder.name, experiment, self.options.quick, emulated)
        collector = Collector(experiment.name, variant.name, self.observations, self.say)
        outcome: Outcome = self.runner.run(
            variant,
            job,
            capabilities=experiment.capabilities,
            output=self.output,
            labels=self.labels,
            on_line=collector.line,
        )
        collector.done()
        status = f"exit {outcome.exit_code}" if outcome.exit_code else "done"
        note = f": {outcome.note}" if outcome.note else ""
        self.say(f"  {status} in {outcome.seconds:.1f} s{note}")
        if outcome.note.startswith(DISK_STOP):  # nothing of a run past its limit is kept
            raise LabError(
                f"{experiment.name} on {variant.name} {outcome.note}; the run is not kept"
            )
        if outcome.note:
            self.say(f"lab: {experiment.name} on {variant.name} {outcome.note}")
        self.report["experiments"].append(
            {
                "experiment": experiment.name,
                "variant": variant.name,
                "exit_code": outcome.exit_code,
                "seconds": outcome.seconds,
                "note": outcome.note,
            }
        )

    def check(self, checks: list) -> None:
        if not checks:
            return
        self.section("Check")
        for check in checks:
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
        text = untrusted.text(text)  # values are what a container printed
        return {"key": key, "values": values, "text": text}

    def section(self, name: str) -> None:
        self.say(f"\n== {name} ==")

    def passed(self) -> bool:
        failed_runs = any(e["exit_code"] for e in self.report["experiments"])
        return not failed_runs and all(c["status"] != "fail" for c in self.report["checks"])


def experiment_job(folder: str, experiment: Experiment, quick: bool, emulated: bool) -> Job:
    """EXPERIMENT of the station in FOLDER as its container runs it: writing to the run's
    folder, small under QUICK, given longer where its image is EMULATED."""
    script = f"{STATIONS_MOUNT}/{folder}/{experiment.script}"
    env = {"LAB_OUTPUT": OUTPUT_MOUNT} | ({"LAB_QUICK": "1"} if quick else {})
    timeout = experiment.timeout * (EMULATION_SLOWDOWN if emulated else 1)
    return Job(experiment.name, ["python3", script], env, timeout, containers.disk_limit())


class Collector:
    """One experiment's lines: observations taken in (checked), the rest shown; both capped,
    so an endless stream fills neither the host's memory nor the terminal."""

    def __init__(
        self, experiment: str, variant: str, observations: Observations, say: Callable[[str], None]
    ) -> None:
        self.experiment, self.variant = experiment, variant
        self.observations, self.say = observations, say
        self.taken = self.dropped = self.chars = self.shown = self.hidden = 0

    def line(self, line: str) -> None:
        if line.startswith(MARKER):
            self.observe(line[len(MARKER) :])
        else:
            self.show(f"│ {untrusted.text(line)}")

    def observe(self, payload: str) -> None:
        over = self.chars + len(payload) > untrusted.MAX_OBSERVED_CHARS
        if self.taken >= untrusted.MAX_OBSERVATIONS or over:
            self.dropped += 1
            return
        try:
            record = untrusted.observation(payload)
        except untrusted.Malformed as why:
            self.show(f"✗ a malformed observation, ignored: {why}")
            return
        self.taken += 1
        self.chars += len(payload)
        observation = Observation(self.experiment, self.variant, **record)
        self.observations.add(observation)
        value = untrusted.text(format_value(observation.value, observation.unit))
        self.show(f"● {observation.key} = {value}")

    def show(self, text: str) -> None:
        if self.shown >= untrusted.MAX_SHOWN_LINES:
            self.hidden += 1
            return
        self.shown += 1
        self.say(f"  {self.variant:>5} {text}")

    def done(self) -> None:
        where = f"lab: {self.experiment} on {self.variant}"
        if self.hidden:
            self.say(f"{where} printed {self.hidden} more lines, not shown")
        if self.dropped:
            self.say(
                f"{where} printed more observations than the lab keeps "
                f"({untrusted.MAX_OBSERVATIONS:,}, or {untrusted.MAX_OBSERVED_CHARS:,} "
                f"characters); {self.dropped} were ignored"
            )


def run_station(
    station: Station,
    options: Options,
    *,
    runner: Runner | None = None,
    say: Callable[[str], None] = print,
) -> tuple[dict, Path]:
    """Run a station; the report lands in results/station-N/<time>/ only if the run finishes."""
    station, options = with_torch_image(station, options)
    validate(station, options)
    has_checks = options.run and station.checks_file.is_file()
    checks = load_checks(station.checks_file) if has_checks else []  # one line if it is broken
    runner = runner or ComposeRunner()
    built, absent = optional_images(station, options)
    needed = [v for v in variants_needed(station, options) if v.name not in absent]
    ids = containers.image_ids(needed + built)  # every image is checked before anything runs
    results = results_dir()
    station_dir, station_fd = station_folder(results, station)
    try:
        swept = run_folders.sweep(results, run_folders.remove_run_containers)
        if swept:
            say(f"lab: removed what interrupted runs left: {', '.join(swept)}")
        folder = run_folders.new(station_dir, station_fd)
        with signals.interruptible():
            try:
                report = run_sections(
                    station, options, runner, say, folder, ids=ids, checks=checks, absent=absent
                )
                drawn = figures.draw(station.folder, report_model.of(report))
                with signals.shielded() as arrived:  # the report is written whole, then...
                    write_report(report, folder, drawn)
                    if not arrived:
                        published = run_folders.publish(folder)
                        with contextlib.suppress(LabError):  # a page of links, remade next run
                            page.write_index(results)
                        return report, published
                raise signals.Interrupted(arrived[0])  # ... kept only if no signal came
            except BaseException as error:
                clean_up(runner, folder, error)
                raise
    finally:
        os.close(station_fd)


def station_folder(results: Path, station: Station) -> tuple[Path, int]:
    """results/station-N, made if missing, and a descriptor for it (never through a link)."""
    root_fd = safe_files.open_root(results)
    try:
        station_dir = results / f"station-{station.label}"
        fd = safe_files.open_folder(root_fd, station_dir.name, create=True, shown=station_dir)
    finally:
        os.close(root_fd)
    if docker.hands_back():  # root's runs lend their folder to uid 1000, which may be a real
        os.fchown(fd, 0, 0)  # local account: no one else may reach it while the run lasts
        os.fchmod(fd, 0o700)
    return station_dir, fd


def clean_up(runner: Runner, folder: run_folders.RunFolder, error: BaseException) -> None:
    """Nothing of a run that did not finish is left: its containers, its folder, its lock."""
    with signals.shielded():
        stop_containers(runner, folder.run_id, error)
        run_folders.discard(folder)
    if isinstance(error, signals.Interrupted):
        error.stopped.append(f"removed {folder.partial}")


def stop_containers(runner: Runner, run_id: str, error: BaseException) -> None:
    """Every container of the run RUN_ID goes, whatever stopped it (ERROR: an interrupt is
    told which). A station run's clean-up, and --verify's re-run's."""
    with signals.shielded():
        stopped = runner.stop_all()
        with contextlib.suppress(LabError):  # any the engine started after the stop
            run_folders.remove_run_containers(run_id)
    if isinstance(error, signals.Interrupted):
        error.stopped += [f"removed container {name}" for name in stopped]


def run_sections(
    station: Station,
    options: Options,
    runner: Runner,
    say: Callable[[str], None],
    folder: run_folders.RunFolder,
    *,
    ids: dict[str, str],
    checks: list[Callable],
    absent: dict[str, str] | None = None,
) -> dict:
    """The four sections (read, run, check, explain); the containers write into FOLDER and
    nowhere else. IDS: each image's short ID; ABSENT: {image: why} of those not here."""
    variants = [ALL_VARIANTS[name] for name in ids]
    if docker.hands_back():  # containers never run as root: lend the run folder
        os.fchown(folder.fd, *docker.host_ids())
    started = time.monotonic()
    say(f"━━ Station {station.label}: {station.title} ({station.minutes} min) ━━")
    for variant in variants:  # a GPU image on an engine that gives it no GPU
        note = containers.device_note(variant)
        if note:
            say(note)
    emulated = containers.emulated(variants)
    for name, note in emulated.items():
        say(f"{ALL_VARIANTS[name].image}: {note}; the timing checks skip, the others run")
    run = StationRun(station, options, runner, say, absent, emulated)
    run.labels = {lab_labels.RUN: folder.run_id, lab_labels.RESULTS: str(results_dir())}
    run.output = folder.partial
    run.report["images"] = ids
    if options.read and station.reading:
        reader = next((v for v in variants if v.name == station.read_in), variants[0])
        run.read(reader, ids.get(reader.name, ""))
    if options.run and station.experiments:
        run.run()
    runner.close()  # every container is gone before the host looks at the folder
    if options.run and station.experiments:
        run.check(checks)
    if station.questions and options.run:
        run.explain()
    report = run.report
    report["observations"] = kept_observations(run.observations.records, say)
    report["emulated"] = emulated  # what the timing checks skipped for, as a re-judge must
    report["passed"] = run.passed()
    report["seconds"] = time.monotonic() - started
    return report


def kept_observations(records: list[Observation], say: Callable[[str], None]) -> list[dict]:
    """What report.json keeps of the run's observations: as many as its model holds."""
    limit = report_model.MAX_OBSERVATIONS
    if len(records) > limit:
        say(
            f"lab: the run made {len(records):,} observations; the report keeps the first {limit:,}"
        )
    return [asdict(o) for o in records[:limit]]


def write_report(
    report: dict, folder: run_folders.RunFolder, drawn: Sequence[page.Figure] = ()
) -> None:
    """Write the report and hand the folder back (or raise: nothing is kept)."""
    if not docker.hands_back():  # the container wrote as this user: it may have locked us out
        os.fchmod(folder.fd, 0o755)
    leaving = safe_files.links_leaving(folder.partial, OUTPUT_MOUNT)
    if leaving:
        raise LabError(
            f"an experiment left a link out of its run folder ({leaving[0]}); the run is not kept"
        )
    limit = containers.disk_limit()
    if safe_files.tree_bytes(folder.partial, limit) > limit:  # the supervisor's word, checked
        raise LabError(
            f"the run folder holds more than the run's disk limit ({size(limit)}, "
            "LAB_DISK_LIMIT); the run is not kept"
        )
    names = sorted(os.listdir(folder.fd))
    report["files"] = [untrusted.text(name, NAME_CHARS) for name in names[:MAX_FILES]]
    if len(names) > MAX_FILES:
        report["files"].append(f"... and {len(names) - MAX_FILES} more")
    write(report_model.of(report), folder.fd, folder.partial, drawn)
    if docker.hands_back():
        safe_files.chown_tree(folder.station_fd, folder.partial.name, os.getuid(), os.getgid())


def as_json(report: dict) -> str:
    return json.dumps(report, indent=2, default=str)
