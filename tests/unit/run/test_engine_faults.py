"""An engine that cannot start a station's container, the reading list's or the shell's: the
user gets docker's line and what to do about it (docker.engine_fault_line), as doctor says
it, not Podman's bare `received 409`."""

from __future__ import annotations

import contextlib
import os

import pytest

from lab.config import VARIANTS
from lab.engine import docker
from lab.engine import labels as lab_labels
from lab.errors import LabError
from lab.run import containers
from lab.run.runner import ComposeRunner, Job

PODMAN_ATTACH = "Error: unable to upgrade to tcp, received 409"
PODMAN_NO_CATATONIT = (
    "Error response from daemon: container create: container-init binary not found "
    "on the host: stat /usr/libexec/podman/catatonit: no such file or directory"
)


@pytest.fixture
def compose_says(monkeypatch):
    """`docker compose run` replaced by a shell script: SCRIPT(said) sets what it does."""
    monkeypatch.setattr(containers, "env", lambda *a: dict(os.environ))
    monkeypatch.setattr(docker, "docker", lambda args, **kw: "")  # rm -f, ps: nothing there

    def script(text: str) -> None:
        argv = ["sh", "-c", text]
        monkeypatch.setattr(containers, "run_command", lambda *a, **k: argv)

    return script


def test_a_container_that_did_not_start_says_what_to_do(compose_says) -> None:
    compose_says(f"read job; echo '{PODMAN_ATTACH}'; exit 125")
    job = Job("exp", ["true"], {}, 10)
    with pytest.raises(LabError) as caught:
        ComposeRunner().run(
            VARIANTS["stock"], job, capabilities=(), output=None,
            labels={lab_labels.RUN: "abc"}, on_line=lambda line: None,
        )  # fmt: skip
    said = str(caught.value)
    assert said.startswith(f"the engine could not run lab-cpython:stock: {PODMAN_ATTACH} (fix: ")
    assert docker.engine_advice(PODMAN_ATTACH) in said


def test_the_error_line_wins_over_what_followed_it(compose_says) -> None:
    compose_says(f"read job; echo '{PODMAN_NO_CATATONIT}'; echo 'See docker run --help'; exit 1")
    with pytest.raises(LabError, match="apt-get install catatonit"):
        ComposeRunner().run(
            VARIANTS["stock"], Job("exp", ["true"], {}, 10), capabilities=(), output=None,
            labels={lab_labels.RUN: "abc"}, on_line=lambda line: None,
        )  # fmt: skip


def test_a_reading_list_whose_container_did_not_start_says_what_to_do(compose_says) -> None:
    compose_says(f"cat >/dev/null; echo '{PODMAN_ATTACH}' >&2; exit 125")
    with pytest.raises(LabError) as caught:
        ComposeRunner().resolve_reading(VARIANTS["stock"], [], {lab_labels.RUN: "abc"})
    assert f"{PODMAN_ATTACH} (fix: " in str(caught.value)


def test_a_reading_lists_own_failure_gets_no_engine_advice(compose_says) -> None:
    compose_says("cat >/dev/null; echo 'ValueError: a bad entry' >&2; exit 1")
    with pytest.raises(LabError) as caught:
        ComposeRunner().resolve_reading(VARIANTS["stock"], [], {lab_labels.RUN: "abc"})
    assert str(caught.value).endswith("failed: ValueError: a bad entry")


@pytest.fixture
def shell_runs(monkeypatch):
    """`invoke shell` with its compose line replaced by a shell script (see compose_says)."""
    monkeypatch.setattr(containers, "require_image", lambda variant: None)
    monkeypatch.setattr(containers, "device_note", lambda variant: None)
    monkeypatch.setattr(containers, "shell_env", lambda: dict(os.environ))
    monkeypatch.setattr(containers, "writable_results", contextlib.nullcontext)
    monkeypatch.setattr(docker, "docker", lambda args, **kw: "")

    def script(text: str) -> int:
        monkeypatch.setattr(containers, "run_command", lambda *a, **k: ["sh", "-c", text])
        return containers.interactive(VARIANTS["stock"])

    return script


def test_a_shell_the_engine_could_not_start_says_what_to_do(shell_runs, capfd) -> None:
    assert shell_runs(f"echo '{PODMAN_NO_CATATONIT}' >&2; exit 1") == 1
    lines = capfd.readouterr().err.splitlines()
    assert lines[0] == PODMAN_NO_CATATONIT, "compose's own line, as it came"
    assert lines[1] == (
        f"lab: the engine could not start the shell: {docker.engine_fault_line(lines[0])}"
    )
    assert "apt-get install catatonit" in lines[1]


def test_a_shells_own_exit_is_left_as_it_is(shell_runs, capfd) -> None:
    assert shell_runs("echo 'bash: nope: command not found' >&2; exit 127") == 127
    assert capfd.readouterr().err == "bash: nope: command not found\n"
    assert shell_runs("exit 0") == 0


def test_the_relay_keeps_only_the_tail(monkeypatch, capfd) -> None:
    monkeypatch.setattr(containers, "RELAY_TAIL", 8)
    reader, writer = os.pipe()
    tail = bytearray()
    with os.fdopen(reader, "rb") as stream:
        relaying = containers.relay(stream, tail)
        os.write(writer, b"0123456789abcdef")
        os.close(writer)
        relaying.join(timeout=5)
    assert bytes(tail) == b"89abcdef"
    assert capfd.readouterr().err == "0123456789abcdef"
