"""Station 7 (synthesis): its checks fail on the false observations, its measurements count
right, and its reading list lands where it says."""

from __future__ import annotations

from pathlib import Path

import pytest
from labkit.reading import resolve

from lab.config import STATIONS_DIR
from lab.run import stations
from lab.run.observations import Observations
from tests.unit.stations.judging import observations, status
from tests.unit.stations.scripts import experiment

SYNTHESIS = STATIONS_DIR / "07-synthesis"


profile_flame = experiment("07-synthesis", "profile_flame")


# -- the bytecode and the linter: dis shows the specializations, ruff the planted bug --------
def test_dis_must_show_the_int_arithmetic_specialized_not_resume_check() -> None:
    synthesis = {"specialized": ["COMPARE_OP_INT", "RESUME_CHECK"]}
    assert status("dis_shows_specialization", "7", observations("bytecode", synthesis)) == "fail"
    synthesis["specialized"] += ["BINARY_OP_ADD_INT", "BINARY_OP_MULTIPLY_INT"]
    assert status("dis_shows_specialization", "7", observations("bytecode", synthesis)) == "pass"


def linted(findings: list[dict], original: int = 0) -> Observations:
    values = {
        "planted": {"line": 16, "code": "return n is 2"},
        "ruff_findings": findings,
        "ruff_findings_original": original,
    }
    return observations("code_and_ast", values)


def test_ruff_must_find_the_planted_bug_in_the_learners_file() -> None:
    found = [{"line": 16, "code": "F632"}]
    assert status("ruff_finds_the_planted_bug", "7", linted(found)) == "pass"
    assert status("ruff_finds_the_planted_bug", "7", linted([])) == "fail"
    elsewhere = [{"line": 3, "code": "F401"}]
    assert status("ruff_finds_the_planted_bug", "7", linted(elsewhere)) == "fail"
    assert status("ruff_finds_the_planted_bug", "7", linted(found, original=2)) == "fail"


# -- perf's map and sys.monitoring: specialized instructions come back generic, then warm up ---
def rewrite(warm: str, generic: str, off: str, rewarmed: str) -> dict:
    return {
        "index": 19,
        "warm": warm,
        "generic": generic,
        "events on": "INSTRUMENTED_INSTRUCTION",
        "events off": off,
        "re-warmed": rewarmed,
    }


MULTIPLY = ("BINARY_OP_MULTIPLY_INT", "BINARY_OP")
COMPARE = ("COMPARE_OP_INT", "COMPARE_OP")


def hooks(**changed) -> Observations:
    """What observability.py measured (perf's map, sys.monitoring's rewrites), some changed."""
    values = {
        "perf_map_entries": 489,
        "perf_map_python": ["py::count_primes:/x/primes.py", "py::is_prime:/x/primes.py"],
        "instrumented": {
            "warm": [],
            "events on": ["INSTRUMENTED_INSTRUCTION", "INSTRUMENTED_LINE"],
            "events off": [],
        },
        "rewrites": [rewrite(*MULTIPLY, "BINARY_OP", MULTIPLY[0])],
        "calls_to_respecialize": 14,
        "line_events": 17,
        **changed,
    }
    return observations("observability", values)


def monitoring(rewrites: list[dict], calls: int | None = 14) -> str:
    obs = hooks(rewrites=rewrites, calls_to_respecialize=calls)
    return status("monitoring_instruments_then_restores", "7", obs)


def test_observability_hooks_fail_when_absent() -> None:
    assert status("perf_map_names_python_functions", "7", hooks()) == "pass"
    assert status("perf_map_names_python_functions", "7", hooks(perf_map_python=[])) == "fail"
    check = "monitoring_instruments_then_restores"
    assert status(check, "7", hooks()) == "pass"
    stuck = {
        "warm": [],
        "events on": ["INSTRUMENTED_INSTRUCTION"],
        "events off": ["INSTRUMENTED_INSTRUCTION"],
    }
    assert status(check, "7", hooks(instrumented=stuck)) == "fail"
    assert status(check, "7", hooks(line_events=0)) == "fail"


def test_specializations_come_back_generic_then_warm_up_again() -> None:
    measured = [rewrite(*MULTIPLY, "BINARY_OP", MULTIPLY[0]), rewrite(*COMPARE, *COMPARE[::-1])]
    assert monitoring(measured) == "pass"


def test_a_specialization_kept_through_the_events_fails() -> None:
    # what the station taught before: the originals, specialized ones included, put back
    kept = [rewrite(*MULTIPLY, MULTIPLY[0], MULTIPLY[0])]
    assert monitoring(kept) == "fail"


def test_one_never_specialized_again_fails() -> None:
    cold = [
        rewrite(*MULTIPLY, "BINARY_OP", MULTIPLY[0]),
        rewrite(*COMPARE, "COMPARE_OP", "COMPARE_OP"),
    ]
    assert monitoring(cold) == "fail"
    assert monitoring([rewrite(*MULTIPLY, "BINARY_OP", MULTIPLY[0])], calls=None) == "fail"


def test_no_instrumented_specialization_measured_fails() -> None:
    # the old experiment: only line starts instrumented, none of them specialized
    assert monitoring([]) == "fail"
    assert monitoring([rewrite(*COMPARE, "COMPARE_OP", COMPARE[0])]) == "fail"


# -- py-spy --native: NumPy's inner loops, not any frame in its C module -----------------
def native(loops: dict[str, float], share: float, c_share: float = 99.8) -> str:
    values = {"inner_loops": loops, "inner_loop_share": share, "numpy_c_share": c_share}
    return status("native_profile_shows_the_c_loops", "7", observations("profile_flame", values))


def test_inner_loops_pass_and_dispatch_alone_fails() -> None:
    loops = {"DOUBLE_sin_AVX512_SKX": 71.3, "DOUBLE_sqrt_SSE41": 14.8, "DOUBLE_add_AVX2": 3.2}
    assert native(loops, 91.4) == "pass"
    # the old check passed on ufunc_generic_fastcall's 88%: the dispatch, not the loops
    assert native({}, 0.0, c_share=88.5) == "fail"
    assert native({"DOUBLE_sin_AVX2": 30.0}, 30.0) == "fail"  # no sqrt loop, too little time


NUMPY = "(numpy/_core/_multiarray_umath.cpython-313-x86_64-linux-gnu.so)"


def box(name: str, first: int, width: int) -> str:
    return (
        f"<g><title>{name} ({width} samples, {width / 10:.2f}%)</title>"
        f'<rect x="0%" y="0" width="0%" height="15" fg:x="{first}" fg:w="{width}"/></g>'
    )


@pytest.fixture
def flame(tmp_path: Path) -> list[tuple[str, int, int]]:
    """A native flame graph of 1000 samples: dispatch over sin and a recursive reduction."""
    boxes = [
        box("all", 0, 1000),
        box(f"ufunc_generic_fastcall {NUMPY}", 0, 900),
        box(f"generic_wrapped_legacy_loop {NUMPY}", 0, 700),
        box(f"DOUBLE_sin_AVX512_SKX {NUMPY}", 0, 600),
        box("0x7f172e98a75b (libm.so.6)", 0, 200),
        box(f"DOUBLE_add_AVX2 {NUMPY}", 700, 100),
        box(f"DOUBLE_pairwise_sum {NUMPY}", 700, 100),
        box(f"DOUBLE_pairwise_sum {NUMPY}", 700, 100),
        box("numpy_work (workload.py:30)", 0, 1000),
    ]
    svg = tmp_path / "flame.svg"
    svg.write_text("<svg>" + "".join(boxes) + "</svg>")
    return profile_flame.boxes(svg)


def test_a_sample_counts_once_however_deep_the_loops_nest(flame) -> None:
    assert profile_flame.share(flame, profile_flame.INNER_LOOP) == pytest.approx(70.0)
    loops = profile_flame.inner_loops(flame)
    expected = {"DOUBLE_sin_AVX512_SKX": 60.0, "DOUBLE_add_AVX2": 10.0, "DOUBLE_pairwise_sum": 10.0}
    assert loops == pytest.approx(expected)  # pairwise_sum's recursion: 10%, not 20%


def test_dispatch_frames_are_not_inner_loops(flame) -> None:
    assert profile_flame.share(flame, profile_flame.NUMPY_MODULE) == pytest.approx(90.0)
    assert not any(
        "ufunc" in name or "wrapped" in name for name in profile_flame.inner_loops(flame)
    )


# -- the reading list ---------------------------------------------------------------------
LIBPYTHON = """\
class PyBacktraceFull(gdb.Command):
    pass

PyBacktraceFull()

class PyBacktrace(gdb.Command):
    'Display the current python frame and all the frames within its call stack (if any)'
    def invoke(self, args, from_tty):
        pass

PyBacktrace()
"""


def test_py_bt_reading_lands_on_the_class_not_its_registration(tmp_path: Path) -> None:
    (tmp_path / "Tools/gdb").mkdir(parents=True)
    (tmp_path / "Tools/gdb/libpython.py").write_text(LIBPYTHON)
    reading = stations.find("7").reading
    entry = next(e for e in reading if e.get("path") == "Tools/gdb/libpython.py")
    got = resolve(entry, {"cpython": str(tmp_path)})
    assert got["status"] == "found" and got["at"].endswith("libpython.py:6"), got
