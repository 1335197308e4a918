"""`invoke class-report`: every hand-in on one page, its verdicts re-judged by this lab's
checks; a hostile hand-in is one line and a mark, and the rest of the class is still shown."""

from __future__ import annotations

import gzip
import json
import tarfile
from pathlib import Path

import pytest

from lab.classroom import class_page, verdicts
from lab.run import report_model, stations
from tests.class_hand_ins import (
    ARM_ROOTFS,
    GOOD_1,
    GOOD_3,
    LOCK,
    ROOTFS,
    TWO_PLATFORM_LOCK,
    break_observation,
    make_hand_in,
    on_arm64,
    report,
    rewrite,
    run_class,
    student,
    two_students,
)
from tests.cli import invoke
from tests.tars import tar_of

# -- the done-when: two hand-ins, one edited by hand ------------------------------------------


@pytest.mark.parametrize("resum", [False, True], ids=["naive-edit", "sums-updated-too"])
def test_an_edited_observation_marks_its_pass(lab_here, resum):
    two_students(lab_here)
    rewrite(lab_here / "hand-in-bob.tar.gz", break_observation, resum=resum)

    html, table, lines = run_class(lab_here)

    ada, bob = student(table, "ada"), student(table, "bob")
    assert ada["stations"]["1"] == {**ada["stations"]["1"], "recorded": "pass", "verdict": "pass"}
    assert ada["stations"]["3"]["verdict"] == "pass" and not ada["problems"]
    assert bob["stations"]["1"]["recorded"] == "pass"
    assert bob["stations"]["1"]["verdict"] == "fail"
    assert "recorded PASS" in bob["stations"]["1"]["marks"]["global_read_is_slower"]
    assert "3" not in bob["stations"]  # not run: absent
    assert any("global_read_is_slower: recorded PASS" in line for line in lines)
    edited_after = any("edited after" in p for p in bob["problems"])
    assert edited_after is not resum  # a careful editor's sums match: only the re-judge tells
    assert html.count('class="verdict mark"') >= 2  # the cell and the check's row
    assert "handed in: PASS" in html and "ada" in html and "bob" in html
    assert "cannot be proven honest" in html


def test_the_json_command_prints_both_students(lab_here, tmp_path):
    two_students(lab_here)
    rewrite(lab_here / "hand-in-bob.tar.gz", break_observation)
    output = tmp_path / "page.html"
    env = {"LAB_STATIONS": str(tmp_path / "stations")}
    result = invoke("class-report", str(lab_here), "--output", str(output), "--json", env=env)
    assert result.code == 0, result.stderr
    table = json.loads(result.stdout)
    assert [s["name"] for s in table["students"]] == ["ada", "bob"]
    recorded_and_judged = {
        k: student(table, "bob")["stations"]["1"][k] for k in ("recorded", "verdict")
    }
    assert recorded_and_judged == {"recorded": "pass", "verdict": "fail"}
    assert "global_read_is_slower" in result.stderr and output.is_file()


def test_a_verdict_that_follows_is_not_marked_but_a_recorded_one_that_does_not_is(lab_here):
    failing = report("1", {"global_over_local@stock": 0.95})
    assert not failing["passed"]
    make_hand_in(lab_here, "cy", {"1": failing})
    rewrite(lab_here / "hand-in-cy.tar.gz", lambda n, v: v)  # untouched: same bytes
    _, table, lines = run_class(lab_here)
    assert (
        student(table, "cy")["stations"]["1"] | {"marks": {}}
        == student(table, "cy")["stations"]["1"]
    )
    assert student(table, "cy")["stations"]["1"]["verdict"] == "fail" and not lines

    def claim_pass(name, value):
        if name == "station-1/report.json":
            value["checks"][0]["status"], value["passed"] = "pass", True
        return value

    rewrite(lab_here / "hand-in-cy.tar.gz", claim_pass, resum=True)
    _, table, _ = run_class(lab_here)
    station = student(table, "cy")["stations"]["1"]
    assert (station["recorded"], station["verdict"]) == ("pass", "fail")


def emulated_hand_in(folder: Path, arm64_images: bool) -> None:
    """Station 3 run with ft emulated (its timing check skipped), on a machine whose ft
    image is arm64 (ARM64_IMAGES) or, as the facts say, the engine's own amd64."""
    emulated = report("3", GOOD_3) | {"emulated": {"ft": "emulated (linux/arm64 on amd64)"}}
    emulated["checks"][0]["status"] = "skip"  # what the run gave: the timing check skipped
    emulated["checks"][0]["detail"] = "the hand-in's own words"
    make_hand_in(folder, "ada", {"3": emulated})

    def ft_image(name, value):
        if name == "doctor.json" and arm64_images:
            value["images"]["ft"] = {**value["images"]["stock"], "platform": "linux/arm64"}
        return value

    rewrite(folder / "hand-in-ada.tar.gz", ft_image, resum=True)


def test_emulated_timings_skip_where_the_machine_facts_agree(lab_here):
    emulated_hand_in(lab_here, arm64_images=True)
    html, table, lines = run_class(lab_here)
    station = student(table, "ada")["stations"]["3"]
    assert station["marks"] == {} and not lines
    assert station["verdict"] == "partial", "a timing check skipped: not every check judged"
    assert station["not_judged"] == [
        "ft_threads_scale skipped: timed on ft, emulated (linux/arm64 on linux/amd64): not judged"
    ]
    assert "the hand-in's own words" not in html, "the skip's reason is this lab's"


def test_an_emulation_the_machine_facts_do_not_show_is_judged(lab_here):
    """Finding 2: "emulated" edited in, the timing check set to skip: no unmarked PASS."""
    emulated_hand_in(lab_here, arm64_images=False)
    _, table, _ = run_class(lab_here)
    station = student(table, "ada")["stations"]["3"]
    assert station["verdict"] == "pass", "judged on its numbers, which do pass"
    assert "recorded SKIP" in station["marks"]["ft_threads_scale"]
    assert any("says ft ran emulated, but its machine facts say" in p for p in station["problems"])


# -- hostile hand-ins: a line and a mark each, the rest of the class shown --------------------


def plain_tar(folder: Path, name: str, members: list) -> Path:
    path = folder / name
    path.write_bytes(tar_of(members))
    return path


def special(name: str, kind: bytes, target: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, target
    return info


HOSTILE = {
    "parent.tar": [("../evil.json", b"{}")],
    "absolute.tar": [("/etc/cron.d/evil", b"* * * * * root id")],
    "symlink.tar": [special("station-1/report.json", tarfile.SYMTYPE, "/etc/passwd")],
    "hardlink.tar": [special("station-1/report.json", tarfile.LNKTYPE, "/etc/shadow")],
    "device.tar": [special("dev", tarfile.CHRTYPE)],
    "fifo.tar": [special("fifo", tarfile.FIFOTYPE)],
    "odd-name.tar": [("<script>.json", b"{}")],
    "no-manifest.tar": [("station-1/report.json", b"{}")],
    "twice.tar": [("manifest.json", b"{}"), ("manifest.json", b"{}")],
    "not-json.tar": [("manifest.json", b"\xff\xfe not json")],
    "another-format.tar": [("manifest.json", json.dumps({"lab_hand_in": 99}).encode())],
}


@pytest.mark.parametrize("file_name", sorted(HOSTILE))
def test_a_hostile_archive_is_one_line_and_a_mark(lab_here, file_name):
    two_students(lab_here)
    plain_tar(lab_here, file_name, HOSTILE[file_name])
    html, table, lines = run_class(lab_here)
    assert len(lines) == 1 and lines[0].startswith(f"{file_name}: ")
    assert student(table, file_name)["problems"] and not student(table, file_name)["stations"]
    assert {"ada", "bob"} <= {s["name"] for s in table["students"]}
    assert f"{file_name}</span>" in html and 'class="verdict mark"' in html
    assert not (lab_here.parent / "evil.json").exists()


def test_a_corrupt_or_truncated_archive(lab_here):
    two_students(lab_here)
    whole = (lab_here / "hand-in-ada.tar.gz").read_bytes()
    (lab_here / "cut.tar.gz").write_bytes(whole[: len(whole) // 2])
    (lab_here / "noise.tar.gz").write_bytes(b"\x1f\x8b" + bytes(range(256)) * 8)
    (lab_here / "empty.tar").write_bytes(b"")
    plain = tar_of([("manifest.json", b"{}")])
    (lab_here / "cut-in-a-member.tar").write_bytes(plain[:700])
    _, table, lines = run_class(lab_here)
    assert len(lines) == 4
    for name in ("cut.tar.gz", "noise.tar.gz", "empty.tar", "cut-in-a-member.tar"):
        assert student(table, name)["problems"] and not student(table, name)["stations"]
    assert student(table, "ada")["stations"]["1"]["verdict"] == "pass"


def test_a_decompression_bomb_stops_at_the_limit(lab_here, monkeypatch):
    monkeypatch.setattr(class_page, "MAX_UNCOMPRESSED", 4 << 20)
    bomb = gzip.compress(tar_of([("zeros", bytes(64 << 20))]), compresslevel=1)
    assert len(bomb) < 1 << 20
    (lab_here / "bomb.tar.gz").write_bytes(bomb)
    make_hand_in(lab_here, "ada", {"1": report("1", GOOD_1)})
    _, table, lines = run_class(lab_here)
    assert lines == [
        f"bomb.tar.gz: refused: over {4 << 20:,} bytes unpacked: a decompression bomb?"
    ]
    assert student(table, "ada")["stations"]["1"]["verdict"] == "pass"


def test_a_100_mb_report_is_not_read_and_the_rest_of_the_hand_in_is(lab_here):
    made = make_hand_in(lab_here, "ada", {"1": report("1", GOOD_1), "3": report("3", GOOD_3)})

    def huge(name, value):
        return b" " * (100 << 20) + b"{}" if name == "station-3/report.json" else value

    rewrite(made, huge, resum=True)
    _, table, lines = run_class(lab_here)
    ada = student(table, "ada")
    assert any("station-3/report.json is 104,857,602 bytes" in p for p in ada["problems"])
    assert "3" not in ada["stations"] and ada["stations"]["1"]["verdict"] == "pass"
    assert len(lines) == 1


def test_a_file_over_the_size_limit_or_a_link_in_the_folder(lab_here, monkeypatch):
    two_students(lab_here)
    (lab_here / "passwd").symlink_to("/etc/passwd")
    (lab_here / "a-folder").mkdir()
    monkeypatch.setattr(class_page, "MAX_HAND_IN", 100)
    _, table, lines = run_class(lab_here)
    assert len(lines) == 4  # ada's and bob's are now over 100 bytes too
    assert all(not s["stations"] for s in table["students"])


def test_two_hand_ins_with_one_name(lab_here):
    make_hand_in(lab_here, "ada", {"1": report("1", GOOD_1)})
    (lab_here / "hand-in-ada.tar.gz").rename(lab_here / "first.tar.gz")
    make_hand_in(lab_here, "ada", {"3": report("3", GOOD_3)})
    _, table, lines = run_class(lab_here)
    assert [s["name"] for s in table["students"]] == ["ada", "ada"]
    assert all(s["problems"] == ["2 hand-ins could be one student (ada): first.tar.gz, "
                                 "hand-in-ada.tar.gz"] for s in table["students"])  # fmt: skip
    assert len(lines) == 2


def test_a_hand_in_from_another_version_of_the_lab(lab_here):
    made = make_hand_in(lab_here, "ada", {"1": report("1", GOOD_1)})

    def older_lab(name, value):
        if name == "manifest.json":
            value["lab"]["commit"] = "f" * 40
        if name == "station-1/report.json":  # a check this lab no longer has
            value["checks"].append({"name": "gone", "description": "d", "status": "pass",
                                    "detail": ""})  # fmt: skip
        return value

    rewrite(made, older_lab, resum=True)
    _, table, lines = run_class(lab_here)
    ada = student(table, "ada")
    assert any("another version of the lab (ffffffffffff" in p for p in ada["problems"])
    assert "checks this lab does not have: gone" in ada["stations"]["1"]["problems"][0]
    assert ada["stations"]["1"]["verdict"] == "pass"
    assert len(lines) == 2


def test_markup_and_script_in_every_string_are_escaped(lab_here):
    script = "<script>alert(1)</script>"
    body = report("1", GOOD_1, title=script)
    body["checks"][0]["detail"] = script
    body["checks"][0]["description"] = script
    body["reading"] = [{"status": "document", "url": "javascript:alert(1)", "title": script},
                       {"status": "found", "path": script, "at": f"{script}:3", "why": script,
                        "excerpt": [script] * 5, "excerpt_start": "1"}]  # fmt: skip
    body["experiments"][0]["note"] = script
    body["explain"] = [{"question": script, "evidence": [{"key": script, "text": script}]}]
    body["files"] = [script]
    body["images"] = {script: script}
    made = make_hand_in(lab_here, "ada", {"1": body})

    def hostile_strings(name, value):
        if name == "manifest.json":
            value["name"] = script
        if name == "doctor.json":
            value["images"]["stock"]["fingerprint"]["python"] = script
        return value

    rewrite(made, hostile_strings, resum=True)
    lock = lab_here.parent / "lab.lock"
    lock.write_text(json.dumps(LOCK))
    html, table, lines = run_class(lab_here, lock)
    assert "<script" not in html and "javascript:" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert table["students"][0]["name"] == script  # JSON holds it as data
    assert all("\x1b" not in line for line in lines)


def test_garbage_of_every_type_in_a_report_is_shown_not_a_crash(lab_here):
    made = make_hand_in(lab_here, "ada", {"1": report("1", GOOD_1), "3": report("3", GOOD_3)})

    def garbage(name, value):
        if name == "station-1/report.json":
            return {k: [[{"x": None}]] for k in value} | {"checks": [None, 1, {"status": 7}]}
        if name == "station-3/report.json":
            return [1, 2, 3]
        return value

    rewrite(made, garbage, resum=True)
    html, table, _ = run_class(lab_here)
    stations_ = student(table, "ada")["stations"]
    assert stations_["1"]["verdict"] == stations_["3"]["verdict"] == "not run"
    assert "is not a report this lab writes" in stations_["1"]["problems"][0]
    assert "ada" in html


# -- environment, and what is written (the class figures: test_class_figures.py) ---------


def test_each_environment_against_the_lock(lab_here):
    make_hand_in(lab_here, "ada", {"1": report("1", GOOD_1)})
    made = make_hand_in(lab_here, "bob", {"1": report("1", GOOD_1)})
    other = "sha256:" + "2" * 64

    def other_rootfs(name, value):
        if name == "doctor.json":
            value["images"]["stock"]["rootfs"] = other
        return value

    rewrite(made, other_rootfs)
    lock = lab_here.parent / "lab.lock"
    ft = {**LOCK["images"]["stock"], "image": "lab-cpython:ft"}
    lock.write_text(json.dumps({**LOCK, "images": {**LOCK["images"], "ft": ft}}))
    html, table, _ = run_class(lab_here, lock)
    assert student(table, "ada")["environment"]["differences"] == ["ft: image missing here"]
    assert student(table, "bob")["environment"]["differences"] == [
        f"stock: rootfs: {other} here, {ROOTFS} there",
        "ft: image missing here",
    ]
    assert "ft: image missing here" in html

    lock.write_text(json.dumps(LOCK))  # stock alone: ada's is the locked one
    html, table, _ = run_class(lab_here, lock)
    assert student(table, "ada")["environment"] == {"identical": True, "differences": []}
    assert "identical to the lock" in html

    _, table, _ = run_class(lab_here)  # no lock: said so
    assert student(table, "ada")["environment"]["identical"] is None


def test_each_student_against_their_own_platforms_entry(lab_here):
    """A lock of two platforms: an arm64 laptop's images are judged against the lock's arm64
    entry, an x86-64 PC's against its amd64 one; the page names the class's platforms."""
    make_hand_in(lab_here, "ada", {"1": report("1", GOOD_1)})  # amd64, the locked image
    rewrite(make_hand_in(lab_here, "cy", {"1": report("1", GOOD_1)}), on_arm64(ARM_ROOTFS))
    emulated = make_hand_in(lab_here, "dee", {"1": report("1", GOOD_1)})
    rewrite(emulated, on_arm64(ROOTFS, "linux/amd64"))  # the amd64 image, on an arm64 engine
    lock = lab_here.parent / "lab.lock"
    lock.write_text(json.dumps(TWO_PLATFORM_LOCK))
    html, table, _ = run_class(lab_here, lock)
    assert student(table, "ada")["environment"] == {"identical": True, "differences": []}
    assert student(table, "cy")["environment"] == {"identical": True, "differences": []}
    assert student(table, "dee")["environment"]["differences"] == [
        f"stock: rootfs: {ROOTFS} here, {ARM_ROOTFS} there",
        "stock: platform: linux/amd64 here, linux/arm64 there",
    ]
    assert "each with its platform&#39;s images (linux/amd64, linux/arm64)" in html


def test_a_student_on_a_platform_the_lock_lacks_is_one_line(lab_here):
    made = make_hand_in(lab_here, "eve", {"1": report("1", GOOD_1)})
    rewrite(made, lambda name, value: {**value, "engine": {**value["engine"], "platform":
            "linux/riscv64"}} if name == "doctor.json" else value)  # fmt: skip
    lock = lab_here.parent / "lab.lock"
    lock.write_text(json.dumps(TWO_PLATFORM_LOCK))
    _, table, _ = run_class(lab_here, lock)
    said = "the class's lock has no linux/riscv64 images: it locks linux/amd64, linux/arm64"
    assert student(table, "eve")["environment"] == {"identical": False, "differences": [said]}


def test_the_environments_name_each_engine(lab_here):
    """Each hand-in's doctor.json names its engine's kind: the page counts them; one from
    before the kind was recorded says so."""
    make_hand_in(lab_here, "ada", {"1": report("1", GOOD_1)})
    make_hand_in(lab_here, "bob", {"1": report("1", GOOD_1)})
    made = make_hand_in(lab_here, "cy", {"1": report("1", GOOD_1)})

    def podman(name, value):
        if name == "doctor.json":
            value["engine"] = {"version": "4.3.1", "kind": "Podman", "platform": "linux/amd64"}
        return value

    rewrite(made, podman)
    rewrite(lab_here / "hand-in-bob.tar.gz", lambda name, value: (
        {**value, "engine": {"version": "20.10"}} if name == "doctor.json" else value))  # fmt: skip
    html, _, _ = run_class(lab_here)
    assert "Engines: " in html
    for engine in ("Docker 26.1 (1)", "Podman 4.3.1 (1)", "an engine of unrecorded kind 20.10 (1)"):
        assert engine in html


def test_nothing_is_written_but_the_page(lab_here, tmp_path):
    two_students(lab_here)
    plain_tar(lab_here, "parent.tar", HOSTILE["parent.tar"])
    before = sorted(p for p in tmp_path.rglob("*") if "__pycache__" not in p.parts)
    html, _, _ = run_class(lab_here)
    after = sorted(p for p in tmp_path.rglob("*") if "__pycache__" not in p.parts)
    assert set(after) - set(before) == {tmp_path / "class.html"}
    assert "<script" not in html


def test_the_page_has_no_script_and_fetches_nothing(lab_here):
    two_students(lab_here)
    html, _, _ = run_class(lab_here)
    assert "<script" not in html.lower() and " on" not in html.split("<body>")[1].split(">")[0]
    assert "default-src 'none'" in html
    # One click: the link names an element inside the station's <details>, which the
    # browser opens to show it (Chromium does; the lead's browser tests drive it).
    assert html.count("<details>") == 3
    assert 'href="#student-0-station-1"' in html
    assert "<details>\n<summary>Station 1: " in html and '<div id="student-0-station-1">' in html


def test_a_checks_file_that_does_not_load_leaves_its_station_not_re_judged(lab_here, tmp_path):
    two_students(lab_here)
    (tmp_path / "stations" / "01-frames" / "checks.py").write_text("def check_x(obs):\n  (\n")
    _, table, lines = run_class(lab_here)
    station_1 = student(table, "ada")["stations"]["1"]
    assert station_1["verdict"] == "not run" and "does not load" in station_1["problems"][0]
    assert student(table, "ada")["stations"]["3"]["verdict"] == "pass"
    assert len(lines) == 2  # ada's and bob's station 1


@pytest.mark.parametrize("image", ["torch-cpu", "cuda"])
def test_a_run_in_either_pytorch_image_is_judged_as_it_ran(image: str) -> None:
    """Station 5 names "the PyTorch image": a hand-in that ran in either one ran it all."""
    station = stations.find("5")
    experiments = [
        {"experiment": e.name, "variant": image if v == "torch" else v, "exit_code": 0}
        for e in station.experiments
        for v in e.variants
    ]
    ran = report_model.of({"station": "5", "experiments": experiments})
    station = verdicts.resolved_torch(station, ran)
    seen = verdicts.evidence(ran, station, verdicts.variants_ran(ran, station, []), {})
    assert seen.variants_run is None, "every image the station uses ran"
    assert seen.planned["tensor_buffer"] == (image,)
