"""Every check of the stations, run on what the real images measure (testcontainers).

A check that fails here means an observation is wrong (or the claim no longer holds on
the pinned version, which is worth knowing too).
"""

from __future__ import annotations

import os

import pytest

from lab.config import ALL_VARIANTS
from lab.run import stations
from lab.run.station_run import Options, run_station, with_torch_image
from tests.browser import visit
from tests.conftest import built
from tests.station_runner import TestcontainersRunner

# "6" runs in this machine's PyTorch image (the CPU build where no GPU is reachable);
# "6:cuda" in the CUDA build, on the CPU here: both images must carry the station.
STATIONS = ["1", "2", "3", "4", "synthesis", "5", "6", "6:cuda"]


@pytest.fixture
def results(tmp_path, monkeypatch):
    monkeypatch.setenv("LAB_RESULTS", str(tmp_path))
    if os.getuid() == 0:  # containers run as uid 1000
        os.chown(tmp_path, 1000, 1000)
    return tmp_path


# What a station's page must show beside its checks: the code where the reading points
# (from the image's own tree), and the figures that say more than the numbers.
SHOWN = {"1": ["_PyEval_EvalFrameDefault(PyThreadState *tstate, _PyInterpreterFrame *frame"]}
FIGURES = {"1": 1, "2": 2, "3": 2, "6": 2, "synthesis": 2}


@pytest.mark.parametrize("number", STATIONS)
def test_every_check_passes(number: str, results, engine: str, browser) -> None:
    number, _, image = number.partition(":")
    options = Options(quick=True, variant=image or None)
    station, options = with_torch_image(stations.find(number), options)
    names = {station.read_in} | {v for e in station.experiments for v in e.variants}
    for name in names:
        built(ALL_VARIANTS[name])
    lines: list[str] = []
    report, folder = run_station(
        station, options, runner=TestcontainersRunner(results), say=lines.append
    )
    # A check skips, saying why, where this host cannot show what it measures: no GPU (the
    # test runner gives containers none), or timing checks on a host too busy to time (a
    # noise floor or the process pool's own speedup says so). Never silently, never all.
    failed = [c for c in report["checks"] if c["status"] == "fail" or not c["detail"]]
    assert not failed, "\n".join(f"{c['name']}: {c['detail']}" for c in failed)
    assert any(c["status"] == "pass" for c in report["checks"]), "every check skipped"
    assert all(e["exit_code"] == 0 for e in report["experiments"]), "\n".join(lines[-30:])
    assert {r["status"] for r in report["reading"]} <= {"found", "moved", "document"}
    assert (folder / "report.json").is_file() and (folder / "report.md").is_file()
    seen = visit(browser, folder / "report.html")
    assert seen.console_errors == [] and seen.requests == [(folder / "report.html").as_uri()]
    for text in SHOWN.get(number, ()):
        assert text in seen.text, f"the page does not show {text!r}"
    assert seen.svg_count + seen.image_count >= FIGURES.get(number, 0), "figures are missing"
    assert not list(folder.parent.glob("*.partial")), "no partial report is left behind"
