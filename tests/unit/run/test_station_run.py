"""The engine with a fake runner: sections, observations, and a report that is all or nothing."""

from __future__ import annotations

import json
import os

import pytest
from labkit.protocol import MARKER

from lab.config import ALL_VARIANTS
from lab.images import builder
from lab.run import containers, stations
from lab.run.observations import Observation
from lab.run.runner import Outcome
from lab.run.station_run import (
    EMULATION_SLOWDOWN,
    Options,
    StationRun,
    optional_images,
    run_station,
)


class FakeRunner:
    """Emits the observations station 1's checks need, or breaks down on request."""

    def __init__(self, fail_on: str | None = None) -> None:
        self.fail_on = fail_on
        self.calls: list[tuple[str, str]] = []
        self.envs: list[dict[str, str]] = []
        self.timeouts: list[float] = []
        self.stopped = 0

    def prepare(self, groups, output, labels) -> None:
        pass

    def resolve_reading(self, variant, entries, labels):
        return [{**e, "status": "document" if "url" in e else "found"} for e in entries]

    def run(self, variant, job, *, capabilities, output, labels, on_line) -> Outcome:
        script = job.argv[-1].rsplit("/", 1)[-1]
        self.calls.append((script, variant.name))
        self.envs.append(job.env)
        self.timeouts.append(job.timeout)
        if script == self.fail_on:
            raise KeyboardInterrupt  # the learner pressed Ctrl-C mid-run
        on_line("ordinary output")
        on_line(MARKER + json.dumps({"name": "seen", "value": 1, "unit": ""}))
        return Outcome(0, 0.1)

    def stop_all(self) -> list[str]:
        self.stopped += 1
        return []

    def close(self) -> None:
        pass


def test_report_has_every_section(no_docker) -> None:
    runner, said = FakeRunner(), []
    report, folder = run_station(stations.find("1"), Options(), runner=runner, say=said.append)
    assert ("specialization.py", "ft") in runner.calls
    assert report["observations"] and report["checks"] and report["explain"]
    assert not report["passed"], "the fake observations are not what the checks need"
    assert json.loads((folder / "report.json").read_text())["station"] == "1"
    assert "## Check" in (folder / "report.md").read_text()
    assert any("== Explain ==" in line for line in said)


def test_one_variant_runs_only_its_experiments(no_docker) -> None:
    runner = FakeRunner()
    run_station(stations.find("1"), Options(variant="ft"), runner=runner, say=lambda _: None)
    assert {variant for _, variant in runner.calls} == {"ft"}


def test_reading_only_runs_nothing(no_docker) -> None:
    runner = FakeRunner()
    report, _ = run_station(
        stations.find("1"), Options(run=False), runner=runner, say=lambda _: None
    )
    assert runner.calls == [] and report["reading"] and not report["checks"]


def test_interrupted_run_leaves_no_partial_report(no_docker) -> None:
    with pytest.raises(KeyboardInterrupt):
        run_station(
            stations.find("1"),
            Options(),
            runner=FakeRunner(fail_on="load_fast_vs_global.py"),
            say=lambda _: None,
        )
    assert not [p for p in no_docker.rglob("*") if p.is_file()]
    assert not list(no_docker.rglob("*.partial"))


def test_quick_asks_every_experiment_for_a_small_workload(no_docker) -> None:
    runner = FakeRunner()
    run_station(stations.find("1"), Options(quick=True), runner=runner, say=lambda _: None)
    assert runner.envs and all(env.get("LAB_QUICK") == "1" for env in runner.envs)
    run_station(stations.find("1"), Options(), runner=runner, say=lambda _: None)
    assert "LAB_QUICK" not in runner.envs[-1]


def test_evidence_can_name_one_variant() -> None:
    run = StationRun(stations.find("1"), Options(), FakeRunner(), say=lambda _: None)
    for variant, value in (("stock", 1.5), ("ft", 3.5)):
        run.observations.add(Observation("exp", variant, "ratio", value, "x"))
    assert run.evidence("exp.ratio")["values"] == {"stock": 1.5, "ft": 3.5}
    assert run.evidence("exp.ratio@ft")["text"] == "ft: 3.5 x"
    assert run.evidence("exp.ratio@debug")["text"] == "(not measured in this run)"


@pytest.mark.skipif(os.getuid() != 0, reason="lending and handing back happen only as root")
def test_hand_back_leaves_another_runs_partial_folder_alone(tmp_path) -> None:
    theirs = tmp_path / "station-3" / "20261125-060000.partial"
    theirs.mkdir(parents=True)
    (theirs / "scaling.json").write_text("{}")
    done = tmp_path / "station-1" / "20261125-055900"
    done.mkdir(parents=True)
    for path in (theirs, theirs / "scaling.json", done):
        os.chown(path, 1000, 1000)
    containers.hand_back(tmp_path)
    assert done.stat().st_uid == 0, "what a finished run wrote is the invoker's"
    assert (theirs / "scaling.json").stat().st_uid == 1000, "a run still writing keeps its folder"


def test_an_image_not_built_skips_only_the_optional_experiment_and_says_how(
    no_docker, monkeypatch
) -> None:
    monkeypatch.setattr(containers, "is_built", lambda variant: variant.name != "cuda")
    runner, said = FakeRunner(), []
    report, folder = run_station(stations.find("5"), Options(), runner=runner, say=said.append)
    assert ("shared_buffer.py", "stock") in runner.calls
    assert not [call for call in runner.calls if call[1] == "cuda"]
    assert any("tensor_buffer on cuda" in s and "invoke images --variant cuda" in s for s in said)
    checks = {c["name"]: c for c in report["checks"]}
    assert checks["tensor_is_no_buffer_exporter"]["status"] == "skip"
    assert "not built here" in checks["tensor_is_no_buffer_exporter"]["detail"]
    assert checks["one_buffer_no_copies"]["status"] == "fail"  # judged: the fake's values
    assert "| tensor_buffer | cuda | skipped |" in (folder / "report.md").read_text()


def test_an_optional_image_that_is_built_runs(no_docker, monkeypatch) -> None:
    monkeypatch.setattr(containers, "is_built", lambda variant: True)
    runner = FakeRunner()
    run_station(stations.find("5"), Options(), runner=runner, say=lambda _: None)
    assert ("tensor_buffer.py", "cuda") in runner.calls


def test_a_class_lock_without_an_image_runs_what_it_has(no_docker, monkeypatch) -> None:
    """Station 2 where the class's lab.lock names stock and ft, and no debug image is here:
    the debug experiment is skipped, saying why, and the rest runs; nothing asks for a
    compile, or for the debug image."""
    monkeypatch.setattr(containers, "is_built", lambda variant: variant.name != "debug")
    asked: list[str] = []
    monkeypatch.setattr(containers, "image_ids", lambda variants: asked.extend(
        v.name for v in variants) or {v.name: "0123456789ab" for v in variants})  # fmt: skip
    runner, said = FakeRunner(), []
    options = Options(locked=frozenset({"stock", "ft"}))
    report, _ = run_station(stations.find("2"), options, runner=runner, say=said.append)
    assert set(asked) == {"stock", "ft"}
    assert {variant for _, variant in runner.calls} == {"stock", "ft"}
    skipped = [e for e in report["experiments"] if e["variant"] == "debug"]
    assert skipped and all("is not in the class's lab.lock" in e["note"] for e in skipped)
    assert any("total_refcount on debug" in line and "lab.lock" in line for line in said)
    assert not any("invoke images" in line for line in said)
    check = {c["name"]: c for c in report["checks"]}["debug_total_refcount"]
    assert check["status"] == "skip" and "not in the class's lab.lock" in check["detail"]


def test_an_image_the_lock_leaves_out_but_built_here_runs(no_docker, monkeypatch) -> None:
    monkeypatch.setattr(containers, "is_built", lambda variant: True)
    runner = FakeRunner()
    options = Options(locked=frozenset({"stock", "ft"}))
    run_station(stations.find("2"), options, runner=runner, say=lambda _: None)
    assert ("total_refcount.py", "debug") in runner.calls


def test_the_lock_leaves_out_no_image_a_run_is_asked_for(no_docker, monkeypatch) -> None:
    """--variant debug, or the image the reading is resolved in: asked for all the same (the
    engine then says it is not there)."""
    monkeypatch.setattr(containers, "is_built", lambda variant: False)
    locked = frozenset({"ft"})
    station = stations.find("2")
    assert optional_images(station, Options(variant="debug", locked=locked)) == ([], {})
    _, absent = optional_images(station, Options(locked=locked))
    assert set(absent) == {"debug"}, "stock is the reading's image"
    _, absent = optional_images(station, Options(read=False, locked=locked))
    assert set(absent) == {"stock", "debug"}


def test_the_pytorch_image_is_the_machines_unless_one_is_named(no_docker, monkeypatch) -> None:
    monkeypatch.setattr(containers, "is_built", lambda variant: True)
    monkeypatch.setattr(builder, "torch_image", lambda built_only=False: ALL_VARIANTS["torch-cpu"])
    for options, image in [
        (Options(), "torch-cpu"),
        (Options(variant="torch"), "torch-cpu"),
        (Options(variant="cuda"), "cuda"),
    ]:
        runner = FakeRunner()
        report, _ = run_station(stations.find("6"), options, runner=runner, say=lambda _: None)
        assert {variant for _, variant in runner.calls} == {image}, options
        assert list(report["images"]) == [image], "the reading too, in that image"


def test_a_station_names_the_pytorch_image_by_its_role() -> None:
    station = stations.find("5")
    assert "torch" in station.variants and "cuda" not in station.variants
    resolved = station.with_torch("torch-cpu")
    assert resolved.variants == ("stock", "torch-cpu")
    assert resolved.optional_variants == ("torch-cpu",)
    assert stations.find("6").with_torch("cuda").read_in == "cuda"


def test_an_emulated_image_gets_longer_to_run_in(no_docker, monkeypatch) -> None:
    station = stations.find("1")
    native = FakeRunner()
    run_station(station, Options(variant="stock"), runner=native, say=lambda _: None)
    note = "a linux/arm64 image on a linux/amd64 engine, under emulation"
    monkeypatch.setattr(containers, "emulated", lambda variants: {"stock": note})
    emulated, said = FakeRunner(), []
    report, _ = run_station(station, Options(variant="stock"), runner=emulated, say=said.append)
    assert emulated.timeouts == [t * EMULATION_SLOWDOWN for t in native.timeouts]
    assert any(note in line for line in said)
    local_read = {c["name"]: c for c in report["checks"]}["local_read_is_faster"]
    assert local_read["status"] == "skip" and "under emulation" in local_read["detail"]
