"""Writing a file whole or not at all: the one way the lab replaces a file it owns.

A page, a lock, a hand-in or a cache is written aside in its own folder (a hidden name no
one else picks), flushed to disk, then renamed over what was there: a reader sees the old
file or the new one, never half of one, and an interrupted or failed write leaves no file
behind. The rename replaces a link at PATH rather than writing through it.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Callable
from pathlib import Path
from typing import BinaryIO

from lab.errors import LabError

Content = str | bytes | Callable[[BinaryIO], None]


def write_atomically(
    path: Path,
    content: Content,
    *,
    mode: int = 0o644,
    check: Callable[[Path], None] | None = None,
) -> None:
    """PATH with CONTENT (text as UTF-8, bytes, or a function that writes to the file),
    whole or not at all; a failure is one line (LabError) and leaves nothing aside.
    CHECK, given the file aside once it is whole, may refuse it (raise) before it lands."""
    folder = path.parent if str(path.parent) else Path(".")
    aside = folder / f".{path.name}.{secrets.token_hex(4)}.partial"
    try:
        with open(aside, "xb") as out:
            write(out, content)
            out.flush()
            os.fsync(out.fileno())
        if check is not None:
            check(aside)
        os.chmod(aside, mode)
        os.replace(aside, path)
    except OSError as error:
        with contextlib.suppress(OSError):
            aside.unlink()
        raise LabError(f"cannot write {path}: {error.strerror or error}") from None
    except BaseException:  # an interrupt, or the writer's own error: no half file stays
        with contextlib.suppress(OSError):
            aside.unlink()
        raise


def write(out: BinaryIO, content: Content) -> None:
    if isinstance(content, str):
        out.write(content.encode("utf-8", errors="replace"))  # a lone surrogate is `?`
    elif isinstance(content, bytes):
        out.write(content)
    else:
        content(out)
