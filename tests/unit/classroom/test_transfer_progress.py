"""Bytes done of the total, and the rate: `invoke bundle`'s `docker save`, and `invoke load`'s
check and `docker load`, through a stand-in `docker` command (no engine needed). Output here
is no terminal, so each shows plain lines, never a carriage return."""

from __future__ import annotations

import io
import os
import re
import stat
from pathlib import Path

import pytest

from lab.classroom import bundle, registry
from tests.unit.classroom.bundles import make_bundle, saved_images

# `docker history` of two images built on the same two layers (Size, then CreatedBy; newest
# first, as docker prints it), the second with a layer of its own.
HISTORY = {
    "sha256:stock": "0\tCMD [python3]\n3000\tRUN make install\n2000\tRUN apt-get\n1000\t\n",
    "sha256:ft": "4000\tRUN make install --disable-gil\n2000\tRUN apt-get\n1000\t\n",
}
SAVE_LINE = re.compile(r"\[bundle\] docker save: [0-9.]+ [kMG]?B of 10\.0 kB \(\d+%\), ")


@pytest.fixture
def fake_docker(tmp_path: Path, monkeypatch) -> Path:
    """A `docker` on PATH that answers `history` from HISTORY and `save` with a file."""
    saved, _ = saved_images()
    (tmp_path / "saved.tar").write_bytes(saved)
    for image, rows in HISTORY.items():
        (tmp_path / f"history-{image.split(':')[1]}").write_text(rows)
    script = tmp_path / "bin" / "docker"
    script.parent.mkdir()
    script.write_text(
        "#!/bin/sh\n"
        f'cd "{tmp_path}"\n'
        'case "$1" in\n'
        '  history) eval last=\\${$#}; cat "history-${last#sha256:}" ;;\n'
        "  save) cat saved.tar ;;\n"
        "esac\n"
    )
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{script.parent}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.delenv("CI", raising=False)
    return tmp_path


def test_the_saved_size_counts_each_shared_layer_once(fake_docker: Path) -> None:
    assert bundle.saved_size(["sha256:stock"]) == 6000
    assert bundle.saved_size(["sha256:stock", "sha256:ft"]) == 6000 + 4000


def test_docker_save_shows_bytes_of_the_total_and_the_rate(fake_docker: Path, capsys) -> None:
    saved = (fake_docker / "saved.tar").read_bytes()
    bundle.save_compressed(["sha256:stock", "sha256:ft"], fake_docker / "images.tar.zst")
    out = capsys.readouterr().out
    assert "\r" not in out and "\x1b" not in out
    lines = out.splitlines()
    assert SAVE_LINE.match(lines[0]), lines
    assert re.fullmatch(
        rf"\[bundle\] docker save: done, {len(saved) / 1e3:.1f} kB in 0:00, [0-9.]+ [kMG]?B/s",
        lines[-1],
    ), lines


def test_load_shows_its_check_and_docker_load_as_bytes(tmp_path: Path, capsys) -> None:
    path = make_bundle(tmp_path)
    with bundle.open_bundle(path) as (_, parts):
        size = parts[bundle.IMAGES].size
    bundle.check(path, "linux/amd64", reference={})
    sink = io.BytesIO()
    bundle.feed(path, sink)
    assert sink.getvalue() == saved_images()[0]
    out = capsys.readouterr().out
    assert "\r" not in out and "\x1b" not in out
    shown = f"{size / 1e3:.1f} kB" if size >= 1e3 else f"{size} B"
    assert f"[load] checking images.tar.zst: hashed, {shown} in 0:00, " in out, out
    assert f"[load] docker load of images.tar.zst: done, {shown} in 0:00, " in out, out


def test_a_bundles_own_check_speaks_as_bundle(tmp_path: Path, capsys) -> None:
    path = make_bundle(tmp_path)
    bundle.check(path, None, {}, prefix="bundle")
    assert "[bundle] checking images.tar.zst: hashed, " in capsys.readouterr().out


# -- publish and pull: the CLI's own progress bars, read from the terminal it is given ------

PUSH_TTY = Path(__file__).parent / "docker-20.10-push-tty.txt"  # `docker push` of 3 layers


def docker_printing(folder: Path, monkeypatch, recorded: Path, stderr: str, code: int) -> None:
    """A `docker` that writes RECORDED to its terminal, STDERR to stderr, and exits CODE
    (and says the image is 160 MB)."""
    script = folder / "bin" / "docker"
    script.parent.mkdir(exist_ok=True)
    script.write_text(
        '#!/bin/sh\n[ "$1" = image ] && { echo 160000000; exit 0; }\n'
        f'cat "{recorded}"\nprintf "{stderr}" >&2\nexit {code}\n'
    )
    script.chmod(script.stat().st_mode | stat.S_IEXEC)
    monkeypatch.setenv("PATH", f"{script.parent}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.delenv("CI", raising=False)


def test_layer_bytes_are_read_from_the_clis_bars_however_the_reads_cut_them() -> None:
    recorded = PUSH_TTY.read_bytes().decode()
    whole, cut = registry.LayerBytes(), registry.LayerBytes()
    whole.feed(recorded)
    for start in range(0, len(recorded), 7):
        cut.feed(recorded[start : start + 7])
    assert (whole.done, whole.total) == (cut.done, cut.total) == (154e6, 154e6)
    assert whole.sizes == {"a9243074681c": 12e6, "391647833b9d": 30e6, "369e5f898841": 112e6}


def test_a_pulls_download_bars_count_until_complete() -> None:
    layers = registry.LayerBytes()
    layers.feed("\x1b[2A\x1b[2K\r7c04c0fe7344: Already exists \r\n")
    layers.feed("\x1b[1A\x1b[2K\rfad662112855: Downloading [=====>    ]  12.5MB/40MB\r\n")
    assert (layers.done, layers.total) == (12.5e6, 40e6), "a layer already here moves nothing"
    layers.feed("\x1b[1A\x1b[2K\rfad662112855: Download complete \r\n")
    assert layers.done == 40e6


def test_a_push_shows_bytes_and_keeps_what_the_cli_said(tmp_path: Path, monkeypatch, capsys):
    docker_printing(tmp_path, monkeypatch, PUSH_TTY, "", 0)
    done = registry.transfer(["push", "--", "127.0.0.1:5000/class/lab-cpython:stock"])
    assert done.returncode == 0
    assert registry.PUSHED_DIGEST.search(done.stdout)[1] == (
        "sha256:750a73e65b107dc86e3cd29a88baca99b7cd6e3c67805cecc4726ecd9b8cf417"
    )
    assert "\x1b" not in done.stdout and "\r" not in done.stdout
    out = capsys.readouterr().out
    assert "\r" not in out and "\x1b" not in out
    assert " of 160.0 MB (" in out.splitlines()[0], "the image's size, before any layer starts"
    assert re.fullmatch(
        r"\[publish\] lab-cpython:stock: done, 154\.0 MB in 0:0\d, "
        r"[0-9.]+ [kMG]?B/s",
        out.splitlines()[-1],
    ), out


def test_a_refused_push_keeps_dockers_error_line(tmp_path: Path, monkeypatch, capsys) -> None:
    said = "denied: requested access to the resource is denied\\n"
    docker_printing(tmp_path, monkeypatch, PUSH_TTY, said, 1)
    done = registry.transfer(["push", "--", "127.0.0.1:9/class/lab-cpython:stock"])
    assert done.returncode == 1
    said = registry.docker.error_line(done.stderr, done.stdout)
    assert said == "denied: requested access to the resource is denied"
    assert "[publish] lab-cpython:stock: failed, " in capsys.readouterr().out


def test_a_progress_line_names_the_image_not_the_registry() -> None:
    pushed = "127.0.0.1:5000/class/lab-cpython:stock"
    pulled = "127.0.0.1:5000/class/lab-cpython@sha256:77260c22a5fe5144ac88cd07bd91079f1c78"
    assert registry.short_name(pushed) == "lab-cpython:stock"
    assert registry.short_name(pulled) == "lab-cpython@sha256:77260c22a5fe"
