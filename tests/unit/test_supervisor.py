"""labkit.supervisor, run here on the host (it kills only its own descendants)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from lab.config import STATIONS_DIR


def supervise(*jobs: dict, timeout: float = 60) -> list[bytes]:
    done = subprocess.run(
        [sys.executable, "-m", "labkit.supervisor", json.dumps(list(jobs))],
        env={"PYTHONPATH": str(STATIONS_DIR / "_lib"), "PATH": "/usr/bin:/bin"},
        capture_output=True,
        timeout=timeout,
        check=True,
    )
    return done.stdout.splitlines()


def python(code: str, timeout: float = 20) -> dict:
    return {"argv": [sys.executable, "-c", code], "env": {"X": "1"}, "timeout": timeout}


def ends(lines: list[bytes]) -> list[dict]:
    return [json.loads(line.split(b" ", 2)[2]) for line in lines if line.startswith(b"@end ")]


def test_each_job_is_framed_and_its_output_prefixed() -> None:
    lines = supervise(python("import os; print('@end 0 {}'); print(os.environ['X'])"))
    assert lines[:4] == [b"@ready", b"@start 0", b"|0 @end 0 {}", b"|0 1"]
    assert ends(lines)[0]["exit_code"] == 0 and ends(lines)[0]["stopped"] is None


def test_a_job_past_its_timeout_is_killed_and_the_next_runs() -> None:
    started = time.monotonic()
    lines = supervise(python("import time; time.sleep(60)", timeout=1), python("print('next')"))
    first, second = ends(lines)
    assert first["stopped"] == "timeout" and first["exit_code"] == 137
    assert second["exit_code"] == 0 and b"|1 next" in lines
    assert time.monotonic() - started < 20


def test_what_a_job_leaves_running_is_killed_before_the_next(tmp_path) -> None:
    pid_file = tmp_path / "daemon.pid"
    daemon = (
        "import os, time\n"
        "if os.fork() == 0:\n"
        "    os.setsid()\n"  # a daemon: its own session, its parent gone
        "    if os.fork() == 0:\n"
        f"        open({str(pid_file)!r}, 'w').write(str(os.getpid())); time.sleep(60)\n"
        "    os._exit(0)\n"
        "time.sleep(0.5)\n"
    )
    lines = supervise(python(daemon), python("print('next')"))
    assert [e["exit_code"] for e in ends(lines)] == [0, 0]
    pid = int(pid_file.read_text())
    assert not Path(f"/proc/{pid}").exists() or "Z" in Path(f"/proc/{pid}/stat").read_text()


def test_a_job_that_cannot_start_is_a_failure_not_a_crash() -> None:
    lines = supervise({"argv": ["/no/such/program"], "env": {}, "timeout": 5})
    assert ends(lines)[0]["exit_code"] == 127 and "No such file" in ends(lines)[0]["error"]


def test_bytes_that_are_not_utf8_pass_through_prefixed() -> None:
    lines = supervise(python("import sys; sys.stdout.buffer.write(b'\\xff\\xfe' * 5000)"))
    pieces = [line for line in lines if line.startswith(b"|0 ")]
    assert len(pieces) == 2 and all(len(p) <= 8192 + 3 for p in pieces)
