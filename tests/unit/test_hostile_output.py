"""Hostile output at the limits: deep or long observations, floods of lines, names that are
not UTF-8, markup meant for report.md, a closed stdout and a full disk at the report write.

Each limit is tried at its edge: exactly at it is taken, one over is dropped with one line.
"""

from __future__ import annotations

import json

import pytest
from labkit.protocol import MARKER

from lab import untrusted
from lab.observations import Observations
from lab.runner import Frames
from lab.station_run import Collector
from lab.untrusted import Malformed, observation
from tests.unit.test_hostile import ScriptedRunner, run, seen


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
    frames.take(b"@start 0")
    for line in lines:
        frames.take(b"|0 " + line.encode())


# -- 1: nesting ----------------------------------------------------------------------------
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


# -- 2, 5: file names ----------------------------------------------------------------------
def test_text_replaces_lone_surrogates() -> None:
    assert untrusted.text("a\udcff\ud800b") == "a\ufffd\ufffdb"


def test_a_lone_surrogate_in_an_observation_is_replaced() -> None:
    record = observation('{"name": "x", "value": ["\\ud800", {"k": "\\udcff"}]}')
    assert record["value"] == ["\ufffd", {"k": "\ufffd"}]


# -- 3: lengths and counts at their edges ----------------------------------------------------
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


# -- 6: a flood of lines ---------------------------------------------------------------------
def test_endless_output_is_shown_in_part_and_observations_still_taken(station) -> None:
    said: list[str] = []
    report, _ = run(station, ScriptedRunner(["noise"] * 2500 + [seen()]), said)
    assert sum("│ noise" in line for line in said) == 2000
    assert "lab: exp on stock printed 501 more lines, not shown" in said
    assert report["passed"]
