"""`class-report --verify`: a station's deterministic observations, run again and compared.

A scripted runner plays the containers: it prints each experiment's observations, so the
re-run, its clean-up and the comparison are tested without an engine.
"""

from __future__ import annotations

import ast
import json
import re
from dataclasses import replace
from pathlib import Path

import pytest
from labkit.protocol import MARKER

from lab.classroom import verify
from lab.config import STATIONS_DIR
from lab.engine import docker, labels, signals
from lab.errors import LabError
from lab.images import identity
from lab.run import run_folders, stations
from lab.run.observations import Observation
from lab.run.runner import Outcome
from tests.scripted_station import ScriptedRunner

STATION_TOML = """
number = 8
title = "made up"
minutes = 1

[[run]]
script = "exp.py"
title = "an experiment"
variants = ["stock", "ft"]
deterministic = ["opnames", "size"]

[[run]]
script = "timed.py"
title = "a timing: nothing in it is deterministic"
variants = ["stock"]

[[run]]
script = "debug_only.py"
title = "runs in the debug build"
variants = ["debug"]
deterministic = ["count"]
"""
BUILT = {"stock": "sha256:" + "a" * 64, "ft": "sha256:" + "b" * 64}  # debug: not built here


def line(name: str, value) -> str:
    return MARKER + json.dumps({"name": name, "value": value})


EXPERIMENT_LINES = [
    "a line the experiment prints",
    line("opnames", ["RESUME", "LOAD_FAST"]),
    line("size", 16),
    line("seconds", 0.25),  # not declared: never kept
]


class RecordingRunner(ScriptedRunner):
    """ScriptedRunner, noting each job (variant, script, env) and the folder it writes to."""

    def __init__(self, *args, fail: dict | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.jobs: list[tuple[str, str, dict]] = []
        self.outputs: list[Path] = []
        self.labels: list[dict] = []
        self.closed = False
        self.fail = fail or {}  # variant -> Outcome or LabError for that variant's jobs

    def prepare(self, groups, output, labels) -> None:
        self.outputs.append(Path(output))
        self.labels.append(dict(labels))

    def run(self, variant, job, *, capabilities, output, labels, on_line) -> Outcome:
        self.jobs.append((variant.name, job.argv[-1].rsplit("/", 1)[-1], dict(job.env)))
        failure = self.fail.get(variant.name)
        if isinstance(failure, Exception):
            raise failure
        outcome = super().run(
            variant, job, capabilities=capabilities, output=output, labels=labels, on_line=on_line
        )
        return failure or outcome

    def close(self) -> None:
        self.closed = True


@pytest.fixture
def made_up(tmp_path, no_docker, monkeypatch) -> stations.Station:
    folder = tmp_path / "stations" / "08-made-up"
    folder.mkdir(parents=True)
    (folder / "station.toml").write_text(STATION_TOML)
    for script in ("exp.py", "timed.py", "debug_only.py"):
        (folder / script).write_text("")
    monkeypatch.setattr(docker, "require_engine", lambda: "27.0")
    monkeypatch.setattr(docker, "hands_back", lambda: False)
    monkeypatch.setattr(identity, "inspect", built_here(BUILT))
    monkeypatch.setattr(run_folders, "remove_run_containers", lambda run_id: None)
    monkeypatch.chdir(tmp_path)
    return stations.load(folder)


def built_here(images: dict[str, str]):
    by_image = {verify.ALL_VARIANTS[name].image: rootfs for name, rootfs in images.items()}

    def inspect(reference: str):
        rootfs = by_image.get(reference)
        return rootfs and identity.ImageFacts("sha256:0", rootfs, "linux/amd64", (), {})

    return inspect


def reference() -> verify.Reference:
    declared = {"opnames": ["RESUME", "LOAD_FAST"], "size": 16, "alive": True}
    return verify.Reference({("8", "exp", "stock"): declared}, dict(BUILT), [])


# -- station.toml: `deterministic` ----------------------------------------------------------


def load_with(tmp_path: Path, declared: str) -> stations.Station:
    folder = tmp_path / "08-x"
    folder.mkdir(exist_ok=True)
    (folder / "exp.py").write_text("")
    run = f'[[run]]\nscript = "exp.py"\ntitle = "t"\nvariants = ["stock"]\n{declared}\n'
    (folder / "station.toml").write_text(f'number = 8\ntitle = "x"\nminutes = 1\n{run}')
    return stations.load(folder)


def test_deterministic_names_are_parsed_in_order_each_once(tmp_path) -> None:
    station = load_with(tmp_path, 'deterministic = ["opnames", "a.b-c_1", "opnames"]')
    assert station.experiments[0].deterministic == ("opnames", "a.b-c_1")
    assert load_with(tmp_path, "").experiments[0].deterministic == ()


@pytest.mark.parametrize(
    ("declared", "said"),
    [
        ('deterministic = "opnames"', "`deterministic` must be a list"),
        ("deterministic = [1]", "`deterministic` must be a list of strings"),
        ('deterministic = ["two words"]', "deterministic must name observations"),
        ('deterministic = [""]', "deterministic must name observations"),
        (f'deterministic = ["{"x" * 101}"]', "deterministic must name observations"),
        ('deterministic = ["a\\u001b[2J"]', "deterministic must name observations"),
    ],
)
def test_a_bad_deterministic_is_one_line_about_its_station(tmp_path, declared, said) -> None:
    with pytest.raises(LabError) as raised:
        load_with(tmp_path, declared)
    message = str(raised.value)
    assert said in message and "08-x/station.toml: not a valid station" in message
    assert "\n" not in message and "\x1b" not in message


def observed_names(script: Path) -> list[re.Pattern[str]]:
    """The names SCRIPT passes to observe(): exact, or a pattern where an f-string builds it."""
    found = []
    for node in ast.walk(ast.parse(script.read_text())):
        if not (isinstance(node, ast.Call) and getattr(node.func, "id", "") == "observe"):
            continue
        name = node.args[0]
        if isinstance(name, ast.Constant):
            found.append(re.compile(re.escape(name.value)))
        elif isinstance(name, ast.JoinedStr):
            parts = [
                re.escape(p.value) if isinstance(p, ast.Constant) else "[A-Za-z0-9_]+"
                for p in name.values
            ]
            found.append(re.compile("".join(parts)))
    return found


@pytest.mark.parametrize("station", stations.all_stations(STATIONS_DIR), ids=lambda s: s.label)
def test_every_declared_name_is_one_its_experiment_observes(station) -> None:
    for experiment in station.experiments:
        names = observed_names(station.folder / experiment.script)
        for declared in experiment.deterministic:
            assert any(p.fullmatch(declared) for p in names), f"{experiment.name}.{declared}"


def test_declared_lists_what_can_be_verified() -> None:
    found = verify.declared(stations.all_stations(STATIONS_DIR))
    assert "seed_dis.opnames@stock" in found["1"]
    assert "specialization.after@ft" in found["1"]
    assert not any(key.startswith("load_fast_vs_global.global_ns") for key in found["1"])
    assert "3" not in found  # station 3 is timings: nothing to verify


def test_declared_names_either_pytorch_build_for_the_role(tmp_path) -> None:
    station = load_with(tmp_path, 'deterministic = ["dlpack"]')
    experiment = replace(station.experiments[0], variants=("stock", "torch"))
    found = verify.declared([replace(station, experiments=(experiment,))])
    assert found == {"8": ["exp.dlpack@stock", "exp.dlpack@cuda", "exp.dlpack@torch-cpu"]}


# -- rerun ----------------------------------------------------------------------------------


def test_rerun_runs_each_deterministic_experiment_once_per_image_and_keeps_only_declared(
    made_up, tmp_path
) -> None:
    runner, said = RecordingRunner(EXPERIMENT_LINES), []
    found = verify.rerun([made_up], said.append, runner)
    declared = {"opnames": ["RESUME", "LOAD_FAST"], "size": 16}
    assert found.values == {("8", "exp", "stock"): declared, ("8", "exp", "ft"): declared}
    assert [(v, s) for v, s, _ in runner.jobs] == [("stock", "exp.py"), ("ft", "exp.py")]
    assert all(env["LAB_QUICK"] == "1" for _, _, env in runner.jobs)
    assert found.images == BUILT
    assert said == ["verify: station 8 exp on stock (1/2)", "verify: station 8 exp on ft (2/2)"]
    assert runner.closed


def test_rerun_writes_only_to_a_scratch_folder_it_removes_and_labels_its_containers(
    made_up, tmp_path
) -> None:
    before = sorted(p.name for p in tmp_path.iterdir())
    runner = RecordingRunner(
        EXPERIMENT_LINES, plant=lambda out: (out / "learner.py").write_text("")
    )
    verify.rerun([made_up], [].append, runner)
    (output,) = runner.outputs
    assert not output.exists() and not output.is_relative_to(tmp_path)
    assert sorted(p.name for p in tmp_path.iterdir()) == before  # no results/, nothing here
    assert re.fullmatch(r"[0-9a-f]{12}", runner.labels[0][labels.RUN])


def test_an_image_not_built_here_is_a_problem_line_and_nothing_runs_in_it(made_up) -> None:
    runner = RecordingRunner(EXPERIMENT_LINES)
    found = verify.rerun([made_up], [].append, runner)
    assert "debug" not in {variant for variant, _, _ in runner.jobs}
    assert found.problems == [
        "station 8 debug_only on debug not re-run: image lab-cpython:debug is not built here"
    ]


@pytest.mark.parametrize(
    "failure",
    [Outcome(1, 0.2), Outcome(137, 300.0, "timed out after 300 s"),
     LabError("the engine could not run lab-cpython:ft: no such image")],
    ids=["exit", "timeout", "engine"],
)  # fmt: skip
def test_an_experiment_failing_in_the_rerun_is_a_problem_not_an_error(made_up, failure) -> None:
    runner = RecordingRunner(EXPERIMENT_LINES, fail={"ft": failure})
    found = verify.rerun([made_up], [].append, runner)
    assert list(found.values) == [("8", "exp", "stock")]  # the failed one's values: none kept
    (problem,) = [p for p in found.problems if " on ft " in p]
    assert problem.startswith("station 8 exp on ft failed (") and "\n" not in problem
    assert problem.endswith("): not verified")


def test_an_interrupted_rerun_removes_its_containers_and_its_folder(made_up, monkeypatch) -> None:
    removed: list[str] = []
    monkeypatch.setattr(run_folders, "remove_run_containers", removed.append)

    def interrupt() -> None:
        raise signals.Interrupted(15)

    runner = RecordingRunner(EXPERIMENT_LINES, on_run=interrupt)
    with pytest.raises(signals.Interrupted) as raised:
        verify.rerun([made_up], [].append, runner)
    assert runner.stopped == 1 and not runner.outputs[0].exists()
    assert removed == [runner.labels[0][labels.RUN]]
    assert "removed container lab-test-container" in raised.value.stopped


def test_no_engine_is_one_line(made_up, monkeypatch) -> None:
    def no_engine():
        raise LabError("no Docker engine is running: run scripts/install-docker.sh")

    monkeypatch.setattr(docker, "require_engine", no_engine)
    with pytest.raises(LabError, match="no Docker engine"):
        verify.rerun([made_up], [].append, RecordingRunner())


# -- compare --------------------------------------------------------------------------------


def handed_in(**values) -> list[Observation]:
    return [Observation("exp", "stock", name, value) for name, value in values.items()]


def test_an_honest_hand_in_is_verified_not_marked() -> None:
    observations = handed_in(opnames=["RESUME", "LOAD_FAST"], size=16.0, alive=True, seconds=0.3)
    mismatches, verified = verify.compare(reference(), "8", observations, BUILT)
    assert mismatches == []  # 16 == 16.0 in JSON; seconds is not declared: not compared
    assert verified == ["exp.alive@stock", "exp.opnames@stock", "exp.size@stock"]


@pytest.mark.parametrize(
    "edited",
    [{"size": 32}, {"size": "16"}, {"alive": 1}, {"alive": False},
     {"opnames": ["LOAD_FAST", "RESUME"]}, {"opnames": ["RESUME"]}],
    ids=["number", "string", "bool-as-number", "bool", "order", "shorter"],
)  # fmt: skip
def test_an_edited_value_is_marked(edited) -> None:
    honest = {"opnames": ["RESUME", "LOAD_FAST"], "size": 16, "alive": True}
    mismatches, verified = verify.compare(reference(), "8", handed_in(**honest | edited), BUILT)
    (name,) = edited
    assert [(m.name, m.handed_in) for m in mismatches] == [(name, edited[name])]
    assert f"exp.{name}@stock" not in verified
    assert len(verified) == 2


def test_a_mismatch_is_one_short_line_with_the_hand_in_escaped() -> None:
    hostile = "\x1b[2J" + "x" * 500
    (mismatch,), _ = verify.compare(reference(), "8", handed_in(size=hostile), BUILT)
    text = mismatch.line()
    assert text.startswith("station 8 exp.size@stock: handed in ")
    assert text.endswith(", re-run here 16") and "\x1b" not in text and len(text) < 300


def test_a_variant_whose_image_differs_is_not_compared() -> None:
    other = {"stock": "sha256:" + "c" * 64}
    mismatches, verified = verify.compare(reference(), "8", handed_in(size=99), other)
    assert (mismatches, verified) == ([], [])
    assert verify.compare(reference(), "8", handed_in(size=99), {}) == ([], [])


def test_a_missing_observation_is_neither_marked_nor_verified() -> None:
    mismatches, verified = verify.compare(reference(), "8", handed_in(size=16), BUILT)
    assert mismatches == [] and verified == ["exp.size@stock"]


def test_only_the_station_named_is_compared() -> None:
    assert verify.compare(reference(), "1", handed_in(size=99), BUILT) == ([], [])


def test_a_value_handed_in_twice_with_one_edited_is_marked_not_verified() -> None:
    observations = [*handed_in(size=16), *handed_in(size=17)]
    mismatches, verified = verify.compare(reference(), "8", observations, BUILT)
    assert [m.handed_in for m in mismatches] == [17] and verified == []
