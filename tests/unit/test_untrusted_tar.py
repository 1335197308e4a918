"""untrusted_tar.py: a tar's headers are bounded by Header's overrides of tarfile's private
hooks, and a Python on which those overrides are no longer in effect reads no tar at all.

Each refusal below is checked against plain tarfile too: where plain tarfile would take the
header, only Header's override refuses it, so a Python that stops calling the override turns
these tests red (and check_hooks refuses to read)."""

from __future__ import annotations

import gzip
import io
import tarfile
from collections.abc import Iterator

import pytest

from lab import untrusted_tar
from lab.errors import LabError
from lab.untrusted_tar import HEADER_LIMIT, Header, Refused
from tests.tars import sparse_header, tar_of


def read_all(data: bytes, tarinfo: type[tarfile.TarInfo] = Header, mode: str = "r:") -> list:
    with tarfile.open(fileobj=io.BytesIO(data), mode=mode, tarinfo=tarinfo) as tar:
        return tar.getmembers()


def pax_record(size: int) -> bytes:
    """A member whose pax header record is about SIZE bytes (a comment), then its data."""
    info = tarfile.TarInfo("notes")
    info.pax_headers = {"comment": "x" * size}
    return tar_of([(info, b"hello")])


def gnu_long_name(size: int) -> bytes:
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.GNU_FORMAT) as tar:
        tar.addfile(tarfile.TarInfo("n" * size))
    return out.getvalue()


def sparse_10() -> bytes:
    """A member in GNU 1.0 sparse format: its map, which tarfile reads whole, in its data."""
    info = tarfile.TarInfo("zeros")
    info.pax_headers = {"GNU.sparse.major": "1", "GNU.sparse.minor": "0"}
    return tar_of([(info, b"1\n0\n0\n".ljust(512, b"\0"))])


HOSTILE = {
    "pax record": pax_record(HEADER_LIMIT + 1000),
    "GNU long name": gnu_long_name(HEADER_LIMIT + 1000),
    "GNU sparse": sparse_header("zeros", 1 << 30) + bytes(1024),
    "GNU 1.0 sparse": sparse_10(),
}


@pytest.mark.parametrize("name", sorted(HOSTILE))
def test_a_header_plain_tarfile_reads_is_refused(name: str) -> None:
    read_all(HOSTILE[name], tarfile.TarInfo)  # plain tarfile takes it: only Header refuses
    with pytest.raises(Refused) as caught:
        read_all(HOSTILE[name])
    assert "\n" not in str(caught.value)


def test_a_header_within_the_limit_reads() -> None:
    (member,) = read_all(pax_record(HEADER_LIMIT - 1000))
    assert member.name == "notes" and untrusted_tar.plain(member)


def test_a_record_claiming_gigabytes_is_refused_before_it_is_read() -> None:
    info = tarfile.TarInfo("notes")
    info.type, info.size = tarfile.XHDTYPE, 4 << 30  # and none of it in the file
    with pytest.raises(Refused, match="4,294,967,296 bytes"):
        read_all(info.tobuf(tarfile.USTAR_FORMAT) + bytes(1024))


def test_a_stream_is_refused_as_a_file_is() -> None:
    """The class page reads a hand-in as a gzip stream (mode "r|*")."""
    with pytest.raises(Refused, match="header record"):
        read_all(gzip.compress(HOSTILE["pax record"]), mode="r|*")


def test_what_is_plain() -> None:
    link = tarfile.TarInfo("x")
    link.type = tarfile.SYMTYPE
    regular = tarfile.TarInfo("y")
    assert untrusted_tar.plain(regular) and not untrusted_tar.plain(link)
    assert untrusted_tar.kind(link) == "symbolic link"


# -- the guard: on a Python whose tarfile bypasses the overrides, no tar is read ------------


@pytest.fixture
def fresh_check() -> Iterator[None]:
    untrusted_tar.check_hooks.cache_clear()
    yield
    untrusted_tar.check_hooks.cache_clear()  # the real tarfile again: checked anew


def test_this_python_keeps_the_hooks(fresh_check: None) -> None:
    untrusted_tar.check_hooks()


def refused_python(monkeypatch: pytest.MonkeyPatch) -> str:
    """The one line a read through Header says, on the Python MONKEYPATCH made."""
    with pytest.raises(LabError) as caught:
        read_all(tar_of([("a", b"a")]))
    line = str(caught.value)
    assert "\n" not in line and "no bundle or hand-in" in line
    monkeypatch.undo()
    untrusted_tar.check_hooks.cache_clear()
    assert read_all(tar_of([("a", b"a")]))[0].name == "a", "the real tarfile reads again"
    return line


def test_a_hook_with_other_parameters(monkeypatch: pytest.MonkeyPatch, fresh_check: None) -> None:
    def _proc_member(self: tarfile.TarInfo, tar: tarfile.TarFile, dircheck: bool) -> None:
        raise AssertionError("never called")

    monkeypatch.setattr(tarfile.TarInfo, "_proc_member", _proc_member)
    assert "_proc_member takes (self, tar, dircheck)" in refused_python(monkeypatch)


def test_a_hook_that_is_gone(monkeypatch: pytest.MonkeyPatch, fresh_check: None) -> None:
    monkeypatch.delattr(tarfile.TarInfo, "_proc_gnusparse_10")
    assert "_proc_gnusparse_10 is gone" in refused_python(monkeypatch)


def test_a_tarfile_that_stops_calling_the_hook(
    monkeypatch: pytest.MonkeyPatch, fresh_check: None
) -> None:
    """The hook is there, as it was, but tarfile no longer calls a subclass's override."""
    proc_member = tarfile.TarInfo._proc_member

    def fromtarfile(cls: type[tarfile.TarInfo], tar: tarfile.TarFile) -> tarfile.TarInfo:
        buf = tar.fileobj.read(tarfile.BLOCKSIZE)
        obj = cls.frombuf(buf, tar.encoding, tar.errors)
        obj.offset = tar.fileobj.tell() - tarfile.BLOCKSIZE
        return proc_member(obj, tar)  # tarfile's own, not Header's

    monkeypatch.setattr(tarfile.TarInfo, "fromtarfile", classmethod(fromtarfile))
    assert "it read a header Header._proc_member refuses" in refused_python(monkeypatch)
