"""`invoke station` against the real images: bad input is one line, nothing half-written."""

from __future__ import annotations

import json

from lab.config import Variant
from tests.cli import assert_one_clear_line, invoke


def test_images_not_built(engine: str, tmp_path) -> None:
    result = invoke(
        "station", "2", env={"LAB_IMAGE_REPO": "lab-not-built", "LAB_RESULTS": str(tmp_path)}
    )
    assert_one_clear_line(result, "is not built", "invoke images --variant")
    assert not list(tmp_path.iterdir())


def test_results_folder_unwritable(stock: Variant, tmp_path) -> None:
    blocked = tmp_path / "a-file"
    blocked.write_text("")
    result = invoke("station", "1", env={"LAB_RESULTS": str(blocked / "results")})
    assert_one_clear_line(result, "results folder", "not writable")


def test_reading_only_json(stock: Variant, tmp_path) -> None:
    result = invoke("station", "1", "--read-only", "--json", env={"LAB_RESULTS": str(tmp_path)})
    assert result.code == 0, result.stderr
    report = json.loads(result.stdout)
    statuses = {
        entry["symbol"]: entry["status"] for entry in report["reading"] if "symbol" in entry
    }
    assert statuses["_PyEval_EvalFrameDefault"] == "found"
    assert statuses["LOAD_GLOBAL"] == "moved", "3.13 defines instructions in bytecodes.c"
    assert (tmp_path / "station-1").is_dir()


def test_station_3_on_one_cpu_skips_parallel_and_serial_checks_saying_why(
    stock: Variant, ft: Variant, tmp_path
) -> None:
    """Issue 26: inside a container limited to one CPU (LAB_CPUS=1, compose's `cpus`), the
    checks that need parallelism, or its absence, skip with the machine's reason, which the
    run's page shows beside them."""
    env = {"LAB_RESULTS": str(tmp_path), "LAB_CPUS": "1"}
    result = invoke("station", "3", "--quick", "--skip-reading", "--json", env=env)
    report = json.loads(result.stdout)
    checks = {c["name"]: c for c in report["checks"]}
    quota = "a CPU quota of 1 (the container's cgroup)"
    for name in ("stock_threads_do_not_scale", "gil_switched_back_on_serializes",
                 "ft_threads_scale", "processes_scale", "subinterpreters_scale"):  # fmt: skip
        assert checks[name]["status"] == "skip", checks[name]["detail"]
        assert quota in checks[name]["detail"]
    page = next(tmp_path.glob("station-3/*/report.html")).read_text()
    assert quote_free(quota) in quote_free(page)


def quote_free(text: str) -> str:
    """TEXT with its apostrophes as the page escapes them (&#39;)."""
    return text.replace("&#39;", "'")
