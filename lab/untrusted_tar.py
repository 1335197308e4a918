"""Reading a tar that came from elsewhere (a bundle off a USB stick, a student's hand-in):
every header bounded, only plain files read, each refusal one line.

tarfile reads a pax or GNU long-name record whole into memory before its caller sees the
member it describes (a record may claim gigabytes), and a GNU 1.0 sparse member's map too.
Header caps the records where tarfile decides how to read a header, TarInfo._proc_member
(tarfile's own comment names it the entry point a subclass overrides), and refuses the
sparse maps in TarInfo._proc_gnusparse_10. Both are private: a future Python may rename
them, change their arguments or stop calling them, and Header would then read unbounded
headers without a word. So before the first header a process reads, check_hooks() makes
sure they still hold: both methods exist with the parameters Header's overrides take, and
tarfile really calls them (two tiny tars, each of which one hook must refuse, are read).
If not, reading any tar through Header is one LabError line naming this Python, and no
untrusted tar is read. tests/unit/test_untrusted_tar.py shows the same on the Python that
runs the tests. The check runs from fromtarfile, the documented classmethod by which
TarFile reads each header, not at import: tasks.py imports this module for every task, and
only a task that reads a tar should stop.
"""

from __future__ import annotations

import functools
import inspect
import io
import platform
import tarfile
from collections.abc import Callable
from typing import IO, TYPE_CHECKING

from lab import untrusted
from lab.errors import LabError

if TYPE_CHECKING:
    from typing_extensions import Self

HEADER_LIMIT = 64 << 10  # a pax or GNU long-name record, which tarfile reads whole
EXTENDED_HEADERS = (
    tarfile.XHDTYPE,
    tarfile.XGLTYPE,
    tarfile.SOLARIS_XHDTYPE,
    tarfile.GNUTYPE_LONGNAME,
    tarfile.GNUTYPE_LONGLINK,
)
KINDS = {
    tarfile.DIRTYPE: "folder",
    tarfile.SYMTYPE: "symbolic link",
    tarfile.LNKTYPE: "hard link",
    tarfile.FIFOTYPE: "fifo",
    tarfile.CHRTYPE: "device",
    tarfile.BLKTYPE: "device",
}
# tarfile's private methods Header overrides, with the parameters tarfile calls them with.
HOOKS = {
    "_proc_member": ("self", "tarfile"),
    "_proc_gnusparse_10": ("self", "next", "pax_headers", "tarfile"),
}


class Refused(tarfile.TarError):
    """A tar member refused for its kind or size before tarfile reads it (the one line)."""


class Header(tarfile.TarInfo):
    """A tar header whose extended records (pax, GNU long names), which tarfile reads whole
    into memory, are capped; sparse members, whose maps it also reads whole, are refused.
    Read with it: tarfile.open(..., tarinfo=Header)."""

    @classmethod
    def fromtarfile(cls, tar: tarfile.TarFile) -> Self:
        check_hooks()  # once a process; see the module's docstring
        return super().fromtarfile(tar)

    def _proc_member(self, tar: tarfile.TarFile) -> tarfile.TarInfo:
        if self.type in EXTENDED_HEADERS and self.size > HEADER_LIMIT:
            raise Refused(f"a tar header record of {self.size:,} bytes (over {HEADER_LIMIT:,})")
        if self.type == tarfile.GNUTYPE_SPARSE:
            raise Refused(f"{untrusted.text(self.name, 100)} is a sparse member, not a plain file")
        return super()._proc_member(tar)  # type: ignore[misc]  # private: see check_hooks

    def _proc_gnusparse_10(self, member: tarfile.TarInfo, pax_headers: dict, tar: object) -> None:
        raise Refused(f"{untrusted.text(member.name, 100)} is a sparse member, not a plain file")


def plain(member: tarfile.TarInfo) -> bool:
    """MEMBER is a regular file, not sparse: the only kind the lab reads from a tar."""
    return member.type in (tarfile.REGTYPE, tarfile.AREGTYPE) and member.sparse is None


def kind(member: tarfile.TarInfo) -> str:
    """What MEMBER is, in a word, for the line that refuses it."""
    return KINDS.get(member.type, "special member")


def member_file(tar: tarfile.TarFile, member: tarfile.TarInfo) -> IO[bytes]:
    """MEMBER's bytes, to read, where it is a plain file; any other kind is Refused (for a
    folder tarfile.extractfile gives None, and a link it follows to another member)."""
    stream = tar.extractfile(member) if plain(member) else None
    if stream is None:
        raise Refused(f"{untrusted.text(member.name, 100)} is a {kind(member)}, not a plain file")
    return stream


# -- the guard: Header's overrides are in effect on this Python ----------------------------


class _Unchecked(Header):
    """Header without the check: what the check reads its probes with."""

    @classmethod
    def fromtarfile(cls, tar: tarfile.TarFile) -> Self:
        return super(Header, cls).fromtarfile(tar)


def _huge_record() -> bytes:
    """A pax header claiming a record over HEADER_LIMIT (and holding none): _proc_member's."""
    info = tarfile.TarInfo("probe")
    info.type, info.size = tarfile.XHDTYPE, HEADER_LIMIT + 1
    return info.tobuf(tarfile.USTAR_FORMAT)


def _sparse_map() -> bytes:
    """A member in GNU 1.0 sparse format, its map missing: _proc_gnusparse_10's."""
    info = tarfile.TarInfo("probe")
    info.pax_headers = {"GNU.sparse.major": "1", "GNU.sparse.minor": "0"}
    return info.tobuf(tarfile.PAX_FORMAT)


PROBES: dict[str, Callable[[], bytes]] = {
    "_proc_member": _huge_record,
    "_proc_gnusparse_10": _sparse_map,
}


@functools.cache
def check_hooks() -> None:
    """Header's overrides are what tarfile calls, as it calls them; else one LabError line."""
    for name, expected in HOOKS.items():
        method = getattr(tarfile.TarInfo, name, None)
        found = tuple(inspect.signature(method).parameters) if callable(method) else None
        if found != expected:
            taking = f"takes ({', '.join(found)})" if found else "is gone"
            raise _changed(f"TarInfo.{name} {taking}, not ({', '.join(expected)})")
    for name, probe in PROBES.items():
        if not _refused(probe()):
            raise _changed(f"it read a header Header.{name} refuses")


def _refused(data: bytes) -> bool:
    """DATA, read through Header's overrides, is refused (as it must be)."""
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:", tarinfo=_Unchecked) as tar:
            tar.getmembers()
    except Refused:
        return True
    except Exception:  # any other outcome: the override was not called
        return False
    return False


def _changed(what: str) -> LabError:
    return LabError(
        f"this Python's tarfile ({platform.python_version()}) no longer reads tar headers the "
        f"way lab/untrusted_tar.py bounds them ({what}): the lab reads no bundle or hand-in "
        "with it; run it with a Python its unit tests pass on, and report this"
    )
