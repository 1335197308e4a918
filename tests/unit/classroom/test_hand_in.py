"""`invoke hand-in`: each station's latest finished run, the machine's facts and the lab's
commit in one gzip'd tar, written whole or not at all, and nothing else of the machine."""

from __future__ import annotations

import json
import os
import tarfile
from pathlib import Path

import pytest

from lab.classroom import class_page, facts, hand_in
from lab.errors import LabError
from tests.cli import invoke

FACTS = {"lab_facts": 1, "engine": {"version": "26.1", "platform": "linux/amd64"}, "images": {}}


def write_run(
    results: Path, label: str, run: str, files: dict[str, bytes] | None = None, ran: bool = True
) -> Path:
    """results/station-LABEL/RUN with a report.json (and FILES); RAN: an experiment ran
    (not a `--read-only` run)."""
    folder = results / f"station-{label}" / run
    folder.mkdir(parents=True)
    experiments = [{"experiment": "e", "variant": "stock", "exit_code": 0}] if ran else []
    report = {"station": label, "title": "t", "passed": True, "checks": [], "run": run,
              "experiments": experiments}  # fmt: skip
    (folder / "report.json").write_text(json.dumps(report))
    for name, data in (files or {}).items():
        (folder / name).write_bytes(data)
    return folder


@pytest.fixture
def facts_here(monkeypatch):
    monkeypatch.setattr(facts, "machine_facts", lambda: FACTS)


def members(path: Path) -> dict[str, bytes]:
    with tarfile.open(path, "r:gz") as tar:
        return {m.name: tar.extractfile(m).read() for m in tar.getmembers()}


def test_the_latest_finished_run_of_each_station_the_facts_and_the_commit(tmp_path, facts_here):
    results = tmp_path / "results"
    write_run(results, "1", "20261202-010000", {"old.txt": b"old"})
    write_run(
        results, "1", "20261202-020000", {"report.html": b"<p>page</p>", "plot.svg": b"<svg/>"}
    )
    write_run(results, "1", "20261202-020000-2", {"report.html": b"<p>newest</p>"})
    (results / "station-1" / "20261202-030000.partial").mkdir()  # still running: not taken
    write_run(results, "synthesis", "20261202-010000", {"flame.svg": b"<svg/>"})

    made = hand_in.hand_in("ada", tmp_path / "out.tar.gz", results).path

    found = members(made)
    assert made == tmp_path / "out.tar.gz"
    assert json.loads(found["station-1/report.json"])["run"] == "20261202-020000-2"
    assert found["station-1/report.html"] == b"<p>newest</p>"
    assert "station-1/old.txt" not in found and "station-1/plot.svg" not in found
    assert found["station-synthesis/flame.svg"] == b"<svg/>"
    assert json.loads(found["doctor.json"]) == FACTS
    assert list(found)[-1] == "manifest.json"  # last: a copy cut short has none
    manifest = json.loads(found["manifest.json"])
    assert manifest["name"] == "ada" and manifest["lab_hand_in"] == hand_in.FORMAT
    assert len(manifest["lab"]["commit"]) == 40 and isinstance(manifest["lab"]["dirty"], bool)
    assert manifest["cpu_count"] == os.cpu_count()
    assert manifest["runs"] == {"station-1": "20261202-020000-2",
                                "station-synthesis": "20261202-010000"}  # fmt: skip
    assert set(manifest["members"]) == set(found) - {"manifest.json"}


def test_nothing_of_who_made_it_goes_in(tmp_path, facts_here):
    results = tmp_path / "results"
    write_run(results, "1", "20261202-010000")
    made = hand_in.hand_in("ada", tmp_path / "out.tar.gz", results).path
    with tarfile.open(made, "r:gz") as tar:
        for member in tar.getmembers():
            assert (member.uid, member.gid, member.uname, member.gname) == (0, 0, "", "")
    assert str(tmp_path).encode() not in made.read_bytes()  # no path in the gzip header


def test_where_no_engine_answers_the_facts_say_so(tmp_path, monkeypatch):
    def no_engine():
        raise LabError("no Docker engine answers")

    monkeypatch.setattr(facts, "machine_facts", no_engine)
    made = hand_in.hand_in("ada", tmp_path / "out.tar.gz", tmp_path / "no-results").path
    doctor = json.loads(members(made)["doctor.json"])
    assert doctor["error"] == "no Docker engine answers"


def test_links_odd_names_and_big_files_in_a_run_are_left_out(tmp_path, facts_here, monkeypatch):
    monkeypatch.setattr(hand_in, "MAX_FILE", 300)  # over the report.json's ~200 bytes
    results = tmp_path / "results"
    folder = write_run(results, "1", "20261202-010000", {"big.bin": b"x" * 301, "ok.txt": b"ok"})
    (folder / "passwd").symlink_to("/etc/passwd")
    (folder / "<script>.svg").write_bytes(b"<svg/>")
    (folder / "sub").mkdir()

    made = hand_in.hand_in("ada", tmp_path / "out.tar.gz", results).path

    found = members(made)
    assert set(found) == {"station-1/report.json", "station-1/ok.txt", "doctor.json",
                          "manifest.json"}  # fmt: skip
    left_out = " ".join(json.loads(found["manifest.json"])["left_out"])
    for name in ("big.bin", "passwd", "<script>.svg", "sub"):
        assert name in left_out


@pytest.mark.parametrize("name", ["", "../x", "a b", "-rf", "<b>", "x" * 41, "é"])
def test_a_name_is_a_short_safe_word(name):
    with pytest.raises(LabError, match="not a short name"):
        hand_in.check_name(name)


def test_the_default_file_is_in_the_current_folder(tmp_path, facts_here, monkeypatch):
    monkeypatch.chdir(tmp_path)
    made = hand_in.hand_in("ada", results=tmp_path / "results").path
    assert made == tmp_path / "hand-in-ada.tar.gz" and made.is_file()


def test_nothing_half_written(tmp_path, facts_here, monkeypatch):
    results = tmp_path / "results"
    write_run(results, "1", "20261202-010000")
    out = tmp_path / "out"
    out.mkdir()
    (out / "hand-in.tar.gz").write_bytes(b"the earlier one")

    def full_disk(raw, members, now):
        raw.write(b"half")
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(hand_in, "write_members", full_disk)
    with pytest.raises(LabError, match="No space left"):
        hand_in.hand_in("ada", out / "hand-in.tar.gz", results)
    assert [p.name for p in out.iterdir()] == ["hand-in.tar.gz"]
    assert (out / "hand-in.tar.gz").read_bytes() == b"the earlier one"


# -- what goes in: the run's own files, within what the class page reads ------------------


def left_out_of(path: Path) -> list[str]:
    return json.loads(members(path)["manifest.json"])["left_out"]


def test_a_hard_link_is_left_out(tmp_path, facts_here):
    outside = tmp_path / "secret.txt"
    outside.write_bytes(b"not the run's")
    folder = write_run(tmp_path / "results", "1", "20261202-010000", {"ok.txt": b"ok"})
    os.link(outside, folder / "x.bin")

    made = hand_in.hand_in("ada", tmp_path / "out.tar.gz", tmp_path / "results")

    assert "station-1/x.bin" not in members(made.path) and "station-1/ok.txt" in members(made.path)
    (line,) = [line for line in made.left_out if "x.bin" in line]
    assert "hard link" in line and line in left_out_of(made.path)


def test_a_run_of_2100_files_still_makes_a_hand_in_the_class_page_reads(tmp_path, facts_here):
    files = {f"f{n:04}.txt": b"x" for n in range(2100)}
    write_run(tmp_path / "results", "3", "20261202-010000", files)
    write_run(tmp_path / "results", "1", "20261202-010000")

    made = hand_in.hand_in("ada", tmp_path / "out.tar.gz", tmp_path / "results")

    found = members(made.path)
    assert len(found) <= class_page.MAX_MEMBERS == hand_in.MAX_MEMBERS
    assert "station-3/report.json" in found and "station-1/report.json" in found
    assert len([m for m in found if m.startswith("station-3/")]) == hand_in.MAX_RUN_FILES
    (line,) = [line for line in made.left_out if line.startswith("station-3/")]
    assert f"{2101 - hand_in.MAX_RUN_FILES:,} files" in line


def test_many_stations_together_stay_within_the_member_cap(tmp_path, facts_here, monkeypatch):
    monkeypatch.setattr(hand_in, "MAX_MEMBERS", 12)
    monkeypatch.setattr(hand_in, "MAX_RUN_FILES", 4)
    for label in "1234":
        write_run(tmp_path / "results", label, "20261202-010000", {"a.txt": b"", "b.txt": b""})

    made = hand_in.hand_in("ada", tmp_path / "out.tar.gz", tmp_path / "results")

    assert len(members(made.path)) <= 12
    assert "station-1/report.json" in members(made.path)
    assert any("station-4" in line for line in made.left_out)


def test_a_read_only_run_is_not_handed_in_over_one_that_ran(tmp_path, facts_here):
    results = tmp_path / "results"
    write_run(results, "1", "20261202-010000", {"ran.txt": b"measured"})
    write_run(results, "1", "20261202-020000", ran=False)  # `--read-only`: passed, judged nothing
    write_run(results, "2", "20261202-010000", ran=False)

    made = hand_in.hand_in("ada", tmp_path / "out.tar.gz", results)

    found = members(made.path)
    assert json.loads(found["station-1/report.json"])["run"] == "20261202-010000"
    assert "station-1/ran.txt" in found
    assert not [m for m in found if m.startswith("station-2/")]
    (line,) = [line for line in made.left_out if line.startswith("station-2")]
    assert "read-only" in line


def test_the_task_says_what_was_left_out(tmp_path):
    results = tmp_path / "results"
    folder = write_run(results, "1", "20261202-010000")
    (folder / "a b.txt").write_bytes(b"odd name")
    out = tmp_path / "out.tar.gz"

    env = {"LAB_RESULTS": str(results)}
    done = invoke("hand-in", "--name", "ada", "--output", str(out), env=env)

    assert done.code == 0, done.stderr
    assert done.stdout.strip() == str(out)
    lines = done.stderr.strip().splitlines()
    assert lines == ["left out: station-1/20261202-010000/a b.txt: not a plain file name"]
