"""A made-up lab of two stations and its students' hand-ins, for the class page's tests
(tests/unit/classroom and the browser's tests/pages): `lab_here` is registered as a fixture
in tests/conftest.py."""

from __future__ import annotations

import gzip
import hashlib
import json
import shutil
import tarfile
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path

import pytest

from lab.classroom import class_page, facts, hand_in
from lab.config import STATIONS_DIR
from lab.run import figures, stations
from lab.run.observations import Observation, Observations, load_checks, run_check
from tests.scripted_station import station_toml
from tests.tars import tar_of

# Two stations of a made-up lab, observed under the names the class figures draw.
BOTH = ["stock", "ft"]
STATION_1 = station_toml(1, "Frames", minutes=5, runs=[
    {"script": "load_fast_vs_global.py", "title": "global vs local", "variants": BOTH},
])  # fmt: skip
CHECKS_1 = '''
def check_global_read_is_slower(obs):
    """A global's read takes longer than a local's on stock"""
    ratio = obs["load_fast_vs_global.global_over_local@stock"]
    return ratio > 1.05, f"global / local = {ratio:.2f}x"
'''
STATION_3 = station_toml(3, "The GIL", minutes=5, runs=[
    {"script": "scaling.py", "title": "scaling", "variants": BOTH},
])  # fmt: skip
CHECKS_3 = '''
def check_ft_threads_scale(obs):
    """Threads scale on 3.13t"""
    obs.timed("ft")
    speedup = obs["scaling.threads_speedup@ft"]
    return speedup > 1.5, f"{speedup:.2f}x"
'''
ROOTFS = "sha256:" + "1" * 64
LOCK = {
    "lab_lock": 1,
    "registry": None,
    "images": {"stock": {"image": "lab-cpython:stock", "platform": "linux/amd64",
                         "rootfs": ROOTFS, "fingerprint": {"python": "3.13.5"}}},
}  # fmt: skip
ARM_ROOTFS = "sha256:" + "4" * 64
# One lock, two platforms (format 2): a student is judged against their own platform's entry.
TWO_PLATFORM_LOCK = {
    "lab_lock": 2,
    "registry": None,
    "images": {"stock": {"image": "lab-cpython:stock", "repository": None, "index": None,
                         "platforms": {
                             "linux/amd64": {"rootfs": ROOTFS, "fingerprint": {"python": "3.13.5"}},
                             "linux/arm64": {"rootfs": ARM_ROOTFS,
                                             "fingerprint": {"python": "3.13.5"}}}}},
}  # fmt: skip


def on_arm64(image_rootfs: str, image_platform: str = "linux/arm64") -> Callable:
    """A hand-in edit: its doctor.json from an arm64 engine, whose stock image is
    IMAGE_PLATFORM's with IMAGE_ROOTFS."""

    def edit(name: str, value: dict | bytes) -> object:
        if name == "doctor.json" and isinstance(value, dict):
            value["engine"]["platform"] = "linux/arm64"
            value["images"]["stock"].update(rootfs=image_rootfs, platform=image_platform)
        return value

    return edit


@pytest.fixture
def lab_here(tmp_path, monkeypatch) -> Path:
    """A lab of stations 1 and 3 (LAB_STATIONS), with the real stations' figures.py (their
    class figures); the folder hand-ins are collected in."""
    for folder, toml, checks, script in (
        ("01-frames", STATION_1, CHECKS_1, "load_fast_vs_global.py"),
        ("03-gil", STATION_3, CHECKS_3, "scaling.py"),
    ):
        station = tmp_path / "stations" / folder
        station.mkdir(parents=True)
        (station / "station.toml").write_text(toml)
        (station / "checks.py").write_text(checks)
        (station / script).write_text("")
        shutil.copy(STATIONS_DIR / folder / figures.FIGURES_FILE, station)
    monkeypatch.setenv("LAB_STATIONS", str(tmp_path / "stations"))
    monkeypatch.setattr(facts, "machine_facts", lambda: doctor_facts(ROOTFS))
    # One commit for the hand-ins and the page: the checkout's own may move between them.
    monkeypatch.setattr(hand_in, "lab_commit", lambda: {"commit": "a" * 40, "dirty": False})
    class_folder = tmp_path / "class"
    class_folder.mkdir()
    return class_folder


def doctor_facts(rootfs: str) -> dict:
    image = {**LOCK["images"]["stock"], "rootfs": rootfs, "config": None}
    engine = {"version": "26.1", "kind": "Docker", "platform": "linux/amd64"}
    return {"lab_facts": 1, "engine": engine, "images": {"stock": image, "debug": None}}


def report(label: str, observed: dict[str, object], title: str = "t") -> dict:
    """A run's report.json, judged by the made-up lab's checks as a run judges it."""
    station = stations.find(label)
    experiment = station.experiments[0]
    records = []
    for key, value in observed.items():
        name, _, variant = key.partition("@")
        records.append(Observation(experiment.name, variant, name, value))
    obs = Observations(records)
    checks = [asdict(run_check(c, obs)) for c in load_checks(station.checks_file)]
    return {
        "station": label,
        "title": title,
        "started": "2026-12-02T01:00:00+00:00",
        "seconds": 12.5,
        "images": {"stock": "0123"},
        "reading": [],
        "experiments": [
            {
                "experiment": experiment.name,
                "variant": v,
                "exit_code": 0,
                "seconds": 1.0,
                "note": "",
            }
            for v in experiment.variants
        ],
        "observations": [asdict(r) for r in records],
        "checks": checks,
        "explain": [],
        "files": [],
        "emulated": {},
        "passed": all(c["status"] != "fail" for c in checks),
    }


GOOD_1 = {"global_over_local@stock": 1.4, "global_over_local@ft": 1.1}
GOOD_3 = {"threads_speedup@ft": 1.9, "threads_speedup@stock": 1.0, "cores@stock": 2,
          "processes_speedup@stock": 1.95}  # fmt: skip


def make_hand_in(folder: Path, name: str, reports: dict[str, dict]) -> Path:
    """`invoke hand-in --name NAME` on a machine whose latest runs are REPORTS."""
    results = folder.parent / f"results-{name}"
    for label, body in reports.items():
        run = results / f"station-{label}" / "20261202-010000"
        run.mkdir(parents=True)
        (run / "report.json").write_text(json.dumps(body))
        (run / "report.html").write_text("<script>alert('the hand-in page')</script>")
    return hand_in.hand_in(name, folder / f"hand-in-{name}.tar.gz", results).path


def rewrite(path: Path, edit: Callable[[str, dict | bytes], object], resum: bool = False) -> None:
    """PATH's archive with each member passed through EDIT (JSON parsed); RESUM: the manifest's
    SHA-256s made to match, as a careful editor would."""
    with tarfile.open(path, "r:gz") as tar:
        found = {m.name: tar.extractfile(m).read() for m in tar.getmembers()}
    edited = {}
    for name, data in found.items():
        value = edit(name, json.loads(data) if name.endswith(".json") else data)
        unchanged = value == (json.loads(data) if name.endswith(".json") else data)
        if unchanged:
            edited[name] = data  # byte for byte: its SHA-256 still matches
        else:
            edited[name] = value if isinstance(value, bytes) else json.dumps(value).encode()
    if resum:
        manifest = json.loads(edited["manifest.json"])
        for name, data in edited.items():
            if name != "manifest.json":
                manifest["members"][name]["sha256"] = hashlib.sha256(data).hexdigest()
        edited["manifest.json"] = json.dumps(manifest).encode()
    path.write_bytes(gzip.compress(tar_of(list(edited.items())), compresslevel=1))


def run_class(folder: Path, lock: Path | None = None) -> tuple[str, dict, list[str]]:
    lines: list[str] = []
    output = folder.parent / "class.html"
    hands, _ = class_page.class_report(folder, output, lock, lines.append)
    return output.read_text(), class_page.as_json(hands), lines


def student(table: dict, name: str) -> dict:
    return next(s for s in table["students"] if s["name"] == name)


def two_students(folder: Path) -> None:
    make_hand_in(folder, "ada", {"1": report("1", GOOD_1), "3": report("3", GOOD_3)})
    make_hand_in(folder, "bob", {"1": report("1", GOOD_1)})


def break_observation(name: str, value: object) -> object:
    """Bob's edit: station 1's ratio no longer supports its PASS."""
    if name == "station-1/report.json":
        for o in value["observations"]:
            if o["name"] == "global_over_local" and o["variant"] == "stock":
                o["value"] = 0.9
    return value
