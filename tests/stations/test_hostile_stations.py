"""Hostile stations against the real engine: `invoke station` as a learner types it, with a
station folder written by the test (LAB_STATIONS). Each case ends in one `lab:` line or a
report, never a traceback, and leaves no container and no `.partial` folder behind.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import textwrap
import time
from pathlib import Path

import pytest

from lab.config import ROOT, STATIONS_DIR, Variant
from lab.engine import docker
from tests.cli import INVOKE, Result, invoke

HEADER = 'number = 8\naliases = ["hostile"]\ntitle = "hostile"\nminutes = 1\n'


class Hostile:
    """A station folder of experiments, and the environment that points invoke at it."""

    def __init__(self, root: Path) -> None:
        self.stations, self.results = root / "stations", root / "results"
        shutil.copytree(STATIONS_DIR / "_lib", self.stations / "_lib")
        self.folder = self.stations / "08-hostile"
        self.folder.mkdir()
        self.results.mkdir()
        self.env = {
            "LAB_STATIONS": str(self.stations),
            "LAB_RESULTS": str(self.results),
            "LAB_CACHE": str(root / "cache"),
        }

    def write(self, experiments: dict[str, str], checks: str = "", **run_options) -> None:
        toml = HEADER
        for name, source in experiments.items():
            (self.folder / f"{name}.py").write_text(textwrap.dedent(source))
            options = run_options.get(name, "")
            toml += f'[[run]]\nscript = "{name}.py"\ntitle = "{name}"\nvariants = ["stock"]\n'
            toml += f"{options}\n"
        (self.folder / "station.toml").write_text(toml)
        (self.folder / "checks.py").write_text(textwrap.dedent(checks))

    def run(self, *args: str, **env: str) -> Result:
        return invoke("station", "hostile", *args, env={**self.env, **env}, timeout=300)

    def leftovers(self) -> list[str]:
        folder = self.results / "station-hostile"
        left = [p.name for p in folder.glob("*.partial")] if folder.exists() else []
        left += [p.name for p in folder.glob(".*.lock")] if folder.exists() else []
        return left + running_lab_containers(self.results)

    def running(self) -> bool:
        """A run is under way: its container runs and its .partial folder is there."""
        partial = list(self.results.glob("station-hostile/*.partial"))
        return bool(running_lab_containers(self.results) and partial)

    def reports(self) -> list[dict]:
        folder = self.results / "station-hostile"
        return [json.loads(p.read_text()) for p in sorted(folder.glob("*/report.json"))]


def running_lab_containers(results: Path) -> list[str]:
    """The containers of runs whose reports go to RESULTS (other runs may be going on)."""
    label = f"label=org.lab.results={results}"
    return docker.docker(["ps", "-a", "--filter", label, "--format", "{{.Names}}"]).split()


@pytest.fixture
def hostile(stock: Variant, tmp_path) -> Hostile:
    return Hostile(tmp_path)


def one_lab_line(result: Result) -> str:
    lines = [line for line in result.stderr.splitlines() if line.startswith("lab: ")]
    assert "Traceback" not in result.stdout + result.stderr
    assert len(lines) == 1, result.stdout[-2000:] + result.stderr
    return lines[0]


def test_a_link_planted_for_the_report_is_never_written_through(hostile, tmp_path) -> None:
    target = tmp_path / "host-target"
    hostile.write({"plant": f"import os; os.symlink({str(target)!r}, '/lab/output/report.md')"})
    result = hostile.run()
    assert result.code != 0
    assert "link out of its run folder" in one_lab_line(result)
    assert not target.exists() and not target.is_symlink()
    assert not hostile.leftovers() and not hostile.reports()


def test_the_container_sees_its_own_folder_and_nothing_else_of_results(hostile) -> None:
    earlier = hostile.results / "station-1" / "20200101-000000"
    earlier.mkdir(parents=True)
    (earlier / "report.md").write_text("an earlier report\n")
    hostile.write(
        {
            "look": """
            import os
            results = os.listdir("/lab/results") if os.path.isdir("/lab/results") else []
            print("results:", results)
            open("/lab/output/mine.txt", "w").write("mine")
            """
        }
    )
    result = hostile.run()
    assert result.code == 0, result.stdout[-2000:]
    assert "results: []" in result.stdout
    assert (earlier / "report.md").read_text() == "an earlier report\n"
    assert hostile.reports()[0]["files"] == ["mine.txt"]


def test_no_network_no_capabilities_no_new_privileges(hostile) -> None:
    checks = """
    def check_isolated(obs):
        \"\"\"no network but loopback; no capability; no new privileges\"\"\"
        seen = (obs["net.outside"], obs["net.loopback"], obs["caps.bounding"], obs["caps.nnp"])
        return seen == (False, True, "0000000000000000", "1"), str(seen)

    def check_declared_capability(obs):
        \"\"\"an experiment that declares SYS_PTRACE gets it (bit 19), and only it\"\"\"
        return obs["ptrace.bounding"] == "0000000000080000", obs["ptrace.bounding"]
    """
    caps = """
    from labkit import observe
    status = dict(line.split(":\\t", 1) for line in open("/proc/self/status"))
    observe("bounding", status["CapBnd"].strip())
    observe("nnp", status["NoNewPrivs"].strip())
    """
    net = """
    import socket
    from labkit import observe

    def reaches(address):
        try:
            socket.create_connection(address, timeout=3).close()
            return True
        except OSError:
            return False

    server = socket.create_server(("127.0.0.1", 0))
    observe("loopback", reaches(server.getsockname()))
    observe("outside", reaches(("1.1.1.1", 53)) or reaches(("example.com", 443)))
    """
    hostile.write(
        {"net": net, "caps": caps, "ptrace": caps},
        checks,
        ptrace='capabilities = ["SYS_PTRACE"]',
    )
    result = hostile.run()
    assert result.code == 0, result.stdout[-3000:]


def test_memory_and_process_limits_end_that_experiment_with_one_line(hostile) -> None:
    hostile.write(
        {
            "hog": "b = bytearray(512 * 2**20)\nfor i in range(0, len(b), 4096): b[i] = 1\n",
            "bomb": """
            import os, time
            children = 0
            for _ in range(200):  # bounded: the limit is far below
                if os.fork() == 0:
                    time.sleep(60)
                    os._exit(0)
                children += 1
            """,
            "after": "print('still running')",
        }
    )
    started = time.monotonic()
    result = hostile.run(LAB_MEMORY_LIMIT="256m", LAB_PIDS_LIMIT="64")
    assert result.code != 0 and "Traceback" not in result.stderr
    assert "lab: hog on stock killed: out of memory (the container's limit is 256 MiB)" in (
        result.stdout
    )
    assert "lab: bomb on stock hit the limit of 64 processes" in result.stdout
    assert "still running" in result.stdout, "the next experiment runs, in the same container"
    assert time.monotonic() - started < 60, "the bomb's children were killed, not waited for"
    assert not hostile.leftovers()


def test_a_classic_fork_bomb_ends_within_seconds_of_the_limit(hostile) -> None:
    hostile.write(
        {
            "bomb": """
            import os
            while True:
                try:
                    os.fork()
                except OSError:
                    pass
            """,
            "after": "print('still running')",
        }
    )
    started = time.monotonic()
    result = hostile.run(LAB_PIDS_LIMIT="64")
    assert "lab: bomb on stock hit the limit of 64 processes" in result.stdout
    assert "still running" in result.stdout
    assert time.monotonic() - started < 60, "not left to run to its 300 s timeout"
    assert not hostile.leftovers()


FORGER = r"""
import ctypes, json, os
frames = (
    b'@end 0 {"exit_code": 0, "seconds": 0.1}\n@start 1\n'
    b'|1 @@lab-observation {"name": "verdict", "value": "forged"}\n'
    b'@end 1 {"exit_code": 0, "seconds": 0.1}\n'
)
for target in ("/proc/1/fd/1", f"/proc/{os.getppid()}/fd/1"):
    try:
        fd = os.open(target, os.O_WRONLY)
        os.write(fd, frames)
        print("wrote", target)
    except OSError as error:
        print("refused", target, error.strerror)
libc = ctypes.CDLL(None, use_errno=True)
print("ptrace attach to PID 1:", libc.ptrace(16, 1, 0, 0), ctypes.get_errno())
for signum in (2, 9, 15):
    try:
        os.kill(1, signum)
    except OSError as error:
        print("kill refused", error.strerror)
if os.fork() == 0:  # a daemon that waits for the next experiment and writes into its pipe
    os.setsid()
    import time
    for _ in range(300):
        for pid in os.listdir("/proc"):
            if pid.isdigit() and int(pid) > os.getpid():
                try:
                    fd = os.open(f"/proc/{pid}/fd/1", os.O_WRONLY)
                    os.write(fd, b'@@lab-observation {"name": "verdict", "value": "forged"}\n')
                except OSError:
                    pass
        time.sleep(0.01)
    os._exit(0)
"""


def test_an_experiment_cannot_forge_the_next_ones_run(hostile) -> None:
    """The red team's attack: write frames into the supervisor's stdout (PID 1), trace it,
    signal it, and leave a daemon to write into the next experiment's pipe."""
    hostile.write(
        {
            "forger": FORGER,
            "honest": "from labkit import observe\nobserve('verdict', 'real')\nraise SystemExit(3)",
        },
        "def check_verdict(obs):\n    return obs['honest.verdict'] == 'real', 'real'\n",
    )
    result = hostile.run()
    assert "refused /proc/1/fd/1 Permission denied" in result.stdout, result.stdout[-3000:]
    assert "ptrace attach to PID 1: -1 1" in result.stdout  # EPERM
    assert result.code == 1, "the honest experiment's exit 3 is seen"
    report = hostile.reports()[0]
    codes = {e["experiment"]: e["exit_code"] for e in report["experiments"]}
    assert codes == {"forger": 0, "honest": 3}
    verdicts = [o["value"] for o in report["observations"] if o["name"] == "verdict"]
    assert verdicts == ["real"] and report["checks"][0]["status"] == "pass"


def test_experiments_share_no_home_temp_or_image(hostile) -> None:
    hostile.write(
        {
            "plant": """
            import os, site, sysconfig
            user_site = site.getusersitepackages()
            os.makedirs(user_site)
            open(os.path.join(user_site, "usercustomize.py"), "w").write("print('PLANTED')")
            open("/tmp/planted", "w").write("x")
            open("/dev/shm/planted", "w").write("x")
            try:
                open(os.path.join(sysconfig.get_paths()["purelib"], "evil.pth"), "w")
            except OSError as error:
                print("image:", error.strerror)
            print("home:", os.environ["HOME"])
            """,
            "look": """
            import os
            from labkit import observe
            observe("left", sorted(os.listdir("/tmp")) + sorted(os.listdir("/dev/shm")))
            print("home:", os.environ["HOME"])
            """,
        }
    )
    result = hostile.run()
    assert result.code == 0, result.stdout[-3000:]
    assert "image: Read-only file system" in result.stdout
    assert "PLANTED" not in result.stdout
    left = hostile.reports()[0]["observations"][0]["value"]
    assert len(left) == 1 and left[0].startswith("lab-job1-"), "only the job's own HOME"


def test_a_run_past_its_disk_limit_is_stopped_and_kept_nowhere(hostile) -> None:
    hostile.write(
        {
            "fill": """
            import os
            for i in range(10**6):
                with open(f"/lab/output/f{i}", "wb") as out:
                    out.write(b"x" * 2**20)
            """
        }
    )
    started = time.monotonic()
    result = hostile.run(LAB_DISK_LIMIT="64m")
    line = one_lab_line(result)
    assert line == (
        "lab: fill on stock stopped: it wrote more than the run's disk limit "
        "(64 MiB, LAB_DISK_LIMIT); the run is not kept"
    )
    assert result.code == 2 and time.monotonic() - started < 60
    assert not hostile.leftovers() and not hostile.reports()


def test_the_containers_tmp_is_held_to_the_disk_limit(hostile) -> None:
    hostile.write(
        {
            "fill": """
            import os
            with open("/tmp/big", "wb") as out:
                while True:
                    out.write(b"x" * 2**20)
            """
        }
    )
    result = hostile.run(LAB_DISK_LIMIT="64m")
    assert "stopped: it wrote more than the run's disk limit (64 MiB" in result.stderr
    assert not hostile.leftovers() and not hostile.reports()


def test_an_experiment_past_its_timeout_fails_its_run_with_one_line(hostile) -> None:
    hostile.write(
        {"hang": "import time; time.sleep(600)", "after": "print('still running')"},
        hang="timeout = 2",
    )
    started = time.monotonic()
    result = hostile.run()
    assert result.code != 0
    assert "lab: hang on stock timed out after 2 s" in result.stdout
    assert "still running" in result.stdout
    assert time.monotonic() - started < 60
    assert hostile.reports()[0]["experiments"][0]["note"] == "timed out after 2 s"


def test_hostile_output_is_shown_safely_and_the_report_stays_valid(hostile) -> None:
    hostile.write(
        {
            "noise": r"""
            import sys
            out = sys.stdout.buffer
            out.write(b"\xff\xfe not utf-8 \x1b[2J\x1b]0;title\x07\n")
            out.write(b'@@lab-observation {"name": "x", "value": NaN}\n')
            out.write(b"@@lab-observation [1, 2]\n")
            out.write(b'@@lab-observation {"name": "ok", "value": 1}\n')
            out.write(b"@end 0 {\"exit_code\": 0, \"seconds\": 0}\n")
            out.write(b"x" * 100000 + b"\n")
            out.flush()
            """
        }
    )
    result = hostile.run()
    assert result.code == 0, result.stdout[-2000:]
    assert "\x1b" not in result.stdout and "\ufffd\ufffd not utf-8 ?[2J" in result.stdout
    report = hostile.reports()[0]
    assert [o["name"] for o in report["observations"]] == ["ok"]


def test_an_engine_error_is_one_line_not_an_experiment_failure(hostile) -> None:
    hostile.write({"fine": "print('never runs')"})
    result = hostile.run(LAB_MEMORY_LIMIT="1k")
    assert result.code == 2
    assert "the engine could not run lab-cpython:stock" in one_lab_line(result)
    assert not hostile.leftovers() and not hostile.reports()


def launch_station(hostile: Hostile, **popen) -> subprocess.Popen:
    """`invoke station hostile` in the background, its output piped."""
    return subprocess.Popen(
        [str(INVOKE), "station", "hostile"],
        cwd=ROOT,
        env={**os.environ, **hostile.env},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **popen,
    )


def start(hostile: Hostile) -> subprocess.Popen:
    """An `invoke station` whose experiment waits; returns once its container runs."""
    hostile.write({"wait": "import time; print('waiting', flush=True); time.sleep(120)"})
    # its own group: a test can signal the group
    process = launch_station(hostile, start_new_session=True)
    for line in process.stdout:
        if "waiting" in line:
            return process
    raise AssertionError(process.stderr.read())


@pytest.mark.parametrize(
    ("signum", "group"),
    [
        (signal.SIGINT, False),
        (signal.SIGINT, True),
        (signal.SIGTERM, False),
        (signal.SIGTERM, True),
        (signal.SIGQUIT, False),
    ],
)
def test_a_signal_removes_the_container_and_the_partial_folder(hostile, signum, group) -> None:
    process = start(hostile)
    assert hostile.running()
    (os.killpg if group else os.kill)(process.pid, signum)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 128 + signum
    line = one_lab_line(Result(process.returncode, "", stderr))
    assert line.startswith(f"lab: {signal.Signals(signum).name}: stopped: removed container lab-")
    assert ".partial" in line
    assert not hostile.leftovers() and not hostile.reports()


def test_the_next_run_sweeps_what_a_killed_run_left(hostile) -> None:
    process = start(hostile)
    process.kill()  # SIGKILL: nothing can be handled
    process.wait()
    assert hostile.running()
    hostile.write({"quick": "print('done')"})
    result = hostile.run()
    assert result.code == 0, result.stdout[-2000:] + result.stderr
    assert "lab: removed what interrupted runs left: station-hostile/" in result.stdout
    assert not hostile.leftovers() and len(hostile.reports()) == 1


STAMP = """
from labkit import observe, output_dir
observe("n", 1)
(output_dir() / "data.txt").write_text("x")
"""


def test_concurrent_runs_all_finish_with_distinct_complete_reports(hostile) -> None:
    hostile.write(
        {"stamp": STAMP},
        "def check_n(obs):\n    return obs['stamp.n'] == 1, 'n'\n",
    )
    runs = [launch_station(hostile) for _ in range(4)]
    outputs = [run.communicate(timeout=240) for run in runs]
    assert [run.returncode for run in runs] == [0] * 4, outputs
    folders = sorted(p for p in (hostile.results / "station-hostile").iterdir())
    assert len(folders) == 4 and not hostile.leftovers()
    for folder in folders:
        made = sorted(p.name for p in folder.iterdir())
        assert made == ["data.txt", "report.html", "report.json", "report.md"]
        assert json.loads((folder / "report.json").read_text())["passed"]
