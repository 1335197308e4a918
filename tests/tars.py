"""Tar files made in a test: a bundle's parts, a `docker save`, an image layer."""

from __future__ import annotations

import io
import tarfile


def tar_of(members: list) -> bytes:
    """A tar of MEMBERS: (name, bytes), a TarInfo with no data, or (TarInfo, bytes)."""
    out = io.BytesIO()
    with tarfile.open(fileobj=out, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for member in members:
            info, data = (member, b"") if isinstance(member, tarfile.TarInfo) else member
            if isinstance(info, str):
                info = tarfile.TarInfo(info)
            if info.isreg():
                info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return out.getvalue()


def sparse_header(name: str, size: int) -> bytes:
    """A GNU sparse member's header: SIZE bytes of zeros that take no room in the tar."""
    info = tarfile.TarInfo(name)
    info.type, info.size = tarfile.GNUTYPE_SPARSE, 0
    block = bytearray(info.tobuf(format=tarfile.GNU_FORMAT))
    block[483:495] = b"%011o\0" % size  # realsize
    block[148:156] = b" " * 8
    block[148:156] = b"%06o\0 " % sum(block[:512])
    return bytes(block)
