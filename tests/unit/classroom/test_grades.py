"""`class-report --csv FILE [--weights FILE]`: the grades follow the verdicts judged on
evidence, in a CSV a gradebook imports, and a bad weights file is one line before any work."""

from __future__ import annotations

import csv
import io

from lab.classroom import class_page
from tests.class_hand_ins import GOOD_1, GOOD_3, make_hand_in, report, rewrite
from tests.cli import invoke


def test_grades_as_csv_with_weights(lab_here, tmp_path):
    make_hand_in(lab_here, "ada", {"1": report("1", GOOD_1), "3": report("3", GOOD_3)})
    partial = report("1", {"global_over_local@stock": 1.4})
    partial["experiments"] = partial["experiments"][:1]
    make_hand_in(lab_here, "bob", {"1": partial})
    weights = tmp_path / "weights.toml"
    weights.write_text('"1" = 10\n"3" = 30\n')
    grades = tmp_path / "grades.csv"
    env = {"LAB_STATIONS": str(tmp_path / "stations")}
    result = invoke("class-report", str(lab_here), "--csv", str(grades), "--weights",
                    str(weights), "--output", str(tmp_path / "c.html"), env=env)  # fmt: skip
    assert result.code == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(grades.read_text())))
    assert [r["Student"] for r in rows] == ["ada", "bob"]
    assert rows[0]["Total (40 pts)"] == "40.00" and rows[0]["Station 1 verdict"] == "PASS"
    assert rows[1]["Station 1 (10 pts)"] == "10.00", "its one check judged and passed"
    assert rows[1]["Station 1 verdict"] == "PARTIAL" and rows[1]["Station 3 verdict"] == "NOT RUN"
    assert rows[1]["Total (40 pts)"] == "10.00"


def test_bad_weights_are_one_line_before_any_work(lab_here, tmp_path):
    weights = tmp_path / "weights.toml"
    weights.write_text('"9" = 10\n')
    env = {"LAB_STATIONS": str(tmp_path / "stations")}
    result = invoke("class-report", str(lab_here), "--csv", str(tmp_path / "g.csv"),
                    "--weights", str(weights), env=env, cwd=tmp_path)  # fmt: skip
    assert result.code != 0 and result.stderr.count("\n") == 1
    assert "names stations this lab does not have (9)" in result.stderr
    assert not (tmp_path / "g.csv").exists() and not (tmp_path / "class.html").exists()


def test_a_formula_in_a_name_is_not_run_by_a_spreadsheet(lab_here, tmp_path):
    made = make_hand_in(lab_here, "ada", {"1": report("1", GOOD_1)})

    def formula(member, value):
        if member == "manifest.json":
            value["name"] = '=HYPERLINK("http://x","y")'
        return value

    rewrite(made, formula)
    hands, lab = class_page.class_report(lab_here, None, None, lambda line: None)
    grades = tmp_path / "g.csv"
    class_page.write_grades(grades, hands, lab, {"1": 1.0, "3": 1.0})
    row = next(csv.reader(io.StringIO(grades.read_text().splitlines()[1])))
    assert row[0].startswith("'=HYPERLINK") and not any(c.startswith("=") for c in row)
