"""The class page's cost: `invoke class-report` over a class of N students, timed in a
fresh process each time (the imports are part of the cost: the task pays them once).
Best of 3.

    python bench/class_page.py [--from hand-in-x.tar.gz | --synthetic] [--students 30,300]
                               [--lock lab.lock] [--profile]

The class is N copies of one hand-in, each under another student's name (student-001, ...):
its manifest.json, the last member, is rewritten with that name (it holds the other
members' SHA-256, not its own, so nothing else changes). The hand-in is --from's; else one
made by `invoke hand-in` from the runs in results/; else (or with --synthetic, the same on
every machine) a synthetic one: for each station, a report.json whose reading list is
resolved by the lab's own resolver (labkit.reading) in made-up trees, 30-line excerpts as a
real run's: Python files from this machine's standard library where it has them,
generated C-like text for the rest (no CPython tree is assumed here); one experiment run
per [[run]] and variant (station 6's on torch-cpu: a machine without a GPU, as most are);
an observation for each key the station's checks.py names, set to 1.5, and those checks
run on them (so some pass, some fail, as a class's do); the explain questions with their
evidence; report.html and report.md, and the files the experiments save (station 3's
plot, the synthesis's flame graphs) at a real run's sizes (report.json 20-50 KB, as a
real run's 30-60 KB). Every copy holds the same excerpts, as a real class's do.

--profile: the largest class once more under cProfile, its top 15 entries by cumulative
time. Writes results/bench/class_page.json.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import subprocess
import sys
import sysconfig
import tarfile
import tempfile
from dataclasses import asdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from lab.classroom import hand_in
from lab.classroom.lockfile import LOCK_FILE
from lab.config import ROOT, STATIONS_DIR, results_dir
from lab.run import stations
from lab.run.observations import Observation, Observations, load_checks, run_check

sys.path.insert(0, str(STATIONS_DIR / "_lib"))
from labkit.reading import TREES, resolve

# The class page as `invoke class-report` makes it, timed from before its imports.
CLASS_PAGE = """
import json, sys, time
started = time.perf_counter()
profile = None
if sys.argv[4] == "profile":
    import cProfile
    profile = cProfile.Profile()
    profile.enable()
from pathlib import Path
from lab.classroom import class_page
said = []
lock = Path(sys.argv[3]) if sys.argv[3] else None
class_page.class_report(Path(sys.argv[1]), Path(sys.argv[2]), lock, said.append)
seconds = time.perf_counter() - started
if profile:
    import pstats
    profile.disable()
    pstats.Stats(profile, stream=sys.stderr).sort_stats("cumulative").print_stats(15)
print(json.dumps({"seconds": seconds, "bytes": Path(sys.argv[2]).stat().st_size, "problems": said}))
"""
RUN_FOLDER = "20261202-010000"
SAVED = {  # the files some stations' experiments save, by station label: (name, bytes)
    "3": [("scaling.png", 60_000), ("scaling-stock.json", 4_000), ("scaling-ft.json", 4_000)],
    "6": [("torch-trace.json", 400_000)],
    "synthesis": [("flame-python.svg", 200_000), ("flame-python-native.svg", 250_000)],
}
C_LINES = [
    "    PyObject *result = NULL;",
    "    Py_ssize_t n = PyTuple_GET_SIZE(args);",
    "    if (n < 0) {",
    '        PyErr_SetString(PyExc_ValueError, "negative size");',
    "        goto error;",
    "    }",
    "    /* The reference is borrowed: the caller keeps the tuple alive. */",
    "    for (Py_ssize_t i = 0; i < n; i++) {",
    "        PyObject *item = PyTuple_GET_ITEM(args, i);",
    "        if (_PyObject_IsUniquelyReferenced(item)) {",
    "            Py_INCREF(item);",
    "        }",
    "    }",
    "    assert(tstate->interp != NULL);",
    "    _Py_atomic_store_int_relaxed(&tstate->eval_breaker, 0);",
    "    result = _PyObject_CallNoArgs(callable);  // may re-enter the eval loop",
    "    Py_XDECREF(result);",
    "#ifdef Py_GIL_DISABLED",
    "    _PyCriticalSection_End(&cs);",
    "#endif",
]


def synthetic_hand_in(folder: Path) -> Path:
    """A hand-in of every station, made up as the docstring says, in FOLDER."""
    results, trees = folder / "results", folder / "trees"
    for found in stations.scan()[0]:
        station = found.with_torch("torch-cpu")
        run = results / f"station-{station.label}" / RUN_FOLDER
        run.mkdir(parents=True)
        body = synthetic_report(station, trees)
        text = json.dumps(body, indent=2)
        (run / "report.json").write_text(text + "\n")
        (run / "report.md").write_text(text.replace('"', "")[: len(text) // 2])
        (run / "report.html").write_text(f"<!doctype html><pre>{text}</pre>" * 3)
        for name, size in SAVED.get(station.label, []):
            made_up = random.Random(name).randbytes(size)  # a PNG: incompressible
            (run / name).write_bytes(
                made_up if name.endswith(".png") else made_up.hex()[:size].encode()
            )
    return hand_in.hand_in("bench", folder / "hand-in-bench.tar.gz", results).path


def synthetic_report(station: stations.Station, trees: Path) -> dict:
    asked = [dict(entry) for entry in station.reading]
    write_trees(trees, [e for e in asked if "path" in e])
    reading = [resolve(entry, {t: str(trees / t) for t in trees_named(asked)}) for entry in asked]
    for entry in reading:  # where the image's trees are, as a real run says
        if "at" in entry:
            tree = Path(entry["at"]).relative_to(trees).parts[0]
            entry["at"] = entry["at"].replace(str(trees / tree), TREES[tree], 1)
    records = observed(station)
    obs = Observations(records)
    checks = [asdict(run_check(check, obs)) for check in load_checks(station.checks_file)]
    return {
        "station": station.label,
        "title": station.title,
        "started": "2026-12-02T01:00:00+00:00",
        "seconds": 95.0,
        "images": {"stock": "d7118bf3e1d3", "ft": "5b0c1a2e44f0"},
        "reading": reading,
        "experiments": [
            {"experiment": e.name, "variant": v, "exit_code": 0, "seconds": 4.2, "note": ""}
            for e in station.experiments
            for v in e.variants
        ],
        "observations": [asdict(r) for r in records],
        "checks": checks,
        "explain": [
            {"question": q.question, "evidence": [evidence(key, obs) for key in q.evidence]}
            for q in station.questions
        ],
        "files": [name for name, _ in SAVED.get(station.label, [])],
        "emulated": {},
        "passed": all(c["status"] != "fail" for c in checks),
    }


def trees_named(entries: list[dict]) -> set[str]:
    return {e["tree"] for e in entries if "tree" in e}


def write_trees(trees: Path, entries: list[dict]) -> None:
    """Each file the reading names: the standard library's copy for a Lib/ file where this
    machine has one, else made-up source that defines every symbol asked of it."""
    symbols: dict[Path, list[str]] = {}
    for entry in entries:
        symbols.setdefault(trees / entry["tree"] / entry["path"], []).append(entry.get("symbol"))
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    for path, names in symbols.items():
        path.parent.mkdir(parents=True, exist_ok=True)
        relative = path.relative_to(trees).parts
        local = stdlib.joinpath(*relative[2:]) if relative[1:2] == ("Lib",) else None
        if local and local.is_file():
            path.write_text(local.read_text(errors="replace"))
        else:
            path.write_text(made_up_source(path.suffix, [n for n in names if n]))


def made_up_source(suffix: str, names: list[str]) -> str:
    """About 400 lines, each of NAMES defined as the resolver finds it, among filler."""
    shuffled = random.Random(suffix + "".join(names))
    out = [f"/* A made-up {suffix} file for bench/class_page.py. */", ""]
    for name in names or ["filler"]:
        out += [shuffled.choice(C_LINES) for _ in range(120)]
        owner, _, method = name.rpartition(".")
        if suffix in (".py", ".pyx", ".pxd"):
            out += [f"class {owner or 'Made'}:", f"    def {method}(self, *args):"]
            out += ["        return args  # " + shuffled.choice(C_LINES).strip() for _ in range(30)]
        else:
            out += ["static PyObject *", f"{name}(PyObject *self, PyObject *args)", "{"]
            out += [shuffled.choice(C_LINES) for _ in range(30)] + ["}"]
    return "\n".join(out) + "\n"


def observed(station: stations.Station) -> list[Observation]:
    """1.5 for each key the station's checks.py names, on its variant or the first one."""
    variants = {e.name: e.variants for e in station.experiments}
    source = station.checks_file.read_text()
    keys = re.findall(r'(?:obs\[|by_variant\()\s*"([\w.]+(?:@[\w-]+)?)"', source)
    records = {}
    for key in keys:
        key, _, variant = key.partition("@")
        experiment, _, name = key.partition(".")
        variant = variant or (variants.get(experiment) or ("stock",))[0]
        records[key, variant] = Observation(experiment, variant, name, 1.5, "x")
    return list(records.values())


def evidence(key: str, obs: Observations) -> dict:
    try:
        values = obs.by_variant(key)
    except KeyError:
        values = {}
    return {"key": key, "text": "", "values": values}


def newest_runs() -> bool:
    return any(results_dir().glob("station-*/*/report.json"))


def source_hand_in(given: str | None, synthetic: bool, scratch: Path) -> tuple[Path, str]:
    if given:
        return Path(given), given
    if newest_runs() and not synthetic:
        return hand_in.hand_in("bench", scratch / "hand-in-bench.tar.gz").path, "results/"
    return synthetic_hand_in(scratch), "synthetic"


def members_of(archive: Path) -> dict[str, bytes]:
    """ARCHIVE's members, where it is a hand-in with a manifest; else one line."""
    try:
        with tarfile.open(archive, "r:gz") as tar:
            members = {m.name: tar.extractfile(m).read() for m in tar if m.isfile()}
        json.loads(members[hand_in.MANIFEST])
    except (OSError, tarfile.TarError, EOFError, KeyError, ValueError) as error:
        raise SystemExit(f"{archive} is not a hand-in with a manifest ({error})") from None
    return members


def make_class(members: dict[str, bytes], folder: Path, students: int) -> None:
    """STUDENTS copies of a hand-in's MEMBERS in FOLDER, each under its own student's name."""
    manifest = json.loads(members[hand_in.MANIFEST])
    folder.mkdir()
    for n in range(1, students + 1):
        name = f"student-{n:03d}"
        copy = {k: v for k, v in members.items() if k != hand_in.MANIFEST}
        copy[hand_in.MANIFEST] = hand_in.as_json({**manifest, "name": name})
        hand_in.write_archive(folder / f"hand-in-{name}.tar.gz", copy)


def timed(folder: Path, output: Path, lock: Path | None, profile: bool = False) -> dict:
    argv = [sys.executable, "-c", CLASS_PAGE, str(folder), str(output), str(lock or ""),
            "profile" if profile else ""]  # fmt: skip
    done = subprocess.run(argv, cwd=ROOT, capture_output=True, text=True)
    if done.returncode:
        raise SystemExit(f"the class page failed: {done.stderr.strip()[-2000:]}")
    if profile:
        print(done.stderr)
    return json.loads(done.stdout)


def sizes_of(text: str) -> list[int]:
    if not re.fullmatch(r"[1-9][0-9]{0,3}(,[1-9][0-9]{0,3})*", text):
        raise argparse.ArgumentTypeError(f"{text!r}: class sizes such as 30,300 (1 to 9999)")
    return [int(n) for n in text.split(",")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--from", dest="source", help="a hand-in to copy (hand-in-x.tar.gz)")
    parser.add_argument("--synthetic", action="store_true", help="a made-up hand-in")
    parser.add_argument("--students", default="30,300", type=sizes_of, help="class sizes: 30,300")
    parser.add_argument("--lock", help="the class's lab.lock (default: ./lab.lock, if any)")
    parser.add_argument("--profile", action="store_true", help="profile the largest class")
    args = parser.parse_args()
    sizes = args.students
    lock = Path(args.lock) if args.lock else (LOCK_FILE if LOCK_FILE.is_file() else None)
    found: dict = {}
    with tempfile.TemporaryDirectory() as scratch_name:
        scratch = Path(scratch_name)
        archive, made_from = source_hand_in(args.source, args.synthetic, scratch)
        members = members_of(archive)
        found = {"hand_in": made_from, "hand_in_bytes": archive.stat().st_size, "classes": {}}
        print(f"one hand-in ({made_from}): {found['hand_in_bytes']:,} bytes")
        for students in sizes:
            folder = scratch / f"class-{students}"
            make_class(members, folder, students)
            output = scratch / f"class-{students}.html"
            best = min((timed(folder, output, lock) for _ in range(3)), key=lambda r: r["seconds"])
            found["classes"][students] = {
                "seconds": round(best["seconds"], 2),
                "page_bytes": best["bytes"],
                "problems": len(best["problems"]),
            }
            print(
                f"{students} students: {best['seconds']:.2f} s, page {best['bytes']:,} bytes"
                + (f", {len(best['problems'])} problem lines" if best["problems"] else "")
            )
        if args.profile:
            largest = max(sizes)
            timed(scratch / f"class-{largest}", scratch / "profiled.html", lock, profile=True)
    out = ROOT / "results" / "bench" / "class_page.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(found, indent=2) + "\n")


if __name__ == "__main__":
    main()
