"""The Docker CLI's failures become one line: the one that says what went wrong."""

from __future__ import annotations

import pytest

from lab.config import ROOT
from lab.engine import docker, labels
from lab.engine.docker import telling_line
from lab.errors import LabError


def test_the_error_line_wins_over_the_last() -> None:
    stderr = "Error response from daemon: No such image: lab-cpython:nope\nSee 'docker --help'.\n"
    assert telling_line(stderr) == "Error response from daemon: No such image: lab-cpython:nope"


def test_otherwise_the_last_line() -> None:
    assert telling_line("pulling\nstill pulling\n") == "still pulling"
    assert telling_line("") == "(no message)"


# -- one error line: docker's stderr (or stdout) as one printable line ---------------------


def test_the_error_line_is_stderrs_telling_line_as_clean_text() -> None:
    stderr = b"pulling\nError: denied \x1b[2J\xff\n"
    assert docker.error_line(stderr, b"ignored") == "Error: denied ?[2J\ufffd"
    assert docker.error_line("", "only stdout\n") == "only stdout", "stderr empty: stdout"
    assert docker.error_line(b"", b"") == "(no message)"
    assert docker.error_line("error: " + "x" * 500, limit=20) == "error: " + "x" * 12 + "…"


# -- the engine's fault, in one set of words wherever it is told ---------------------------

# Podman's words, seen: an attached run whose container did not start; its missing init.
PODMAN_ATTACH = "Error: unable to upgrade to tcp, received 409"
PODMAN_NO_CATATONIT = (
    "Error response from daemon: container create: container-init binary not found "
    "on the host: stat /usr/libexec/podman/catatonit: no such file or directory"
)


def test_a_409_names_its_cause_not_only_the_code() -> None:
    line = docker.start_failure(PODMAN_ATTACH)
    assert line.startswith(PODMAN_ATTACH)
    assert "`docker run -d`" in line and "(fix: " in line


def test_a_missing_catatonit_says_which_package() -> None:
    line = docker.start_failure(PODMAN_NO_CATATONIT)
    assert line == f"{PODMAN_NO_CATATONIT} (fix: {docker.engine_advice(PODMAN_NO_CATATONIT)})"
    assert "apt-get install catatonit" in line


def test_an_images_own_failure_gets_no_engine_advice() -> None:
    said = "Error response from daemon: No such image: lab-cpython:nope"
    assert docker.start_failure(said) == said


@pytest.fixture
def cli_here(monkeypatch):
    monkeypatch.setattr(docker.shutil, "which", lambda name: f"/usr/bin/{name}")
    monkeypatch.delenv("DOCKER_HOST", raising=False)
    return monkeypatch


def test_a_dead_docker_host_socket_is_named_not_installed(cli_here) -> None:
    cli_here.setenv("DOCKER_HOST", "unix:///run/user/1000/podman/podman.sock")
    line = docker.engine_fault_line()
    assert "DOCKER_HOST=unix:///run/user/1000/podman/podman.sock" in line
    assert "unset DOCKER_HOST" in line and docker.INSTALL_HINT not in line


def test_another_machines_engine_is_started_there(cli_here) -> None:
    cli_here.setenv("DOCKER_HOST", "ssh://student@lab-server")
    line = docker.engine_fault_line()
    assert "DOCKER_HOST=ssh://student@lab-server" in line and "LAB_HOST_ROOT" in line
    assert docker.INSTALL_HINT not in line


def test_no_engine_and_no_cli_each_say_so(cli_here) -> None:
    assert docker.engine_fault_line() == f"no Docker engine is running: {docker.INSTALL_HINT}"
    cli_here.setattr(docker.shutil, "which", lambda name: None)
    assert docker.engine_fault_line() == f"no `docker` command on PATH: {docker.INSTALL_HINT}"


def test_require_engine_says_what_engine_fault_line_says(cli_here) -> None:
    cli_here.setenv("DOCKER_HOST", "unix:///nonexistent.sock")
    cli_here.setattr(docker, "engine_version", lambda: None)
    with pytest.raises(LabError) as caught:
        docker.require_engine()
    assert str(caught.value) == docker.engine_fault_line()
    assert "DOCKER_HOST=unix:///nonexistent.sock" in str(caught.value)


# -- the CLI's argv, written in one place --------------------------------------------------


@pytest.fixture
def asked(monkeypatch) -> list[tuple]:
    calls: list[tuple] = []
    monkeypatch.setattr(docker, "docker", lambda args, **kw: calls.append((args, kw)) or "a\nb\n")
    return calls


def test_remove_removes_every_name_at_once_and_nothing_for_none(asked) -> None:
    docker.remove()
    assert asked == []
    docker.remove("lab-1-stock-run", "lab-1-ft-run")
    assert asked == [
        (["rm", "-f", "lab-1-stock-run", "lab-1-ft-run"], {"check": False, "timeout": 60})
    ]


def test_labelled_containers_of_a_run_or_of_any_run(asked) -> None:
    assert docker.labelled(labels.RUN, "abc") == ["a", "b"]
    assert docker.labelled(labels.RUN, stopped=False) == ["a", "b"]
    assert docker.labelled(labels.RUN, "") == ["a", "b"]
    assert [args for args, _ in asked] == [
        ["ps", "-q", "-a", "--filter", "label=org.lab.run=abc"],
        ["ps", "-q", "--filter", "label=org.lab.run"],
        ["ps", "-q", "-a", "--filter", "label=org.lab.run="],  # an empty id matches no run
    ]


def test_a_short_id_is_twelve_digits_without_the_algorithm() -> None:
    digest = "sha256:" + "0123456789ab" + "f" * 52
    assert docker.short_id(digest) == "0123456789ab" == docker.short_id(digest[7:])
    assert docker.short_id("") == ""


def test_popen_and_run_bounded_run_the_cli(monkeypatch) -> None:
    started = []
    monkeypatch.setattr(docker.subprocess, "Popen", lambda argv, **kw: started.append(argv))
    monkeypatch.setattr(docker.shutil, "which", lambda name: "/usr/bin/docker")
    docker.popen(["load"], stdin=docker.subprocess.PIPE)
    assert started == [["docker", "load"]]
    bounded = []
    monkeypatch.setattr(
        docker.untrusted, "run_bounded", lambda *a: bounded.append(a) or (0, b"", b"")
    )
    docker.run_bounded(["run", "img"], 10, 5, "what")
    assert bounded == [(["docker", "run", "img"], 10, 5, "what")]
    monkeypatch.setattr(docker.shutil, "which", lambda name: None)
    with pytest.raises(LabError, match="no `docker` command"):
        docker.popen(["load"])


def test_the_label_names_are_distinct() -> None:
    names = [v for k, v in vars(labels).items() if k.isupper()]
    assert len(set(names)) == len(names) >= 5
    assert all(name.startswith("org.lab.") for name in names)


def test_only_the_engine_runs_the_cli_and_only_labels_names_a_label() -> None:
    """The engine's seam: lab/ runs `docker` through lab/engine, and writes each label's name
    once, in lab/engine/labels.py (a filter that names another is a clean-up that misses)."""
    engine = ROOT / "lab" / "engine"
    for path in [ROOT / "tasks.py", *sorted((ROOT / "lab").rglob("*.py"))]:
        source = path.read_text()
        if engine not in path.parents:
            assert '"docker"' not in source, f"{path}: run it through lab.engine.docker"
        if path != engine / "labels.py":
            assert "org.lab." not in source, f"{path}: name it in lab/engine/labels.py"


def test_podmans_services_are_read_from_proc(tmp_path) -> None:
    """Each process's command line, NUL-separated; other programs, and a process gone or
    not ours to read, are left out; no /proc (macOS) is no process."""
    for pid, argv in {
        "41": [b"/usr/bin/podman", b"system", b"service", b"unix:///run/podman/podman.sock"],
        "42": [b"/usr/bin/conmon", b"--api-version", b"1"],
        "self": [b"python3"],
    }.items():
        (tmp_path / pid).mkdir()
        (tmp_path / pid / "cmdline").write_bytes(b"\0".join(argv) + b"\0")
    (tmp_path / "43").mkdir()  # gone: no cmdline
    found = docker.podman_services(tmp_path)
    assert found == [["/usr/bin/podman", "system", "service", "unix:///run/podman/podman.sock"]]
    assert docker.idle_seconds(found[0]) == 5, "Podman's default"
    assert docker.podman_services(tmp_path / "absent") == []
