"""labkit.supervisor, run here on the host (it kills only its own descendants)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

from labkit.supervisor import MAX_LINE

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
    lines = supervise(python("import sys; sys.stdout.buffer.write(b'\\xff\\xfe' * 300_000)"))
    pieces = [line for line in lines if line.startswith(b"|0 ")]
    assert len(pieces) == 2 and all(len(p) <= MAX_LINE + 3 for p in pieces)


def test_each_job_has_a_home_and_temp_folder_of_its_own() -> None:
    """What one job leaves in HOME (a usercustomize.py in its user site, say) is gone
    before the next: each gets a fresh folder, removed after it."""
    plant = (
        "import os, site\n"
        "os.makedirs(site.getusersitepackages())\n"
        "open(os.path.join(site.getusersitepackages(), 'usercustomize.py'), 'w')"
        ".write('print(\"PLANTED\")')\n"
        "print('home', os.environ['HOME'], os.environ['TMPDIR'])\n"
    )
    lines = supervise(python(plant), python("import os; print('home', os.environ['HOME'])"))
    homes = [line.split()[2] for line in lines if line.startswith(b"|") and b" home " in line]
    assert len(set(homes)) == 2 and not any(b"PLANTED" in line for line in lines)
    assert not any(Path(home.decode()).exists() for home in homes), "removed after its job"


def test_a_job_that_writes_past_the_disk_limit_is_stopped(tmp_path) -> None:
    writer = (
        "import os\n"
        "for i in range(10**6):\n"
        f"    open(os.path.join({str(tmp_path)!r}, f'f{{i}}'), 'wb').write(b'x' * 2**20)\n"
    )
    job = {**python(writer), "env": {"LAB_OUTPUT": str(tmp_path)}, "disk_bytes": 64 * 2**20}
    started = time.monotonic()
    end = ends(supervise(job))[0]
    assert end["stopped"] == "disk" and end["exit_code"] == 137, end
    assert time.monotonic() - started < 10
    written = sum(f.stat().st_size for f in tmp_path.iterdir())
    assert written < 256 * 2**20, f"{written / 2**20:.0f} MiB: stopped late"


def test_one_file_past_the_disk_limit_is_refused_by_the_kernel(tmp_path) -> None:
    big = f"open({str(tmp_path / 'big')!r}, 'wb').write(b'x' * 2**21)"
    job = {**python(big), "env": {"LAB_OUTPUT": str(tmp_path)}, "disk_bytes": 2**20}
    end = ends(supervise(job))[0]
    assert end["exit_code"] != 0 and (tmp_path / "big").stat().st_size <= 2**20


def test_the_supervisor_cannot_be_traced_or_its_stdout_opened_by_its_jobs() -> None:
    """Not dumpable: a job running as the same user gets no way to the supervisor's stdout
    but its own pipe. Run as nobody where the test is root (root may open any process's)."""
    probe = (
        "import ctypes, os\n"
        "try:\n"
        "    os.open(f'/proc/{os.getppid()}/fd/1', os.O_WRONLY); print('OPENED')\n"
        "except PermissionError:\n"
        "    print('open refused')\n"
        "libc = ctypes.CDLL(None, use_errno=True)\n"
        "PTRACE_ATTACH = 16\n"
        "print('attach', libc.ptrace(PTRACE_ATTACH, os.getppid(), 0, 0))\n"
    )
    # A system Python that nobody may run (the venv's may sit in root's home): Debian's, or
    # the one in /usr/local (the lab's own image, where these tests run on Python 3.13).
    python3 = next(p for p in ("/usr/bin/python3", "/usr/local/bin/python3") if os.path.exists(p))
    drop = (lambda: (os.setgid(65534), os.setuid(65534))) if os.getuid() == 0 else None
    job = {**python(probe), "argv": [python3, "-c", probe]}
    done = subprocess.run(
        [python3, "-m", "labkit.supervisor", json.dumps([job])],
        env={"PYTHONPATH": str(STATIONS_DIR / "_lib"), "PATH": "/usr/local/bin:/usr/bin:/bin"},
        capture_output=True, timeout=60, check=True, preexec_fn=drop, cwd="/",
    )  # fmt: skip
    lines = done.stdout.splitlines()
    assert b"|0 open refused" in lines and b"|0 attach -1" in lines, lines


def test_a_folder_a_job_made_unreadable_in_its_home_is_removed_after_it() -> None:
    plant = (
        "import os\n"
        "home = os.environ['HOME']\n"
        "os.makedirs(os.path.join(home, 'a', 'b'))\n"
        "os.chmod(os.path.join(home, 'a', 'b'), 0)\n"
        "os.chmod(os.path.join(home, 'a'), 0)\n"
        "print('home', home)\n"
    )
    lines = supervise(python(plant))
    home = next(line.split()[2] for line in lines if line.startswith(b"|0 home "))
    assert not Path(home.decode()).exists()
