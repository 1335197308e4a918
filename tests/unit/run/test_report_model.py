"""The report's one model: what a report.json may hold, each field typed and bounded, and
what does not fit one line naming the field, never a traceback or gigabytes of memory."""

from __future__ import annotations

import json
import tracemalloc

import pytest

from lab.errors import LabError
from lab.run import report_model

EXPERIMENT = {"experiment": "seed_dis", "variant": "stock", "exit_code": 0, "seconds": 0.5}
OBSERVATION = {"experiment": "seed_dis", "variant": "stock", "name": "opnames", "value": [1]}


def read(**fields: object) -> report_model.Report:
    return report_model.read(json.dumps({"station": "1", **fields}).encode(), "report.json")


def refused(data: bytes) -> str:
    with pytest.raises(LabError) as error:
        report_model.read(data, "report.json")
    return str(error.value)


def test_the_runs_own_report_goes_through_and_back() -> None:
    written = {
        "station": "1",
        "title": "Frames",
        "experiments": [EXPERIMENT],
        "observations": [OBSERVATION | {"value": {"a": [1.5, None, "x"]}, "unit": "B"}],
        "checks": [{"name": "c", "description": "d", "status": "pass", "detail": ""}],
        "explain": [{"question": "q", "evidence": [{"key": "k", "text": "t", "values": {}}]}],
        "passed": True,
    }
    report = report_model.of(written)
    assert report_model.read(report_model.as_json(report).encode(), "x") == report
    assert not report.read_only and report.experiments[0].ran


def test_a_newer_labs_field_is_ignored_and_an_older_labs_missing_one_defaults() -> None:
    report = read(experiments=[EXPERIMENT], added_later={"x": 1})
    assert report.emulated == {} and report.checks == [] and report.passed is False


@pytest.mark.parametrize(
    ("fields", "where"),
    [
        ({"seconds": int("9" * 400)}, "$.seconds"),
        ({"seconds": -1}, "$.seconds"),
        ({"observations": [OBSERVATION | {"value": int("9" * 400)}]}, "$.observations[0]"),
        ({"observations": [OBSERVATION | {"value": {"k": [2**63]}}]}, "$.observations[0]"),
        ({"observations": [OBSERVATION | {"name": "a b"}]}, "$.observations[0].name"),
        ({"reading": [{"status": "found", "at": ["x"]}]}, "$.reading[0].at"),
        ({"reading": [{"status": "found", "excerpt_start": "²"}]}, "$.reading[0].excerpt_start"),
        ({"reading": [{"status": "elsewhere"}]}, "$.reading[0].status"),
        ({"experiments": [EXPERIMENT | {"exit_code": True}]}, "$.experiments[0].exit_code"),
        ({"checks": [{"name": "c", "status": "PASS"}]}, "$.checks[0].status"),
        ({"station": "../1"}, "$.station"),
        ({"title": "x" * 2001}, "$.title"),
    ],
)
def test_a_field_of_the_wrong_type_or_out_of_bounds_names_itself(fields, where) -> None:
    data = json.dumps({"station": "1"} | fields).encode()
    assert f"`{where}`" in refused(data)


@pytest.mark.parametrize("constant", [b"1e400", b"-1e400", b"NaN", b"Infinity"])
def test_a_number_json_cannot_hold_is_refused(constant: bytes) -> None:
    data = b'{"station": "1", "observations": [{"experiment": "e", "variant": "v", "name": "n", '
    assert refused(data + b'"value": ' + constant + b"}]}")


def test_sixteen_megabytes_of_entries_stop_at_the_bound_in_little_memory() -> None:
    """Finding 9: a 16 MB report.json of entries made 6.7 GB; the model holds 200."""
    entry = json.dumps(EXPERIMENT).encode()
    many = b",".join([entry] * (16_000_000 // len(entry)))
    data = b'{"station": "1", "experiments": [' + many + b"]}"
    tracemalloc.start()
    try:
        why = refused(data)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert f"length <= {report_model.MAX_EXPERIMENTS}" in why and "$.experiments" in why
    assert peak < 300 << 20


def test_nesting_past_the_depth_is_one_line() -> None:
    deep = b"[" * 5000 + b"]" * 5000
    assert "report.json" in refused(b'{"station": "1", "title": ' + deep + b"}")
    value = b"[" * 30 + b"]" * 30
    base = b'{"station": "1", "observations": [{"experiment": "e", "variant": "v", "name": "n", '
    assert "nested deeper" in refused(base + b'"value": ' + value + b"}]}")


def test_not_json_or_not_an_object() -> None:
    assert "is not JSON" in refused(b"{not json")
    assert "report.json is not a report this lab writes" in refused(b"[1, 2]")


def test_a_run_with_no_experiment_that_ran_is_read_only() -> None:
    assert read().read_only and read(experiments=[EXPERIMENT | {"exit_code": None}]).read_only
