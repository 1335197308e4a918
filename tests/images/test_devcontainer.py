"""The dev container, for real, with the dev containers CLI (`devcontainer`, from npm):
`devcontainer up` builds it from .devcontainer/ and installs the host side; `invoke
station 1 --quick` inside passes on the host's engine. `invoke test` installs the CLI first
(scripts/install-test-tools.sh, a pinned version); it skips only where that could not."""

from __future__ import annotations

import json
import shutil
import subprocess

from lab import docker, images
from lab.config import ROOT
from tests.conftest import TOOLS_HINT, unavailable


def devcontainer(command: str, *args: str, timeout: float = 600) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["devcontainer", command, "--workspace-folder", str(ROOT), *args],
        capture_output=True, text=True, timeout=timeout, check=False,
    )  # fmt: skip


def test_station_1_runs_in_the_dev_container(stock, ft) -> None:
    if not shutil.which("devcontainer"):
        unavailable(f"no dev containers CLI (npm's @devcontainers/cli): {TOOLS_HINT}")
    if docker.image_labels(images.base_image()) is None:
        unavailable(f"{images.base_image()} is not here: run `invoke base`")
    ca = images.extra_ca()  # pip behind a TLS-intercepting proxy trusts the host's CA
    trust = [] if ca == "/dev/null" else [
        "--mount", f"type=bind,source={ca},target=/etc/lab/host-ca.crt",
        "--remote-env", "PIP_CERT=/etc/lab/host-ca.crt",
    ]  # fmt: skip
    up = devcontainer("up", *trust)
    answer = json.loads(up.stdout.strip().splitlines()[-1]) if up.stdout.strip() else {}
    container = answer.get("containerId")
    try:
        assert answer.get("outcome") == "success", up.stdout[-3000:] + up.stderr[-3000:]
        run = devcontainer("exec", "invoke", "station", "1", "--quick")
        assert run.returncode == 0, run.stdout[-3000:] + run.stderr[-3000:]
        report = run.stdout.strip().splitlines()[-1]
        assert report.startswith("report: /workspaces/")
        # the host sees the run folder the container's engine wrote: host paths were used
        folder = ROOT / "results" / report.split("/results/", 1)[1].rsplit("/", 1)[0]
        assert (folder / "report.json").is_file()
        shutil.rmtree(folder)
    finally:
        if container:
            subprocess.run(["docker", "rm", "-f", container], capture_output=True, check=False)
