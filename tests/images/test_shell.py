"""`invoke shell`: the compose service a learner gets, and its bad input."""

from __future__ import annotations

import os

from lab.config import Variant
from tests.cli import assert_one_clear_line, invoke


def test_shell_is_non_root_with_stations_read_only(stock: Variant, tmp_path) -> None:
    result = invoke(
        "shell",
        "stock",
        "--command",
        "id -u; touch /lab/stations/x 2>/dev/null || echo read-only; "
        "echo hi > /lab/results/from-container.txt",
        env={"LAB_RESULTS": str(tmp_path)},
    )
    assert result.code == 0, result.stderr
    uid, verdict = result.stdout.split()[:2]
    assert uid != "0" and verdict == "read-only"
    written = tmp_path / "from-container.txt"
    assert written.read_text() == "hi\n"
    assert written.stat().st_uid == os.getuid(), "results belong to the invoking user"


def test_image_not_built(engine: str) -> None:
    result = invoke("shell", "ft", env={"LAB_IMAGE_REPO": "lab-not-built"})
    assert_one_clear_line(result, "lab-not-built:ft is not built", "invoke images --variant ft")


def test_results_folder_unwritable(stock: Variant, tmp_path) -> None:
    blocked = tmp_path / "file-not-folder"
    blocked.write_text("")
    result = invoke("shell", "stock", "--command", "true", env={"LAB_RESULTS": str(blocked)})
    assert_one_clear_line(result, "results folder", "not writable")
