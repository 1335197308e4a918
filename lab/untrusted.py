"""What a container prints is untrusted: made safe before the host shows or keeps it.

An experiment can print any bytes: invalid UTF-8, terminal escape sequences, endless
lines, malformed or endless observations, NaN. Each becomes text that is safe on a
terminal and in JSON and Markdown, or a one-line note of what was dropped.
"""

from __future__ import annotations

import errno
import json
import math
import os
import re
import selectors
import stat
import subprocess
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from lab.errors import LabError

if TYPE_CHECKING:
    from _typeshed import FileDescriptorLike

MAX_TEXT = 2000  # characters of one line shown
MAX_SHOWN_LINES = 2000  # per experiment: the rest are counted, not shown
MAX_OBSERVATIONS = 2000  # per experiment: an endless stream must not fill the host's memory
MAX_VALUE_CHARS = 100_000  # an observation's JSON, parsed whole
MAX_OBSERVED_CHARS = 5_000_000  # all of one experiment's observations (5 MB)
MAX_DEPTH = 20  # lists and objects inside an observation's value: no recursion past it
MAX_INT = 2**63  # an observation's integer, either sign: a 64-bit count
# A line as the host takes it from a container: an observation's marker and JSON, whole.
MAX_LINE_CHARS = MAX_VALUE_CHARS + 1000
# C0 and C1 controls (escape sequences start with ESC or CSI), DEL, and Unicode's bidi
# overrides, which can make a terminal line read differently from what it holds.
CONTROL = re.compile(r"[\x00-\x08\x0a-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]")
# Lone surrogates: a file name that is not UTF-8 (os.listdir's surrogateescape), or a
# JSON "\ud800". No UTF-8 writer can encode them.
SURROGATE = re.compile(r"[\ud800-\udfff]")


class Malformed(ValueError):
    """An observation line that cannot be taken in; the message says why, in a few words."""


def text(raw: bytes | str, limit: int = MAX_TEXT) -> str:
    """RAW as one printable line: decoded leniently, controls shown as `?`, cut at LIMIT."""
    if isinstance(raw, bytes):
        raw = raw.decode("utf-8", errors="replace")
    clean = SURROGATE.sub("\ufffd", CONTROL.sub("?", raw.expandtabs(4)))
    return clean if len(clean) <= limit else clean[: limit - 1] + "…"


def _no_constants(name: str) -> Any:
    raise Malformed(f"{name} is not a number JSON can hold")


def measured(value: Any, depth: int = 0) -> Any:
    """VALUE as a measurement may be: every float finite (json also parses 1e999 as inf),
    every integer within 64 bits (Python's int-to-text refuses past 4,300 digits, and no
    experiment counts that far), lone surrogates replaced, and its nesting bounded: what
    keeps it (asdict, json.dumps) recurses, and must not run out. The run's collector and
    the report's model (a hand-in's observations) both take values through it."""
    if isinstance(value, float) and not math.isfinite(value):
        raise Malformed(f"{value} is not a number JSON can hold")
    if isinstance(value, int) and not -MAX_INT <= value < MAX_INT:
        raise Malformed("a number too big for a measurement")
    if isinstance(value, str):  # "\ud800": no UTF-8 reader of report.json could take it
        return SURROGATE.sub("\ufffd", value)
    if isinstance(value, (list, dict)) and depth >= MAX_DEPTH:
        raise Malformed(f"nested deeper than {MAX_DEPTH} levels")
    if isinstance(value, list):
        return [measured(v, depth + 1) for v in value]
    if isinstance(value, dict):
        return {text(k, 200): measured(v, depth + 1) for k, v in value.items()}
    return value


def observation(payload: str) -> dict:
    """The record after the marker: {"name": str, "value": JSON, "unit": str}, or Malformed."""
    if len(payload) > MAX_VALUE_CHARS:
        raise Malformed(f"longer than {MAX_VALUE_CHARS:,} characters")
    try:
        record = json.loads(payload, parse_constant=_no_constants)
    except (ValueError, RecursionError) as error:
        raise Malformed(f"not JSON ({text(str(error), 80)})") from None
    if not isinstance(record, dict):
        raise Malformed(f"a JSON {type(record).__name__}, not an object")
    if not {"name", "value"} <= record.keys() or not record.keys() <= {"name", "value", "unit"}:
        raise Malformed(f"keys {sorted(record)}, not name, value and unit")
    name, unit = record["name"], record.get("unit", "")
    if not isinstance(name, str) or not re.fullmatch(r"[A-Za-z0-9_.-]{1,100}", name):
        raise Malformed("its name is not a short word (letters, digits, _ . -)")
    if not isinstance(unit, str):
        raise Malformed("its unit is not a string")
    return {"name": name, "value": measured(record["value"]), "unit": text(unit, 100)}


READING_STATUSES = {"found", "moved", "missing", "document"}
# A reading entry, as the resolver's answer is cut here and as a report.json's ReadingEntry
# (lab/run/report_model.py) bounds it: one number each, so the run's own entry always fits.
MAX_NAME_CHARS = 200  # its tree, path or symbol (and a file's name a report lists)
READING_NAMES = ("tree", "path", "symbol")
MAX_EXCERPT_LINES = 50  # its excerpt or context (the resolver sends 30 and 7 lines)


def reading(asked: list[dict], raw: bytes) -> list[dict]:
    """The reading resolver's answer, checked: one entry per entry asked, strings only."""
    try:
        resolved = json.loads(raw)
    except ValueError:
        raise LabError("the reading resolver's answer is not JSON") from None
    if not isinstance(resolved, list) or len(resolved) != len(asked):
        raise LabError("the reading resolver answered a different number of entries")
    return [_reading_entry(entry) for entry in resolved]


def _reading_entry(entry: object) -> dict:
    if not isinstance(entry, dict) or entry.get("status") not in READING_STATUSES:
        raise LabError("the reading resolver's answer has an entry without a known status")
    clean: dict = {}
    for key, value in entry.items():
        if isinstance(value, str):
            clean[text(key, 40)] = text(value, MAX_NAME_CHARS if key in READING_NAMES else MAX_TEXT)
        elif isinstance(value, list) and all(isinstance(v, str) for v in value):
            clean[text(key, 40)] = [text(v) for v in value[:MAX_EXCERPT_LINES]]
    return clean


# -- files and commands whose bytes come from elsewhere (a bundle, a lock, another machine) --

MAX_STDERR = 64 * 1024  # what is kept of a command's stderr: enough for its last line


def open_regular(
    name: str | Path,
    *,
    dir_fd: int | None = None,
    follow_links: bool = False,
    one_name: bool = False,
) -> BinaryIO:
    """NAME (in the folder DIR_FD), open to read, where it is a regular file; else one line
    of why, without the name (the caller says which file). A device, a fifo or a folder is
    refused unread: /dev/zero never ends, a fifo blocks (O_NONBLOCK: not even at the open).
    A link is refused, not followed (one planted where someone else writes leads anywhere),
    unless FOLLOW_LINKS. ONE_NAME: a hard link is refused too, on the file opened: it has a
    name elsewhere, so it need not be what was written here. The one way the lab opens it."""
    flags = os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC | (0 if follow_links else os.O_NOFOLLOW)
    try:
        fd = os.open(name, flags, dir_fd=dir_fd)
    except OSError as error:
        if error.errno == errno.ELOOP and not follow_links:  # O_NOFOLLOW met a link
            raise LabError("a link, not followed") from None
        raise LabError(f"cannot read it ({error.strerror})") from None
    info = os.fstat(fd)
    why = "" if stat.S_ISREG(info.st_mode) else "not a regular file"
    if not why and one_name and info.st_nlink > 1:
        why = f"a hard link ({info.st_nlink} names): the file has a name elsewhere"
    if why:
        os.close(fd)
        raise LabError(why)
    return os.fdopen(fd, "rb")


def read_regular(
    name: str | Path,
    limit: int,
    *,
    dir_fd: int | None = None,
    follow_links: bool = False,
    one_name: bool = False,
) -> bytes:
    """NAME's bytes, where open_regular() opens it and it holds at most LIMIT; else one line
    of why, without the name."""
    with open_regular(name, dir_fd=dir_fd, follow_links=follow_links, one_name=one_name) as file:
        try:
            data = file.read(limit + 1)
        except OSError as error:  # EIO on a failing disk, say: one line, as the open's
            raise LabError(f"cannot read it ({error.strerror})") from None
    if len(data) > limit:
        raise LabError(f"over {limit:,} bytes")
    return data


def regular_file(path: Path, limit: int) -> bytes:
    """PATH's bytes, where it is a regular file of at most LIMIT bytes; else one line naming
    it. A link to one is followed: a lock or a weights file is where its owner put it."""
    try:
        return read_regular(path, limit, follow_links=True)
    except LabError as why:
        raise LabError(f"{path}: {why}") from None


def json_value(data: bytes, source: str) -> Any:
    """DATA as JSON, or one line naming SOURCE: not UTF-8, not JSON, NaN, or nested so deep
    that the parser would recurse out of its stack."""
    try:
        return json.loads(data.decode("utf-8"), parse_constant=_no_constants)
    except UnicodeDecodeError:
        raise LabError(f"{source} is not UTF-8 text") from None
    except RecursionError:
        raise LabError(f"{source} nests too deep to be JSON the lab wrote") from None
    except ValueError as error:
        raise LabError(f"{source} is not JSON ({text(str(error), 80)})") from None


def json_file(path: Path, limit: int) -> Any:
    """The JSON in PATH, a regular file of at most LIMIT bytes; one line for anything else."""
    return json_value(regular_file(path, limit), str(path))


def run_bounded(argv: list[str], limit: int, timeout: float, what: str) -> tuple[int, bytes, bytes]:
    """Run ARGV, whose output is untrusted: (exit code, stdout, stderr's first 64 KiB).
    More than LIMIT bytes on stdout, or a run past TIMEOUT seconds, kills it: one line."""
    with subprocess.Popen(
        argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    ) as process:
        try:
            out, err = _collect(process, limit, time.monotonic() + timeout, what, timeout)
            process.wait(max(0.1, timeout))
        except subprocess.TimeoutExpired:
            raise LabError(f"{what} took over {timeout:.0f} s") from None
        finally:
            if process.poll() is None:
                process.kill()
    return process.returncode, out, err


def _collect(
    process: subprocess.Popen[bytes], limit: int, deadline: float, what: str, timeout: float
) -> tuple[bytes, bytes]:
    """Read both pipes as they fill: stdout up to LIMIT, stderr's head (its rest dropped)."""
    stdout, stderr = process.stdout, process.stderr
    assert stdout is not None and stderr is not None  # both PIPEs
    kept: dict[FileDescriptorLike, bytearray] = {stdout: bytearray(), stderr: bytearray()}
    with selectors.DefaultSelector() as selector:
        for stream in kept:
            selector.register(stream, selectors.EVENT_READ)
        while selector.get_map():
            left = deadline - time.monotonic()
            if left <= 0:
                raise LabError(f"{what} took over {timeout:.0f} s")
            for key, _ in selector.select(left):
                chunk = os.read(key.fd, 65536)
                if not chunk:
                    selector.unregister(key.fileobj)
                    continue
                _keep(kept[key.fileobj], chunk, key.fileobj is stdout, limit, what)
    return bytes(kept[stdout]), bytes(kept[stderr])


def _keep(buffer: bytearray, chunk: bytes, is_stdout: bool, limit: int, what: str) -> None:
    if is_stdout:
        buffer += chunk
        if len(buffer) > limit:
            raise LabError(f"{what} is over {limit} bytes: not what the lab wrote")
    elif len(buffer) < MAX_STDERR:
        buffer += chunk[: MAX_STDERR - len(buffer)]
