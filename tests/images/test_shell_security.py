"""`invoke shell`: the station containers' restrictions, plus the network, results/ and the
host's CA bundle; a signal removes its container."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

from lab.config import ROOT, Variant
from lab.engine import docker, labels
from lab.images.builder import extra_ca
from tests.cli import INVOKE, invoke

PROBE = (
    "grep -E '^(CapBnd|NoNewPrivs)' /proc/self/status; "
    "cat /sys/fs/cgroup/pids/pids.max /sys/fs/cgroup/pids.max 2>/dev/null; "
    "ls /sys/class/net; echo CA=$SSL_CERT_FILE PIP=$PIP_CERT; "
    'cmp -s "$SSL_CERT_FILE" /etc/lab/host-ca.crt && echo same'
)


def test_shell_keeps_the_network_and_trusts_the_hosts_ca(stock: Variant, tmp_path) -> None:
    result = invoke(
        "shell", "stock", "--command", PROBE,
        env={"LAB_RESULTS": str(tmp_path), "LAB_PIDS_LIMIT": "321"},
    )  # fmt: skip
    assert result.code == 0, result.stderr
    out = result.stdout
    assert "CapBnd:\t0000000000000000" in out and "NoNewPrivs:\t1" in out
    assert "321" in out.split(), "the limits apply to the shell too"
    assert "eth0" in out.split(), "the shell has a network (a learner pip-installs there)"
    if extra_ca() != "/dev/null":
        assert "CA=/etc/lab/host-ca.crt PIP=/etc/lab/host-ca.crt" in out and "same" in out


def test_sigterm_removes_the_shells_container(stock: Variant, tmp_path) -> None:
    process = subprocess.Popen(
        [str(INVOKE), "shell", "stock", "--command", "echo up; sleep 120"],
        cwd=ROOT,
        env={**os.environ, "LAB_RESULTS": str(tmp_path)},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout.readline().strip() == "up"
    names = shell_containers()
    assert names
    process.send_signal(signal.SIGTERM)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 143
    assert stderr.startswith("lab: SIGTERM: stopped: removed the shell's container lab-")
    deadline = time.monotonic() + 10
    while set(names) & set(shell_containers()) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert not set(names) & set(shell_containers())
    assert Path(tmp_path).stat().st_uid == os.getuid(), "results/ is handed back"


def shell_containers() -> list[str]:
    out = docker.docker(["ps", "-a", "--filter", f"label={labels.SHELL}", "--format", "{{.Names}}"])
    return out.split()
