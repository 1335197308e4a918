"""Bad input at the command line: one clear line and a non-zero exit."""

import json
import shutil

import pytest

from tests.cli import assert_one_clear_line, invoke

NO_ENGINE = {"DOCKER_HOST": "unix:///nonexistent/docker.sock"}


def test_unknown_variant() -> None:
    assert_one_clear_line(invoke("shell", "nope"), "unknown variant 'nope'", "stock, debug, ft")


def test_unknown_variant_for_images() -> None:
    assert_one_clear_line(invoke("images", "--variant", "3.12"), "unknown variant '3.12'")


def test_no_engine_running() -> None:
    result = invoke("shell", "stock", env=NO_ENGINE)
    if not shutil.which("docker"):  # a fresh machine: install it
        assert_one_clear_line(result, "no `docker` command", "install-docker.sh")
        return
    # DOCKER_HOST names a socket nothing serves: start that engine, or unset it; no install
    assert_one_clear_line(result, f"DOCKER_HOST={NO_ENGINE['DOCKER_HOST']}", "unset DOCKER_HOST")
    assert "install-docker.sh" not in result.stderr


def test_doctor_without_engine_says_what_fixes_it() -> None:
    result = invoke("doctor", env=NO_ENGINE)
    assert result.code != 0
    assert "engine" in result.stdout and "MISSING" in result.stdout
    assert "fix:" in result.stdout
    assert_one_clear_line(result, "lab: the stations cannot run here yet", "fix:")


def test_list_shows_every_task_with_one_line_help() -> None:
    listing = invoke("--list").stdout
    for name in ("doctor", "images", "shell", "test", "base"):
        lines = [line for line in listing.splitlines() if line.strip().startswith(name + " ")]
        assert lines and len(lines[0].split(None, 1)) == 2, f"{name} has no one-line help"


# -- untrusted input at the command line: one `lab:` line, never a traceback -------------


def test_load_of_a_folder_or_of_nothing() -> None:
    assert_one_clear_line(invoke("load", "/tmp", env=NO_ENGINE), "lab: ", "/tmp", "not a file")
    assert_one_clear_line(invoke("load", "", env=NO_ENGINE), "lab: ", "not a file")


def test_compare_with_deep_json(tmp_path) -> None:
    (tmp_path / "deep.json").write_text("[" * 100_000)
    result = invoke("doctor", "--compare", str(tmp_path / "deep.json"), env=NO_ENGINE)
    assert_one_clear_line(result, "lab: ", "deep.json")


def test_compare_with_a_device() -> None:
    result = invoke("doctor", "--compare", "/dev/zero", env=NO_ENGINE, timeout=60)
    assert_one_clear_line(result, "lab: ", "/dev/zero", "not a regular file")


def test_compare_with_wrong_types(tmp_path) -> None:
    (tmp_path / "t.json").write_text('{"lab_facts": 1, "images": {"stock": [1, 2]}}')
    result = invoke("doctor", "--compare", str(tmp_path / "t.json"), env=NO_ENGINE)
    assert_one_clear_line(result, "lab: ", "t.json")


@pytest.mark.parametrize(
    ("field", "value"), [("platform", 5), ("repository", "--help"), ("rootfs", "\x1b[2J")]
)
def test_pull_with_a_bad_lock(tmp_path, field: str, value) -> None:
    entry = {"image": "lab-cpython:ft", "platform": "linux/amd64",
             "rootfs": "sha256:" + "1" * 64, "fingerprint": {},
             "repository": "127.0.0.1:5000/class/lab-cpython", "digest": "sha256:" + "2" * 64,
             field: value}  # fmt: skip
    lock = tmp_path / "lab.lock"
    lock.write_text(json.dumps({"lab_lock": 1, "registry": None, "images": {"ft": entry}}))
    result = invoke("pull", "--lock", str(lock), env=NO_ENGINE)
    assert_one_clear_line(result, "lab: ", field)
    assert "\x1b" not in result.stderr


@pytest.mark.parametrize("task", ["publish", "station", "load", "shell", "class-report"])
def test_help_after_a_task_shows_its_help_and_runs_nothing(task: str) -> None:
    """Invoke hands `--help` to a task's first positional argument: `invoke publish --help`
    once tagged images for a registry named "--help"."""
    result = invoke(task, "--help", env=NO_ENGINE)
    assert result.code == 0, result.stderr
    assert result.stdout.startswith(f"Usage: inv[oke] [--core-opts] {task} ")
    assert "lab:" not in result.stderr
