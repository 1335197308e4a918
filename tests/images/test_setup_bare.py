"""scripts/setup.sh's host side on a fresh Debian: a container from the lab's own base image
with only python3 added (no python3-venv, so no ensurepip, as on a new cloud VM). The set-up
must install what the host side needs from Debian and leave a working .venv with invoke.

`--no-engine` skips the engine and GPU steps: the container needs no engine inside. It
reaches Debian's mirrors and the Python package index, as the lab's image builds do, and
trusts the host's CA bundle (a TLS-intercepting proxy's CA included).
"""

from __future__ import annotations

import os
import subprocess

import pytest

from lab.config import ROOT
from lab.engine import docker
from lab.images import builder

IN_CONTAINER = r"""
set -eu
apt-get update -qq
DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3 >/dev/null
if python3 -m venv /tmp/probe >/dev/null 2>&1; then echo PREMISE-FAILED; exit 3; fi
echo "premise: python3 -m venv fails here"
mkdir /lab
tar -C /src --exclude=./.venv --exclude=./.git --exclude=./results -cf - . | tar -C /lab -xf -
cd /lab
scripts/setup.sh --no-engine --no-build
.venv/bin/invoke --list >/dev/null && echo INVOKE-ANSWERS
.venv/bin/python -c 'import lab.engine.docker, testcontainers; print("LAB-IMPORTS")'
command -v docker >/dev/null || echo NO-ENGINE-INSTALLED
scripts/setup.sh --no-engine 2>&1 | grep -c 'host side:' || echo SECOND-RUN-REUSES
scripts/setup.sh --bogus 2>&1 || echo "exit $?"
"""


def test_setup_installs_the_host_side_on_a_bare_debian(engine: str) -> None:
    base = builder.base_image()
    if docker.image_labels(base) is None:
        pytest.skip(f"{base} is not here: run `invoke base`")
    ca = builder.extra_ca()
    name = f"lab-test-setup-{os.getpid()}"
    argv = ["docker", "run", "--rm", "--name", name, "-v", f"{ROOT}:/src:ro"]
    if ca != "/dev/null":
        argv += ["-v", f"{ca}:/etc/lab/host-ca.crt:ro", "-e", "PIP_CERT=/etc/lab/host-ca.crt"]
    try:
        done = subprocess.run(
            [*argv, base, "bash", "-c", IN_CONTAINER],
            capture_output=True, text=True, timeout=900, check=False,
        )  # fmt: skip
    finally:
        subprocess.run(["docker", "rm", "-f", name], capture_output=True, check=False)
    out = done.stdout + done.stderr
    assert "premise: python3 -m venv fails here" in out, out
    assert "installing python3 and python3-venv" in out, out
    for seen in ("INVOKE-ANSWERS", "LAB-IMPORTS", "NO-ENGINE-INSTALLED", "SECOND-RUN-REUSES"):
        assert seen in out, out
    assert "lab: setup.sh: unknown option --bogus" in out and "exit 2" in out, out
