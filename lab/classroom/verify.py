"""`invoke class-report FOLDER --verify`: the observations no honest run can change, run again.

A hand-in's observations are what its file claims. Many depend only on the image and the
experiment (bytecode, sizes and offsets, strides and flags, who refuses a buffer and with
what message): each station's `station.toml` names them (`deterministic`). Those
experiments run here once per image, in this machine's images, and every hand-in's values
are compared with them exactly, on the images whose rootfs identity is the same as here.

The containers are the lab's own (ComposeRunner, as a station run starts them); what they
write goes to a scratch folder that is removed afterwards, and they carry a run label, so
an interrupted re-run leaves none of them behind.
"""

from __future__ import annotations

import json
import os
import secrets
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lab import untrusted
from lab.config import ALL_VARIANTS, ROOT, TORCH, TORCH_IMAGES
from lab.engine import docker, signals
from lab.engine import labels as lab_labels
from lab.errors import LabError
from lab.images import identity
from lab.run import containers, safe_files
from lab.run.observations import Observation, Observations
from lab.run.runner import ComposeRunner, Runner
from lab.run.station_run import (
    Collector,
    Options,
    experiment_job,
    stop_containers,
    with_torch_image,
)
from lab.run.stations import Experiment, Station

Key = tuple[str, str, str]  # (station label, experiment name, variant)


@dataclass(frozen=True)
class Reference:
    """What the re-run here measured of the deterministic observations."""

    values: dict[Key, dict[str, Any]]  # -> {observation name: value}
    images: dict[str, str]  # variant -> this machine's rootfs identity (doctor --json's)
    problems: list[str]  # a line each, for the caller to show: a failed run, an image not built


@dataclass(frozen=True)
class Mismatch:
    station: str
    experiment: str
    variant: str
    name: str
    handed_in: Any
    rerun: Any

    def line(self) -> str:
        return (
            f"station {self.station} {self.experiment}.{self.name}@{self.variant}: handed in "
            f"{shown(self.handed_in)}, re-run here {shown(self.rerun)}"
        )


@dataclass(frozen=True)
class Planned:
    """One deterministic experiment on one image: what `rerun` runs."""

    label: str
    folder: str  # the station's folder name, under the stations mount
    experiment: Experiment
    variant: str


def shown(value: Any) -> str:
    """A value as one short line (a hand-in's is untrusted)."""
    try:
        raw = json.dumps(value, sort_keys=True, default=str)
    except (ValueError, RecursionError):
        raw = repr(value)
    return untrusted.text(raw, 120)


# -- what can be verified -------------------------------------------------------------------


def declared(stations: Iterable[Station]) -> dict[str, list[str]]:
    """Per station label, the `experiment.name@variant` keys a re-run can verify (the
    PyTorch image by role stands for either build). Needs no engine."""
    found: dict[str, list[str]] = {}
    for station in stations:
        keys = [
            f"{experiment.name}.{name}@{image}"
            for experiment in station.experiments
            for image in images_of(experiment)
            for name in experiment.deterministic
        ]
        if keys:
            found[station.label] = keys
    return found


def images_of(experiment: Experiment) -> list[str]:
    """The images EXPERIMENT may have run in, the PyTorch image's role as either build."""
    return [i for v in experiment.variants for i in (TORCH_IMAGES if v == TORCH else (v,))]


def planned(stations: Iterable[Station], images: dict[str, str]) -> tuple[list[Planned], list[str]]:
    """Each deterministic experiment on each image it runs in, where that image is built
    here (IMAGES); a line for each one that is not."""
    plan, problems = [], []
    for station in stations:
        station, _ = with_torch_image(station, Options())
        for experiment in station.experiments:
            if not experiment.deterministic:
                continue
            for variant in experiment.variants:
                if variant in images:
                    plan.append(Planned(station.label, station.folder.name, experiment, variant))
                else:
                    problems.append(
                        f"station {station.label} {experiment.name} on {variant} not "
                        f"re-run: image {ALL_VARIANTS[variant].image} is not built here"
                    )
    return plan, problems


def built_images() -> dict[str, str]:
    """Variant -> rootfs identity (as doctor --json gives it) of every image built here."""
    docker.require_engine()
    images = {}
    for name, variant in ALL_VARIANTS.items():
        facts = identity.inspect(variant.image)
        if facts is not None:
            images[name] = facts.rootfs
    return images


# -- running them again ---------------------------------------------------------------------


def rerun(
    stations: list[Station], say: Callable[[str], None], runner: Runner | None = None
) -> Reference:
    """Run each station's deterministic experiments once per image built here, in the lab's
    containers (quick: the values they keep are the same either way); keep only the
    observations each declares. A failed experiment is a problem line, not an error."""
    images = built_images()
    plan, problems = planned(stations, images)
    values = run_plan(plan, runner or ComposeRunner(), say, problems) if plan else {}
    return Reference(values, images, problems)


def run_plan(
    plan: list[Planned], runner: Runner, say: Callable[[str], None], problems: list[str]
) -> dict[Key, dict[str, Any]]:
    """PLAN in one set of containers (one per image), writing to a scratch folder."""
    labels = {lab_labels.RUN: secrets.token_hex(6), lab_labels.VERIFY: "1"}  # what clean-up finds
    output = scratch_folder()
    try:
        groups = sorted({(p.variant, p.experiment.capabilities) for p in plan})
        runner.prepare([(ALL_VARIANTS[v], c) for v, c in groups], output, labels)
        values = run_all(plan, runner, output, labels, say, problems)
        runner.close()
        return values
    except BaseException as error:
        stop_containers(runner, labels[lab_labels.RUN], error)
        raise
    finally:
        with signals.shielded():
            safe_files.remove_tree(output)


def run_all(
    plan: list[Planned],
    runner: Runner,
    output: Path,
    labels: dict[str, str],
    say: Callable[[str], None],
    problems: list[str],
) -> dict[Key, dict[str, Any]]:
    """Each of PLAN in turn, a progress line each; a failed one adds to PROBLEMS."""
    emulated = containers.emulated([ALL_VARIANTS[v] for v in {p.variant for p in plan}])
    values = {}
    for index, item in enumerate(plan, 1):
        where = f"station {item.label} {item.experiment.name} on {item.variant}"
        say(f"verify: {where} ({index}/{len(plan)})")
        found, problem = run_one(runner, item, output, labels, item.variant in emulated)
        if problem:
            problems.append(f"{where} failed ({untrusted.text(problem, 200)}): not verified")
        else:
            values[(item.label, item.experiment.name, item.variant)] = found
    return values


def run_one(
    runner: Runner, item: Planned, output: Path, labels: dict[str, str], emulated: bool
) -> tuple[dict[str, Any], str]:
    """ITEM's declared observations, or why there are none."""
    experiment = item.experiment
    job = experiment_job(item.folder, experiment, quick=True, emulated=emulated)
    observations = Observations()
    collector = Collector(experiment.name, item.variant, observations, lambda line: None)
    try:
        outcome = runner.run(
            ALL_VARIANTS[item.variant],
            job,
            capabilities=experiment.capabilities,
            output=output,
            labels=labels,
            on_line=collector.line,
        )
    except LabError as error:
        return {}, str(error)
    if outcome.exit_code or outcome.note:
        return {}, outcome.note or f"exit {outcome.exit_code}"
    wanted = set(experiment.deterministic)
    return {o.name: o.value for o in observations.records if o.name in wanted}, ""


def scratch_folder() -> Path:
    """An empty folder the containers may write in, removed afterwards. In a dev container
    the engine mounts from the host, which sees the lab's folder but not this /tmp."""
    parent = None
    if os.environ.get("LAB_HOST_ROOT"):
        parent = ROOT / ".lab"
        parent.mkdir(exist_ok=True)
    folder = Path(tempfile.mkdtemp(prefix="lab-verify-", dir=parent))
    if docker.hands_back():  # containers never run as root: lend it to theirs
        os.chown(folder, *docker.host_ids())
    return folder


# -- comparing a hand-in ---------------------------------------------------------------------


def same(a: Any, b: Any) -> bool:
    """JSON equality: 1 and 1.0 are one number, but true is not 1, and order counts in a list."""
    if isinstance(a, bool) or isinstance(b, bool):
        return isinstance(a, bool) and isinstance(b, bool) and a == b
    if isinstance(a, int | float) and isinstance(b, int | float):
        return a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    return type(a) is type(b) and a == b


def compare(
    reference: Reference, label: str, observations: Iterable[Observation], image_ids: dict[str, str]
) -> tuple[list[Mismatch], list[str]]:
    """Station LABEL's hand-in observations against the re-run's: the mismatches, and the
    `experiment.name@variant` keys verified. Only on the images whose rootfs identity
    (IMAGE_IDS: the hand-in's doctor.json, by variant) is this machine's; an observation the
    hand-in lacks is neither (its checks already fail on it)."""
    mismatches, verified = [], set()
    for observation in observations:
        rerun_value = expected(reference, label, observation, image_ids)
        if rerun_value is ...:
            continue
        key = f"{observation.experiment}.{observation.name}@{observation.variant}"
        if same(observation.value, rerun_value):
            verified.add(key)
        else:
            mismatches.append(
                Mismatch(
                    label,
                    observation.experiment,
                    observation.variant,
                    observation.name,
                    observation.value,
                    rerun_value,
                )
            )
    marked = {f"{m.experiment}.{m.name}@{m.variant}" for m in mismatches}
    return mismatches, sorted(verified - marked)


def expected(
    reference: Reference, label: str, observation: Observation, image_ids: dict[str, str]
) -> Any:
    """The re-run's value for OBSERVATION, or ... where it cannot be verified."""
    here = reference.images.get(observation.variant)
    if here is None or image_ids.get(observation.variant) != here:
        return ...
    values = reference.values.get((label, observation.experiment, observation.variant), {})
    return values.get(observation.name, ...)
