"""Bad input at the command line: one clear line and a non-zero exit."""

from tests.cli import assert_one_clear_line, invoke

NO_ENGINE = {"DOCKER_HOST": "unix:///nonexistent/docker.sock"}


def test_unknown_variant() -> None:
    assert_one_clear_line(invoke("shell", "nope"), "unknown variant 'nope'", "stock, debug, ft")


def test_unknown_variant_for_images() -> None:
    assert_one_clear_line(invoke("images", "--variant", "3.12"), "unknown variant '3.12'")


def test_no_engine_running() -> None:
    result = invoke("shell", "stock", env=NO_ENGINE)
    assert_one_clear_line(result, "no Docker engine is running", "install-docker.sh")


def test_doctor_without_engine_says_what_fixes_it() -> None:
    result = invoke("doctor", env=NO_ENGINE)
    assert result.code != 0
    assert "engine" in result.stdout and "MISSING" in result.stdout
    assert "fix:" in result.stdout


def test_list_shows_every_task_with_one_line_help() -> None:
    listing = invoke("--list").stdout
    for name in ("doctor", "images", "shell", "test", "base"):
        lines = [line for line in listing.splitlines() if line.strip().startswith(name + " ")]
        assert lines and len(lines[0].split(None, 1)) == 2, f"{name} has no one-line help"
