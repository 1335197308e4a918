"""Hostile output at the limits: deep or long observations, floods of lines, names that are
not UTF-8, markup meant for report.md, a closed stdout and a full disk at the report write.

Each limit is tried at its edge: exactly at it is taken, one over is dropped with one line.
"""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from invoke import Exit
from labkit.protocol import MARKER

import tasks
from lab import cli, untrusted
from lab.errors import LabError
from lab.run import safe_files, stations
from lab.run.observations import Observations
from lab.run.runner import Frames
from lab.run.station_run import Collector, Options, run_station
from lab.untrusted import Malformed, observation
from tests.scripted_station import ScriptedRunner, nothing_left, run, seen


def nested(depth: int) -> str:
    return "[" * depth + "]" * depth


def payload_of(chars: int, name: str = "big") -> str:
    """An observation's JSON exactly CHARS long."""
    head, tail = json.dumps({"name": name, "value": ""})[:-2], '"}'
    return head + "x" * (chars - len(head) - len(tail)) + tail


def collect() -> tuple[Collector, Observations, list[str]]:
    observations, said = Observations(), []
    return Collector("exp", "stock", observations, said.append), observations, said


def framed(collector: Collector, *lines: str) -> None:
    """LINES as the supervisor frames them, through the host's parser to COLLECTOR."""
    frames = Frames(0, 10, collector.line)
    frames.parse(b"@start 0")
    for line in lines:
        frames.parse(b"|0 " + line.encode())


# -- nesting -------------------------------------------------------------------------------
def test_an_observation_nested_at_the_limit_is_taken_one_deeper_is_malformed() -> None:
    record = observation(json.dumps({"name": "x", "value": json.loads(nested(20))}))
    assert record["value"] == json.loads(nested(20))
    for depth in (21, 600):
        with pytest.raises(Malformed, match="nested deeper than 20"):
            observation('{"name": "x", "value": ' + nested(depth) + "}")
    with pytest.raises(Malformed, match="nested deeper than 20"):
        observation('{"name": "x", "value": ' + '{"a": ' * 600 + "1" + "}" * 601)


def test_a_deeply_nested_observation_is_one_line_and_the_run_goes_on(station) -> None:
    said: list[str] = []
    deep = MARKER + '{"name": "deep", "value": ' + nested(600) + "}"
    report, folder = run(station, ScriptedRunner([deep, seen()]), said)
    assert report["passed"] and [o["name"] for o in report["observations"]] == ["seen"]
    assert sum("malformed observation" in line for line in said) == 1
    assert json.loads((folder / "report.json").read_text())["passed"]


# -- file names ----------------------------------------------------------------------------
def test_text_replaces_lone_surrogates() -> None:
    assert untrusted.text("a\udcff\ud800b") == "a\ufffd\ufffdb"


def test_a_file_name_that_is_not_utf8_is_shown_safely(station) -> None:
    def plant(output: Path) -> None:
        os.close(os.open(os.fsencode(output) + b"/bad\xff\x1b[2J.txt", os.O_CREAT | os.O_WRONLY))

    report, folder = run(station, ScriptedRunner([seen()], plant))
    assert report["files"] == ["bad\ufffd?[2J.txt"]
    assert "[bad\ufffd?\\[2J.txt](bad%FF%1B%5B2J.txt)" in (folder / "report.md").read_text()
    json.loads((folder / "report.json").read_text(encoding="utf-8"))


def test_a_lone_surrogate_in_an_observation_is_replaced() -> None:
    record = observation('{"name": "x", "value": ["\\ud800", {"k": "\\udcff"}]}')
    assert record["value"] == ["\ufffd", {"k": "\ufffd"}]


def test_write_new_never_raises_on_a_lone_surrogate(tmp_path) -> None:
    fd = os.open(tmp_path, os.O_RDONLY)
    try:
        safe_files.write_new(fd, "out.md", "name \udcff", shown=tmp_path)
    finally:
        os.close(fd)
    assert (tmp_path / "out.md").read_text(encoding="utf-8") == "name ?"


def test_a_file_link_targets_the_real_name_and_shows_a_safe_one(station) -> None:
    def plant(output: Path) -> None:  # text files: the only ones linked (page.TEXT_SUFFIXES)
        (output / "a\x1bb c(1).txt").write_text("")
        os.close(os.open(os.fsencode(output) + b"/n\xff.txt", os.O_CREAT | os.O_WRONLY))

    _, folder = run(station, ScriptedRunner([seen()], plant))
    markdown = (folder / "report.md").read_text()
    assert "- [a?b c(1).txt](a%1Bb%20c%281%29.txt)" in markdown
    assert "- [n\ufffd.txt](n%FF.txt)" in markdown


def test_the_note_on_files_left_out_is_no_link(station) -> None:
    def plant(output: Path) -> None:
        for i in range(501):
            (output / f"f{i:03}").write_text("")

    _, folder = run(station, ScriptedRunner([seen()], plant))
    assert "- ... and 1 more\n" in (folder / "report.md").read_text()


# -- lengths and counts at their edges -------------------------------------------------------
def test_an_observation_line_is_parsed_whole_up_to_its_limit() -> None:
    collector, observations, said = collect()
    framed(collector, MARKER + payload_of(untrusted.MAX_VALUE_CHARS))
    assert [r.name for r in observations.records] == ["big"]
    framed(collector, MARKER + payload_of(untrusted.MAX_VALUE_CHARS + 1))
    assert len(observations.records) == 1
    assert sum("longer than 100,000 characters" in line for line in said) == 1


def test_an_ordinary_line_is_shown_cut_at_2000_characters() -> None:
    collector, _, said = collect()
    framed(collector, "y" * 2000, "z" * 2001)
    assert said[0].endswith("│ " + "y" * 2000)
    assert said[1].endswith("│ " + "z" * 1999 + "…")


def test_observations_are_taken_up_to_2000_and_one_more_is_dropped_with_one_line() -> None:
    collector, observations, said = collect()
    for _ in range(2001):
        collector.line(seen())
    collector.done()
    assert len(observations.records) == 2000
    assert [line for line in said if line.startswith("lab:")] == [
        "lab: exp on stock printed more observations than the lab keeps "
        "(2,000, or 5,000,000 characters); 1 were ignored"
    ]


def test_observations_are_taken_up_to_5_mb_and_one_character_more_is_dropped() -> None:
    collector, observations, said = collect()
    size = untrusted.MAX_VALUE_CHARS
    for _ in range(untrusted.MAX_OBSERVED_CHARS // size):
        collector.line(MARKER + payload_of(size))
    assert len(observations.records) == 50
    collector.line(MARKER + payload_of(len(seen()) - len(MARKER)))
    collector.done()
    assert len(observations.records) == 50
    assert sum(line.endswith("; 1 were ignored") for line in said) == 1


# -- a flood of lines ------------------------------------------------------------------------
def test_endless_output_is_shown_in_part_and_observations_still_taken(station) -> None:
    said: list[str] = []
    report, _ = run(station, ScriptedRunner(["noise"] * 2500 + [seen()]), said)
    assert sum("│ noise" in line for line in said) == 2000
    assert "lab: exp on stock printed 501 more lines, not shown" in said
    assert report["passed"]


# -- markup and escape sequences -------------------------------------------------------------
HOSTILE = "<img src=x onerror=alert(1)> [click](http://evil) `code` *bold* | cell"


def test_markup_from_a_container_is_escaped_in_report_md(station) -> None:
    station.checks_file.write_text(
        "def check_seen(obs):\n    '''seen <b>it</b>'''\n    return False, obs['exp.seen']\n"
    )
    lines = [MARKER + json.dumps({"name": "seen", "value": HOSTILE})]

    def plant(output: Path) -> None:
        (output / "[x](http:evil)<i>.png").write_text("")

    _, folder = run(station, ScriptedRunner(lines, plant))
    markdown = (folder / "report.md").read_text()
    for raw in ("<img", "<b>", "<i>", "[click](", "[x](", "`code`", "*bold*", " | cell"):
        assert raw not in markdown
    assert "&lt;img src=x onerror=alert(1)&gt; \\[click\\](http://evil)" in markdown


def test_a_station_title_and_question_are_text(station) -> None:
    toml = station.folder / "station.toml"
    source = toml.read_text()
    source = source.replace('title = "hostile"', 'title = "<h1>\\u001b]0;owned\\u0007</h1>"')
    source = source.replace("what was seen?", "\\u001b[2J[seen](http://evil)?")
    toml.write_text(source)
    loaded = stations.load(station.folder)
    assert loaded.title == "<h1>?]0;owned?</h1>"
    assert loaded.questions[0].question == "?[2J[seen](http://evil)?"
    _, folder = run(loaded, ScriptedRunner([seen()]))
    markdown = (folder / "report.md").read_text()
    assert markdown.startswith("# Station 8: &lt;h1&gt;?\\]0;owned?&lt;/h1&gt;\n")
    assert "**?\\[2J\\[seen\\](http://evil)?**" in markdown


def test_what_the_station_task_prints_goes_through_text() -> None:
    out = io.StringIO()
    cli.printer(out)("\n== Run ==\n\x1b[2Jcleared \u202eevil")
    assert out.getvalue() == "\n== Run ==\n?[2Jcleared ?evil\n"


def test_an_error_naming_what_a_container_made_is_printed_as_text() -> None:
    @cli.one_line_errors
    def body() -> None:
        raise LabError("a link out of its run folder (\x1b[2J\x1b]0;owned\x07 -> /etc)")

    with pytest.raises(Exit) as stop:
        body()
    assert stop.value.message == "lab: a link out of its run folder (?[2J?]0;owned? -> /etc)"


# -- a closed stdout ---------------------------------------------------------------------------
CLOSED_STDOUT = """
import sys
import tasks
from invoke import Exit
from lab.run import station_run, stations

def endless(station, options, say):
    while True:
        say("a line")

stations.find = lambda number: None
station_run.run_station = endless
try:
    tasks.station.body(None, "8")
except Exit as stop:
    if stop.message:
        print(stop.message, file=sys.stderr)
    sys.exit(stop.code)
"""


def test_a_closed_stdout_ends_the_station_task_quietly_with_141() -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(CLOSED_STDOUT)],
        cwd=Path(tasks.__file__).parent,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    child.stdout.close()  # the reader is gone, as after `| head -3`
    _, err = child.communicate(timeout=60)
    assert (child.returncode, err.decode()) == (141, "")


def test_a_closed_stdout_mid_run_still_cleans_up(station) -> None:
    def say(line: str) -> None:
        if "▶" in line:
            raise BrokenPipeError(32, "Broken pipe")

    runner = ScriptedRunner([seen()])
    with pytest.raises(BrokenPipeError):
        run_station(station, Options(), runner=runner, say=say)
    assert runner.stopped and nothing_left(station)


# -- a full disk ------------------------------------------------------------------------------
@pytest.fixture
def full_disk(monkeypatch):
    """The report's files are created, and each write to them fails as on a full disk."""
    real_open = os.open

    def opened(path, flags, *args, **kwargs):
        fd = real_open(path, flags, *args, **kwargs)
        if path in ("report.json", "report.md"):
            full = real_open("/dev/full", os.O_WRONLY)
            os.dup2(full, fd)
            os.close(full)
        return fd

    monkeypatch.setattr(os, "open", opened)


def test_a_full_disk_at_the_report_write_is_one_line_and_no_half_file(tmp_path, full_disk):
    fd = os.open(tmp_path, os.O_RDONLY)
    try:
        with pytest.raises(LabError, match=r"cannot write .*report.md: No space left on device"):
            safe_files.write_new(fd, "report.md", "x" * 100_000, shown=tmp_path)
    finally:
        os.close(fd)
    assert not (tmp_path / "report.md").exists()


def test_a_full_disk_at_the_report_write_keeps_nothing(station, full_disk) -> None:
    with pytest.raises(LabError, match="No space left on device"):
        run(station, ScriptedRunner([seen()]))
    assert nothing_left(station)


def test_a_number_too_big_for_a_measurement_is_one_line_and_the_run_goes_on(station) -> None:
    """An experiment's 2**70 passed the collector, then the report's model refused the whole
    run at its end: the collector and the model now share one check of a value."""
    said: list[str] = []
    huge = MARKER + json.dumps({"name": "huge", "value": [1, {"k": 2**70}]})
    report, folder = run(station, ScriptedRunner([huge, seen()]), said)
    assert report["passed"] and [o["name"] for o in report["observations"]] == ["seen"]
    assert sum("a number too big for a measurement" in line for line in said) == 1
    assert json.loads((folder / "report.json").read_text())["passed"]
