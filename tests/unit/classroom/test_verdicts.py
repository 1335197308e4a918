"""Verdicts that mean evidence (lab/classroom/verdicts.py), through the class page: what a
hand-in claims about itself (which variants ran, a read-only run's PASS, a clean checkout,
its name) is checked, one hand-in cannot stop or flood the page, and --verify's re-run
marks false evidence."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from lab.classroom import class_page, verdicts, verify
from lab.config import STATIONS_DIR
from lab.run import report_model, stations
from tests.class_hand_ins import (
    GOOD_1,
    GOOD_3,
    ROOTFS,
    make_hand_in,
    report,
    rewrite,
    run_class,
    student,
)
from tests.cli import invoke


def edited(folder: Path, name: str, station: str, edit) -> None:
    """NAME's hand-in with station STATION's report.json passed through EDIT, sums redone
    (a careful editor's: only the evidence can tell)."""

    def on_report(member, value):
        return edit(value) if member == f"station-{station}/report.json" else value

    rewrite(folder / f"hand-in-{name}.tar.gz", on_report, resum=True)


# -- a PASS with nothing behind it ---------------------------------------------------------


def test_an_experiment_on_a_variant_the_station_lacks_is_no_evidence(lab_here):
    """Finding 1: one experiment on `zzz`, no observations: every check skipped, a PASS."""
    make_hand_in(lab_here, "eve", {"1": report("1", GOOD_1)})

    def nothing_behind(value):
        value["experiments"] = [{"experiment": "load_fast_vs_global", "variant": "zzz",
                                 "exit_code": 0, "seconds": 1.0, "note": ""}]  # fmt: skip
        value["observations"], value["checks"], value["passed"] = [], [], True
        return value

    edited(lab_here, "eve", "1", nothing_behind)
    _, table, lines = run_class(lab_here)
    station = student(table, "eve")["stations"]["1"]
    assert station["verdict"] == "not run"
    assert any("load_fast_vs_global on zzz" in p for p in station["problems"])
    assert any("eve" in line and "zzz" in line for line in lines)


def test_a_read_only_run_is_not_a_pass(lab_here):
    """Finding 3: `--read-only` records passed: true and no experiment."""
    make_hand_in(lab_here, "ada", {"1": report("1", GOOD_1)})
    read_only = {"experiments": [], "checks": [], "observations": [], "passed": True}
    edited(lab_here, "ada", "1", lambda body: body | read_only)  # hand-in itself skips one
    html, table, _ = run_class(lab_here)
    station = student(table, "ada")["stations"]["1"]
    assert (station["recorded"], station["verdict"]) == ("read only", "not run")
    assert '<span class="verdict pass">' not in html.split("Students by station")[1]


def test_a_run_of_one_variant_is_partial_and_says_why(lab_here):
    """Finding 4: `--variant stock` skipped what ran on ft: a PARTIAL, not a plain PASS."""
    stock_only = report("1", {"global_over_local@stock": 1.4})
    stock_only["experiments"] = [e for e in stock_only["experiments"] if e["variant"] == "stock"]
    make_hand_in(lab_here, "ada", {"1": stock_only})
    _, table, _ = run_class(lab_here)
    station = student(table, "ada")["stations"]["1"]
    assert station["verdict"] == "partial"
    assert station["not_judged"] == ["not run on ft"]


def test_every_check_judged_and_passed_is_a_pass(lab_here):
    make_hand_in(lab_here, "ada", {"1": report("1", GOOD_1), "3": report("3", GOOD_3)})
    _, table, lines = run_class(lab_here)
    ada = student(table, "ada")
    assert {label: s["verdict"] for label, s in ada["stations"].items()} == {
        "1": "pass",
        "3": "pass",
    }
    assert not lines and all(not s["not_judged"] for s in ada["stations"].values())


def test_a_dirty_checkout_is_marked(lab_here, monkeypatch):
    """Finding 5: `lab.dirty: true` in the manifest (an edited experiment)."""
    made = make_hand_in(lab_here, "ada", {"1": report("1", GOOD_1)})

    def dirty(member, value):
        if member == "manifest.json":
            value["lab"]["dirty"] = True
        return value

    rewrite(made, dirty)
    _, table, lines = run_class(lab_here)
    assert any("local changes" in p for p in student(table, "ada")["problems"])
    assert any("local changes" in line for line in lines)


def test_names_alike_are_flagged(lab_here):
    """Finding 6: Alice, alice and AIice (a capital i) are one student, perhaps."""
    for name in ("Alice", "alice", "AIice", "bob"):
        make_hand_in(lab_here, name, {"1": report("1", GOOD_1)})
    _, table, _ = run_class(lab_here)
    for name in ("Alice", "alice", "AIice"):
        assert any("3 hand-ins could be one student" in p for p in student(table, name)["problems"])
    assert student(table, "bob")["problems"] == []


# -- one hand-in cannot stop or flood the page ----------------------------------------------

HUGE = int("9" * 400)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("seconds", HUGE),
        ("seconds", 1e300),
        ("observations", [{"experiment": "e", "variant": "stock", "name": "n", "value": HUGE}]),
        ("reading", [{"status": "found", "path": "a.c", "at": ["x"], "excerpt": ["x"]}]),
        ("reading", [{"status": "found", "path": "a.c", "at": "a.c:2", "excerpt_start": "²"}]),
        ("reading", [{"status": "document", "title": "t", "url": ["https://x"]}]),
        ("experiments", [{"experiment": "e", "variant": "stock", "exit_code": 0}] * 5000),
    ],
    ids=["400-digit-seconds", "1e300-seconds", "400-digit-observation", "at-a-list",
         "superscript-two", "url-a-list", "5000-experiments"],
)  # fmt: skip
def test_a_field_out_of_bounds_is_one_line_and_the_page_is_written(lab_here, field, value):
    """Findings 8 and 9: no traceback, no page for no one; the rest of the class is shown."""
    make_hand_in(lab_here, "ada", {"1": report("1", GOOD_1)})
    make_hand_in(lab_here, "eve", {"1": report("1", GOOD_1)})
    edited(lab_here, "eve", "1", lambda body: body | {field: value})
    html, table, lines = run_class(lab_here)
    assert student(table, "eve")["stations"]["1"]["verdict"] == "not run"
    assert [line for line in lines if "eve" in line] == [
        line for line in lines if "is not a report this lab writes" in line
    ]
    assert len(lines) == 1 and f"`$.{field}" in lines[0]
    assert student(table, "ada")["stations"]["1"]["verdict"] == "pass" and "ada" in html


def test_many_unknown_checks_are_a_few_terminal_lines(lab_here):
    """Finding 9: unknown check names by the thousand, problems by the dozen."""
    make_hand_in(lab_here, "eve", {"1": report("1", GOOD_1)})

    def flood(body):
        check = {"status": "pass", "description": "d", "detail": ""}
        body["checks"] += [check | {"name": f"c{n}"} for n in range(150)]
        body["experiments"] += [body["experiments"][0] | {"variant": f"v{n}"} for n in range(150)]
        return body

    edited(lab_here, "eve", "1", flood)
    _, table, lines = run_class(lab_here)
    assert len(lines) <= class_page.MAX_LINES
    problems = student(table, "eve")["stations"]["1"]["problems"]
    assert all(len(p) < 500 for p in problems) and any("145 more" in p for p in problems)


def test_json_is_strict_and_writes_nothing(lab_here, tmp_path):
    """Finding 10, and --json alone writes no page."""
    make_hand_in(lab_here, "ada", {"3": report("3", GOOD_3 | {"threads_speedup@ft": 1e300})})
    env = {"LAB_STATIONS": str(tmp_path / "stations")}
    before = sorted(tmp_path.rglob("*"))
    result = invoke("class-report", str(lab_here), "--json", env=env, cwd=tmp_path)
    assert result.code == 0, result.stderr
    json.loads(result.stdout, parse_constant=lambda name: pytest.fail(f"{name} in --json"))
    assert sorted(tmp_path.rglob("*")) == before, "nothing written"
    assert "Warning" not in result.stderr and "Traceback" not in result.stderr


# -- the class at a glance, and grades --------------------------------------------------------


def test_counts_per_station_above_the_table(lab_here):
    make_hand_in(lab_here, "ada", {"1": report("1", GOOD_1), "3": report("3", GOOD_3)})
    make_hand_in(lab_here, "bob", {"1": report("1", {"global_over_local@stock": 0.9})})
    hands, lab = class_page.class_report(lab_here, None, None, lambda line: None)
    counts = class_page.page_view(hands, lab)["counts"]
    assert counts["1"]["pass"] == 1 and counts["1"]["fail"] == 1
    assert counts["3"]["pass"] == 1 and counts["3"]["not run"] == 1


# -- --verify: the deterministic observations, re-run here ------------------------------------


def reference_of(value: object, rootfs: str) -> verify.Reference:
    """What a re-run here measured: station 1's global_instruction on stock."""
    key = ("1", "load_fast_vs_global", "stock")
    return verify.Reference({key: {"global_instruction": value}}, {"stock": rootfs}, [])


def test_verify_marks_an_edited_deterministic_value_that_every_check_still_passes(
    lab_here,
    monkeypatch,
):
    observed = GOOD_1 | {"global_instruction@stock": ["LOAD_GLOBAL_MODULE"]}
    make_hand_in(lab_here, "ada", {"1": report("1", observed)})
    make_hand_in(lab_here, "eve", {"1": report("1", observed)})

    def edit(body):
        for o in body["observations"]:
            if o["name"] == "global_instruction":
                o["value"] = ["LOAD_GLOBAL_BUILTIN"]
        return body

    edited(lab_here, "eve", "1", edit)
    rerun = reference_of(["LOAD_GLOBAL_MODULE"], ROOTFS)
    monkeypatch.setattr(verify, "rerun", lambda stations, say: rerun)
    lines: list[str] = []
    output = lab_here.parent / "class.html"
    hands, _ = class_page.class_report(lab_here, output, None, lines.append, verify_here=True)
    table = class_page.as_json(hands)
    ada, eve = student(table, "ada")["stations"]["1"], student(table, "eve")["stations"]["1"]
    assert ada["verdict"] == "pass" and ada["marks"] == {}
    assert ada["verified"] == ["load_fast_vs_global.global_instruction@stock"]
    assert eve["verdict"] == "fail", "false evidence, though every check passes on it"
    mark = eve["marks"]["load_fast_vs_global.global_instruction@stock"]
    assert '["LOAD_GLOBAL_BUILTIN"]' in mark and '["LOAD_GLOBAL_MODULE"]' in mark
    assert any("eve" in line and "LOAD_GLOBAL_BUILTIN" in line for line in lines)
    assert "Verified by a re-run here" in output.read_text()


def test_verify_leaves_a_student_on_another_image_unverified(lab_here, monkeypatch):
    observed = GOOD_1 | {"global_instruction@stock": ["LOAD_GLOBAL_BUILTIN"]}
    make_hand_in(lab_here, "ada", {"1": report("1", observed)})
    rerun = reference_of(["LOAD_GLOBAL_MODULE"], "sha256:" + "9" * 64)  # another image here
    monkeypatch.setattr(verify, "rerun", lambda stations, say: rerun)
    hands, _ = class_page.class_report(lab_here, None, None, lambda line: None, True)
    station = class_page.as_json(hands)["students"][0]["stations"]["1"]
    assert station["verdict"] == "pass" and station["verified"] == [] and station["marks"] == {}


def test_an_experiment_left_out_of_the_run_is_not_a_pass() -> None:
    """An experiment that no check reads, dropped from the report: not every one ran."""
    station = stations.load(STATIONS_DIR / "01-frames")
    runs = [{"experiment": e.name, "variant": v, "exit_code": 0}
            for e in station.experiments for v in e.variants]  # fmt: skip
    whole = report_model.of({"station": "1", "experiments": runs})
    assert verdicts.judge(whole, station, [], {}).verdict == "pass"
    dropped = report_model.of({"station": "1", "experiments": runs[:-1]})
    result = verdicts.judge(dropped, station, [], {})
    assert result.verdict == "partial"
    assert result.not_judged == [f"did not run {runs[-1]['experiment']} on stock"]


def test_names_that_only_share_a_confusable_of_another_case_are_not_flagged(lab_here):
    """`T` looks like `y` to Unicode's data: `tara` and `yara` are two students all the same."""
    for name in ("tara", "yara", "ada", "ana"):
        make_hand_in(lab_here, name, {"1": report("1", GOOD_1)})
    _, table, _ = run_class(lab_here)
    assert all(s["problems"] == [] for s in table["students"])
