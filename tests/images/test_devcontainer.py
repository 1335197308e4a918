"""The dev container, for real, with the dev containers CLI (`devcontainer`, from npm):
`devcontainer up` builds it from .devcontainer/ and installs the host side; `invoke
station 1 --quick` inside passes on the host's engine. `invoke test` installs the CLI first
(scripts/install-test-tools.sh, a pinned version); it skips only where that could not."""

from __future__ import annotations

import json
import shutil
import subprocess

from lab.config import ROOT
from lab.engine import docker
from lab.images import builder
from tests.conftest import TOOLS_HINT, unavailable


def devcontainer(command: str, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["devcontainer", command, "--workspace-folder", str(ROOT), *args],
        capture_output=True, text=True, timeout=timeout, check=False,
    )  # fmt: skip


def test_station_1_runs_in_the_dev_container(stock, ft) -> None:
    if not shutil.which("devcontainer"):
        unavailable(f"no dev containers CLI (npm's @devcontainers/cli): {TOOLS_HINT}")
    if docker.image_labels(builder.base_image()) is None:
        unavailable(f"{builder.base_image()} is not here: run `invoke base`")
    # as a student runs it: nothing handed in, so behind a TLS-intercepting proxy the
    # dev container must find the host's CA bundle itself
    up = devcontainer("up")
    answer = json.loads(up.stdout.strip().splitlines()[-1]) if up.stdout.strip() else {}
    container = answer.get("containerId")
    try:
        assert answer.get("outcome") == "success", up.stdout[-3000:] + up.stderr[-3000:]
        run = devcontainer("exec", "invoke", "station", "1", "--quick")
        assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
        report = next(line for line in run.stdout.splitlines() if line.startswith("report: "))
        assert report.startswith("report: /workspaces/")
        # the host sees the run folder the container's engine wrote: host paths were used
        folder = ROOT / "results" / report.split("/results/", 1)[1].rsplit("/", 1)[0]
        assert (folder / "report.json").is_file()
        shutil.rmtree(folder)
        shell_trusts_the_same_bundle()
    finally:
        if container:
            subprocess.run(["docker", "rm", "-f", container], capture_output=True, check=False)


# the engine mounts the shell's CA from the host: it must be the dev container's bundle (its
# own store plus the host's CA), not whatever the host has at the dev container's path
SHELL_PROBE = (
    "sha256sum /etc/ssl/certs/ca-certificates.crt && invoke shell stock --command "
    "'sha256sum /etc/lab/host-ca.crt && "
    "pip download -q --no-deps --no-cache-dir -d /tmp/probe invoke && echo index-reached'"
)
EMPTY = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def shell_trusts_the_same_bundle() -> None:
    probe = devcontainer("exec", "sh", "-c", SHELL_PROBE)
    assert probe.returncode == 0, probe.stdout[-3000:] + probe.stderr[-3000:]
    digests = [line.split()[0] for line in probe.stdout.splitlines() if line.endswith(".crt")]
    assert len(digests) == 2 and digests[0] == digests[1] != EMPTY, probe.stdout[-3000:]
    assert "index-reached" in probe.stdout.split(), "pip in the shell passes the proxy"
