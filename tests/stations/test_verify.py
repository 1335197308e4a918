"""`class-report --verify` on the real images: station 1's deterministic experiments, run
again through the lab's own runner, agree with an honest `--quick` run, and not with an
edited copy of it."""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import replace
from pathlib import Path

import pytest

from lab.classroom import hand_in, verify
from lab.config import Variant
from lab.engine import docker
from lab.run import stations
from lab.run.observations import Observation
from lab.run.station_run import Options, run_station
from tests.class_hand_ins import rewrite, student
from tests.cli import invoke


@pytest.fixture
def results(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("LAB_RESULTS", str(tmp_path))
    if os.getuid() == 0:  # containers run as uid 1000
        os.chown(tmp_path, 1000, 1000)
    return tmp_path


def scratch_folders() -> set[str]:
    return {p.name for p in Path(tempfile.gettempdir()).glob("lab-verify-*")}


def test_an_honest_run_is_verified_and_an_edited_copy_is_marked(
    stock: Variant, ft: Variant, results: Path
) -> None:
    station = stations.find("1")
    report, _ = run_station(station, Options(read=False, quick=True), say=[].append)
    handed_in = [Observation(**entry) for entry in report["observations"]]
    before, kept, said = scratch_folders(), sorted(results.rglob("*")), []
    reference = verify.rerun([station], said.append)
    assert sorted(results.rglob("*")) == kept, "the re-run wrote into results/"
    assert reference.problems == [] and len(said) == 7  # 5 experiments, 2 of them on ft too

    mismatches, verified = verify.compare(reference, "1", handed_in, reference.images)
    assert mismatches == [], [m.line() for m in mismatches]
    assert set(verified) == set(verify.declared([station])["1"])  # every one, on both images

    edited = [
        replace(o, value=o.value[::-1]) if o.key == "seed_dis.opnames" else o for o in handed_in
    ]
    mismatches, verified = verify.compare(reference, "1", edited, reference.images)
    assert [m.name for m in mismatches] == ["opnames"]
    assert "seed_dis.opnames@stock" not in verified

    assert scratch_folders() == before, "the re-run's scratch folder is left behind"
    left = docker.docker(["ps", "-aq", "--filter", "label=org.lab.verify"], check=False)
    assert not left.split(), "the re-run's containers are left behind"


def test_class_report_verify_marks_the_edited_hand_in_and_not_the_honest_one(
    stock: Variant, ft: Variant, results: Path, tmp_path: Path
) -> None:
    """The done-when: an edit every check still passes on (seed_dis.co_varnames, which no
    check reads) is caught by the re-run; the honest hand-in of the same run is not marked."""
    run_station(stations.find("1"), Options(read=False, quick=True), say=[].append)
    folder = tmp_path / "class"
    folder.mkdir()
    for name in ("ada", "eve"):
        hand_in.hand_in(name, folder / f"hand-in-{name}.tar.gz", results)

    def renamed_locals(member: str, value: object) -> object:
        if member.endswith("/report.json"):
            for entry in value["observations"]:
                if entry["name"] == "co_varnames":
                    entry["value"] = ["renamed"]
        return value

    rewrite(folder / "hand-in-eve.tar.gz", renamed_locals, resum=True)
    result = invoke("class-report", str(folder), "--verify", "--json", cwd=tmp_path)
    assert result.code == 0, result.stderr
    ada, eve = (student(json.loads(result.stdout), n)["stations"]["1"] for n in ("ada", "eve"))
    assert ada["marks"] == {} and ada["verdict"] != "fail"
    assert "seed_dis.co_varnames@stock" in ada["verified"]
    assert eve["verdict"] == "fail" and eve["recorded"] == "pass"
    assert '["renamed"]' in eve["marks"]["seed_dis.co_varnames@stock"]
    assert not (tmp_path / "class.html").exists(), "--json writes no page"
