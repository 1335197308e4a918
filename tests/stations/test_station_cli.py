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
