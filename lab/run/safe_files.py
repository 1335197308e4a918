"""Files the host writes where a container has written: never through a link it planted.

A run folder is lent to the container's user; whatever is in it when the host comes
back (links to /etc included) was made by the container. So the host reaches its
folders by descriptor, opened without following links, creates its files anew
(O_CREAT | O_EXCL | O_NOFOLLOW), refuses a folder holding a link that leaves it, and
hands back ownership with lchown, walking by descriptor.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import stat
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

from lab import untrusted
from lab.errors import LabError

DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW | os.O_CLOEXEC


def open_folder(parent_fd: int, name: str, *, create: bool, shown: Path) -> int:
    """A descriptor for PARENT/NAME, a real folder (not a link); made if CREATE."""
    if create:
        try:
            os.mkdir(name, 0o755, dir_fd=parent_fd)
        except FileExistsError:
            pass
        except OSError as error:
            raise LabError(f"results folder {shown} is not writable: {error.strerror}") from None
    try:
        return os.open(name, DIR_FLAGS, dir_fd=parent_fd)
    except OSError as error:
        if error.errno in (errno.ELOOP, errno.ENOTDIR):
            raise LabError(f"{shown} is not a folder (a file or a link): move it away") from None
        raise LabError(f"cannot open {shown}: {error.strerror}") from None


def open_root(path: Path) -> int:
    """The results folder itself (a link here is the learner's own choice), made if missing."""
    try:
        path.mkdir(parents=True, exist_ok=True)
        return os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except OSError as error:
        raise LabError(f"results folder {path} is not writable: {error.strerror}") from None


def write_new(dir_fd: int, name: str, data: str, *, shown: Path) -> None:
    """Create DIR/NAME with DATA; never through a link, never over what is there.

    A full disk or quota is one line, and the half-written file is removed."""
    payload = data.encode("utf-8", errors="replace")  # a lone surrogate is `?`, not a crash
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW | os.O_CLOEXEC
    try:
        fd = os.open(name, flags, 0o644, dir_fd=dir_fd)
    except FileExistsError:
        raise LabError(
            f"{shown / name} was already there: an experiment wrote it, and the lab keeps "
            "that name for its report; the run is not kept"
        ) from None
    except OSError as error:
        raise LabError(f"cannot write {shown / name}: {error.strerror}") from None
    try:
        _write_all(fd, payload)
    except OSError as error:  # ENOSPC, EDQUOT, EIO
        with contextlib.suppress(OSError):
            os.unlink(name, dir_fd=dir_fd)
        raise LabError(f"cannot write {shown / name}: {error.strerror}") from None


def read_regular(dir_fd: int, name: str, limit: int, *, one_name: bool = False) -> bytes:
    """DIR/NAME's bytes, where it is a regular file (not a link, a fifo or a device) of at
    most LIMIT bytes; else one line. What a container left in a run folder is read so.
    ONE_NAME: a hard link is refused too (the same file has a name elsewhere, so it need not
    be anything the run wrote). See untrusted.open_regular."""
    try:
        return untrusted.read_regular(name, limit, dir_fd=dir_fd, one_name=one_name)
    except LabError as why:
        raise LabError(f"{name}: {why}") from None


def _write_all(fd: int, payload: bytes) -> None:
    """PAYLOAD into FD, then FD closed (a quota can refuse at the close, on NFS)."""
    try:
        view = memoryview(payload)
        while view:
            view = view[os.write(fd, view) :]
    finally:
        os.close(fd)


def links_leaving(folder: Path, mounted_at: str = "") -> list[str]:
    """`path -> target` for each link under FOLDER that points outside it. An absolute link
    into MOUNTED_AT, where the container saw FOLDER, stays inside.

    Called when no container can write there any more, so the answer stays true.
    """
    root = os.path.realpath(folder)
    leaving = []

    def unreadable(error: OSError) -> None:
        raise LabError(f"{error.filename}: cannot be read ({error.strerror}); the run is not kept")

    walk = os.walk(folder, onerror=unreadable)
    for dirpath, dirnames, filenames in _deep_guard(walk, str(folder)):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            if os.path.islink(path):
                target = os.path.realpath(_as_host_path(path, mounted_at, root))
                if os.path.commonpath([root, target]) != root:
                    leaving.append(f"{os.path.relpath(path, folder)} -> {os.readlink(path)}")
    return leaving


def _as_host_path(link: str, mounted_at: str, root: str) -> str:
    """LINK itself, or, where it points absolutely into MOUNTED_AT, that target on the host."""
    target = os.readlink(link)
    if mounted_at and (target == mounted_at or target.startswith(mounted_at + "/")):
        return root + target[len(mounted_at) :]
    return link


def chown_tree(parent_fd: int, name: str, uid: int, gid: int, skip_suffix: str = "") -> None:
    """lchown PARENT/NAME and all under it, by descriptor: a link is changed, never followed.

    Folders whose name ends in SKIP_SUFFIX (another run's `.partial`) are left alone.
    """
    os.chown(name, uid, gid, dir_fd=parent_fd, follow_symlinks=False)
    walk = os.fwalk(name, dir_fd=parent_fd, follow_symlinks=False)
    for _, dirnames, filenames, dir_fd in _deep_guard(walk, name):
        if skip_suffix:
            dirnames[:] = [d for d in dirnames if not d.endswith(skip_suffix)]
        for entry in dirnames + filenames:
            with contextlib.suppress(FileNotFoundError):  # gone since the listing
                os.chown(entry, uid, gid, dir_fd=dir_fd, follow_symlinks=False)


# Folders deeper than this under a run's output are refused, on every Python: 3.11's walks
# recurse and would crash near 1000 levels, 3.12's are iterative and would go on (with
# paths growing past PATH_MAX); no experiment's output needs a fraction of it.
MAX_DEPTH = 256
TOO_DEEP = "an experiment nested folders too deep (over {} levels); the run is not kept"


def _deep_guard(walk: Iterator, top: str) -> Iterator:
    """WALK from TOP, with a folder nested past MAX_DEPTH (or past Python's recursion
    limit) as one line, not a crash or an endless walk."""
    try:
        for entry in walk:
            if entry[0][len(top) :].count(os.sep) > MAX_DEPTH:
                raise LabError(TOO_DEEP.format(MAX_DEPTH))
            yield entry
    except RecursionError:
        raise LabError(TOO_DEEP.format(MAX_DEPTH)) from None


def remove_tree(path: Path) -> None:
    """Remove PATH and all under it, links removed rather than followed. A folder a
    container made unreadable (mode 0, as the same user) is opened up and the walk goes
    again, a level a pass; one line if PATH still cannot go."""

    def open_up(function: Callable[..., object], failed: str, error: object) -> None:
        for folder in (os.path.dirname(failed), failed):
            with contextlib.suppress(OSError):
                if stat.S_ISDIR(os.lstat(folder).st_mode):
                    os.chmod(folder, 0o700)

    if os.path.islink(path):
        os.unlink(path)
        return
    for _ in range(100):
        try:
            if sys.version_info >= (3, 12):
                shutil.rmtree(path, onexc=open_up)
            else:
                shutil.rmtree(path, onerror=open_up)
        except RecursionError:  # folders nested past Python's limit: rm walks without recursing
            subprocess.run(["rm", "-rf", "--", str(path)], check=False)
        if not os.path.lexists(path):
            return
    raise LabError(f"{path} could not be removed: remove it by hand")


def tree_bytes(folder: Path, stop_at: int) -> int:
    """What FOLDER holds: apparent sizes, plus a block for each entry (a million empty
    files count too), never following a link. Stops counting past STOP_AT."""
    total, pending = 0, [str(folder)]
    while pending and total <= stop_at:
        with os.scandir(pending.pop()) as entries:
            for entry in entries:
                total += 4096 + entry.stat(follow_symlinks=False).st_size
                if entry.is_dir(follow_symlinks=False):
                    pending.append(entry.path)
    return total
