"""A reading entry's excerpt as the page shows it: numbered, its line marked, coloured.

The entry comes from a report.json, which on the class page is a student's hand-in: any
JSON. So the lab, not the file, picks the lexer (one of the few its own source trees
need, by suffix: Pygments' choice by file name reaches lexers that take a second a line),
only a small excerpt is coloured, and a line number that is not plain digits is no excerpt.
Many students hand in the same excerpts: each is coloured once.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import PurePosixPath

from markupsafe import Markup
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexer import Lexer
from pygments.lexers import (
    CLexer,
    CppLexer,
    CudaLexer,
    CythonLexer,
    PythonLexer,
    TextLexer,
)

from lab import untrusted

# The suffixes the reading resolver reads (labkit.reading.SOURCE_SUFFIXES); the rest is text.
LEXERS: dict[str, type[Lexer]] = {
    ".c": CLexer,
    ".h": CLexer,
    ".cpp": CppLexer,
    ".hpp": CppLexer,
    ".cu": CudaLexer,
    ".cuh": CudaLexer,
    ".py": PythonLexer,
    ".pyx": CythonLexer,
    ".pxd": CythonLexer,
}
# What is coloured: the resolver sends 30 lines of source (in CPython's tree at most 3,756
# characters, and 3 windows in 29,000 with a line over 300). Even these lexers cost up to
# ~20 µs a character on a made-up line, so an excerpt past any bound is shown whole but as
# plain text (linear), not cut: what it holds stays readable.
MAX_LINES = 60
MAX_LINE_CHARS = 300
MAX_CHARS = 6_000  # all lines together: colouring them costs at most ~0.1 s
# What is shown at all: what a report may hold of an excerpt (report_model); past it, cut.
MAX_SHOWN_LINES = untrusted.MAX_EXCERPT_LINES
LINE_NUMBER = re.compile(r"[0-9]{1,7}")  # ASCII only: "²".isdigit(), but int("²") fails
CACHED = 512  # excerpts: a class's lab has ~70; one is at most MAX_LINES x MAX_LINE_CHARS


def excerpt_html(entry: dict) -> Markup | None:
    """The lines around the entry's line, numbered and coloured, its line marked; None
    where the entry has no excerpt, or one whose numbers or lines are not what they should be."""
    lines, start, at = entry.get("excerpt"), entry.get("excerpt_start"), entry.get("at")
    if not isinstance(at, str) or not isinstance(lines, list) or not lines:
        return None
    path, _, line = at.rpartition(":")
    first, line_number = _number(start), _number(line)
    if first is None or line_number is None or not all(isinstance(x, str) for x in lines):
        return None
    marked = line_number - first + 1
    if _too_big(lines):
        shown = tuple(_one_line(x) for x in lines[:MAX_SHOWN_LINES])
        return _html(TextLexer, first, marked, shown)
    lexer = LEXERS.get(PurePosixPath(path).suffix.lower(), TextLexer)
    return _coloured(lexer, first, marked, tuple(_one_line(x) for x in lines))


def _too_big(lines: list[str]) -> bool:
    return (
        len(lines) > MAX_LINES
        or any(len(x) > MAX_LINE_CHARS for x in lines)
        or sum(map(len, lines)) > MAX_CHARS
    )


def _number(value: object) -> int | None:
    """A 1-based line number written as plain ASCII digits, or None."""
    if not isinstance(value, str) or not LINE_NUMBER.fullmatch(value):
        return None
    return int(value) or None


def _one_line(line: str) -> str:
    # Cut before cleaning (a line can be megabytes); a line break inside it would shift
    # every number below, so it shows as `?`.
    return untrusted.text(line[: untrusted.MAX_TEXT + 1])


@lru_cache(maxsize=CACHED)
def _coloured(lexer: type[Lexer], first: int, marked: int, lines: tuple[str, ...]) -> Markup:
    return _html(lexer, first, marked, lines)


def _html(lexer: type[Lexer], first: int, marked: int, lines: tuple[str, ...]) -> Markup:
    formatter = HtmlFormatter(linenos="inline", linenostart=first, hl_lines=[marked], wrapcode=True)
    # Pygments escapes the source as it colours it: the result is markup the lab made.
    return Markup(highlight("\n".join(lines) + "\n", lexer(stripnl=False), formatter))
