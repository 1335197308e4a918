"""`invoke images`' progress, on BuildKit output recorded from Debian 12's compose 2.26
(`docker compose --progress plain build` of a two-stage Dockerfile): the steps counted, the
estimate from the last build, the log kept whole and its tail shown when a step fails."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest

from lab.errors import LabError
from lab.images import build_progress, builder
from lab.progress import Progress, Work

RECORDED = Path(__file__).parent / "buildkit"
BUILT = RECORDED / "compose-2.26-built.txt"  # 10 steps, two of them RUN with output
CACHED = RECORDED / "compose-2.26-cached.txt"  # the same, every step CACHED
FAILED = RECORDED / "compose-2.26-failed.txt"  # step #9 prints 30 lines and exits 3


@pytest.fixture(autouse=True)
def cache(tmp_path, monkeypatch) -> Path:
    monkeypatch.setenv("LAB_CACHE", str(tmp_path / "cache"))
    monkeypatch.delenv("CI", raising=False)
    return tmp_path / "cache"


def steps_of(path: Path) -> build_progress.Steps:
    steps = build_progress.Steps()
    for line in path.read_text().splitlines(keepends=True):
        steps.feed(line)
    return steps


def test_every_vertex_is_a_step_and_each_one_ends() -> None:
    built = steps_of(BUILT)
    assert len(built.names) == 10 and built.done == 10 and built.failed is None
    assert built.names[6] == "[t one 2/3] RUN echo hello && sleep 1"
    assert steps_of(CACHED).done == 10, "a CACHED step is a step done"
    assert built.ran == {6, 7, 9}, "the RUN steps that ran"
    assert steps_of(CACHED).ran == set(), "a build all from the cache runs nothing"


def test_a_failed_step_is_named_with_its_reason() -> None:
    failed = steps_of(FAILED)
    assert failed.failed == 9
    assert failed.names[9].startswith("[t two 2/2] RUN for i in")
    assert failed.reason == "pinned thing missing", "the step's line, not the echo of its command"
    assert failed.done == 9


def test_the_step_under_way_is_the_latest_started() -> None:
    steps = build_progress.Steps()
    for line in ("#5 [lab 1/3] RUN a\n", "#6 [lab 2/3] RUN b\n", "#6 0.1 output\n"):
        steps.feed(line)
    assert steps.under_way() == "[lab 2/3] RUN b"
    steps.feed("#6 DONE 1.0s\n")
    assert steps.under_way() == "[lab 1/3] RUN a", "a step that ran beside it, still going"


def test_the_total_is_the_last_builds_count_until_more_are_seen() -> None:
    shown = Progress(Work("x", "steps"), prefix="images", out=io.StringIO(), live=False)
    lines = BUILT.read_text().splitlines(keepends=True)
    build_progress.watch(lines[:12], io.StringIO(), shown, recorded_steps=10)
    assert (shown.work.total, shown.work.total_is_floor) == (10, False)
    build_progress.watch(lines, io.StringIO(), shown, recorded_steps=8)
    assert (shown.work.total, shown.work.total_is_floor) == (10, True)


def test_the_estimate_is_the_last_build_of_the_same_inputs() -> None:
    assert build_progress.last_build("lab-cpython:stock", "aaaa") is None
    build_progress.record("lab-cpython:stock", "aaaa", 600.04, 31)
    build_progress.record("lab-cpython:stock", "bbbb", 30, 29)
    build_progress.record("lab-cpython:ft", "aaaa", 900, 33)
    same = build_progress.last_build("lab-cpython:stock", "aaaa")
    assert same is not None and same.steps == 31
    assert same.estimate.seconds == 600.0
    assert same.estimate.source == "last build of these inputs"
    other = build_progress.last_build("lab-cpython:stock", "cccc")
    assert other is not None and other.estimate.source == "last build, other inputs"
    assert other.estimate.seconds == 30, "the latest build of that image"


def test_an_unreadable_record_is_no_estimate(cache: Path) -> None:
    cache.mkdir()
    (cache / build_progress.TIMES_FILE).write_text("{not json")
    assert build_progress.last_build("lab-cpython:stock", "aaaa") is None
    build_progress.record("lab-cpython:stock", "aaaa", 5, 3)  # and it is written anew
    assert build_progress.last_build("lab-cpython:stock", "aaaa") is not None


def replay(path: Path, exit_code: int) -> list[str]:
    """A build command that prints PATH as BuildKit printed it, then exits EXIT_CODE."""
    return ["sh", "-c", f'cat "$0"; exit {exit_code}', str(path)]


def test_a_build_keeps_its_whole_log_and_says_plain_lines(capsys) -> None:
    builder.run_build(replay(BUILT, 0), dict(os.environ), "lab-cpython:stock", "aaaa")
    log = build_progress.log_path("lab-cpython:stock")
    assert log.read_text() == BUILT.read_text(), "the log is BuildKit's output, all of it"
    out = capsys.readouterr().out
    assert "\r" not in out and "\x1b" not in out, "plain lines: output is not a terminal"
    assert f"[images] BuildKit's log: {log}" in out
    assert out.splitlines()[-1].startswith("[images] lab-cpython:stock: done, 10 steps in ")
    assert "#6 0.179 hello" not in out, "BuildKit's own lines go to the log"
    recorded = build_progress.last_build("lab-cpython:stock", "aaaa")
    assert recorded is not None and recorded.steps == 10

    build_progress.record("lab-cpython:stock", "aaaa", 600, 12)  # as a cold build took
    builder.run_build(replay(CACHED, 0), dict(os.environ), "lab-cpython:stock", "aaaa")
    recorded = build_progress.last_build("lab-cpython:stock", "aaaa")
    assert recorded is not None and recorded.estimate.seconds == 600, "a cached build: no record"
    again = capsys.readouterr().out.splitlines()
    assert again[1] == (
        "[images] lab-cpython:stock: step 0/12, 0:00 elapsed, about 10:00 left"
        " (last build of these inputs: 10:00)"
    ), again


def test_a_failed_step_shows_the_logs_tail_and_where_the_log_is(capsys) -> None:
    with pytest.raises(LabError) as failed:
        builder.run_build(replay(FAILED, 17), dict(os.environ), "lab-cpython:stock", "aaaa")
    assert str(failed.value) == "building lab-cpython:stock failed: pinned thing missing"
    log = build_progress.log_path("lab-cpython:stock")
    out = capsys.readouterr().out.splitlines()
    assert "[images] lab-cpython:stock: failed at [t two 2/2] RUN for i in" in "\n".join(out)
    assert out[-1] == f"[images] the whole log: {log}"
    tail = FAILED.read_text().splitlines()[-build_progress.TAIL_LINES :]
    assert out[-1 - len(tail) : -1] == [f"  {line}" for line in tail]
    assert build_progress.last_build("lab-cpython:stock", "aaaa") is None, "no time recorded"


def test_a_failure_without_a_reason_points_at_the_log(tmp_path) -> None:
    silent = tmp_path / "silent.txt"
    silent.write_text("#1 [internal] load build definition\n#1 ERROR: no Dockerfile\n")
    with pytest.raises(LabError, match="see the log's last lines above, or all of it in"):
        builder.run_build(replay(silent, 1), dict(os.environ), "lab-cpython:stock", "aaaa")


def test_a_long_step_is_one_short_line() -> None:
    steps = build_progress.Steps()
    steps.feed("#7 [lab 3/3] RUN export A=1 \\\n")  # BuildKit names a RUN by its whole script
    steps.names[7] += "    && make -j2 " + "x " * 200
    shown = steps.under_way()
    assert shown.startswith("[lab 3/3] RUN export A=1 \\ && make -j2 x")
    assert len(shown) == build_progress.NOTE_WIDTH and shown.endswith("…")
