"""distribution's registry (Debian's `docker-registry`) on a loopback port, for as long as a
block runs: what serves a foreign base image to a cross build (lab/images/platforms.py), and the
classroom's tests and benchmark (tests/services.py).

No TLS: engines trust 127.0.0.0/8 without an `insecure-registries` setting.
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from lab.errors import LabError


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for(ready: Callable[[], bool], what: str, seconds: float, log: Path) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if ready():
            return
        time.sleep(0.2)
    tail = log.read_text(errors="replace")[-1500:] if log.exists() else ""
    raise RuntimeError(f"{what} did not start within {seconds:.0f} s:\n{tail}")


def stop(process: subprocess.Popen, seconds: float = 30) -> None:
    """SIGTERM by pid, then SIGKILL if it lingers."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(seconds)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


@contextmanager
def running(address: str | None = None) -> Iterator[str]:
    """A registry with its own empty store on 127.0.0.1:PORT (a free one, or ADDRESS's, which
    an engine's settings may name); yields `127.0.0.1:PORT`. The process is stopped by its
    pid and its store removed, whatever happens inside."""
    binary = shutil.which("docker-registry")
    if binary is None:
        raise LabError(
            "no docker-registry here (Debian's package docker-registry):"
            " `sudo bash scripts/install-docker.sh --classroom` installs it"
        )
    data = Path(tempfile.mkdtemp(prefix="lab-registry-"))
    address = address or f"127.0.0.1:{free_port()}"
    config = data / "config.yml"
    config.write_text(
        "version: 0.1\n"
        "log: {level: warn}\n"
        f"storage: {{filesystem: {{rootdirectory: {data / 'store'}}}, delete: {{enabled: true}}}}\n"
        f"http: {{addr: {address}}}\n"
    )
    log = data / "registry.log"
    with open(log, "w") as out:
        process = subprocess.Popen([binary, "serve", str(config)], stdout=out, stderr=out)
    try:
        wait_for(lambda: answers(f"http://{address}/v2/"), "the registry", 30, log)
        yield address
    finally:
        stop(process)
        shutil.rmtree(data, ignore_errors=True)
