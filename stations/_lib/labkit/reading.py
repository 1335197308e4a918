"""Resolve a station's reading list to `path:line` inside the image's source trees.

Runs inside a container (the trees are there): JSON entries on stdin, JSON out.
Nothing is typed in by line number: each symbol is found in the actual file, and where
the curriculum's path no longer holds it (the code moved in the pinned version), the
whole tree is searched and the new place reported.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

TREES = {
    "cpython": "/usr/src/cpython",
    "numpy": "/usr/src/packages/numpy",
    "uvloop": "/usr/src/packages/uvloop",
    "pytorch": "/usr/src/pytorch",
    "vllm": "/usr/src/vllm",
}
SOURCE_SUFFIXES = {".c", ".h", ".py", ".pyx", ".pxd", ".cpp", ".cu", ".cuh", ".hpp"}
C_SUFFIXES = {".c", ".h", ".cpp", ".cu", ".cuh", ".hpp"}
CONTEXT_LINES = 3
# The station page's excerpt: the definition's line with a few lines above it for its
# comment, and most of a screen below.
EXCERPT_BEFORE, EXCERPT_LINES = 6, 30


def definition_patterns(symbol: str, c_like: bool = True) -> list[re.Pattern[str]]:
    """Where SYMBOL is *defined*, in the styles these trees use, most specific first. In a
    Python or Cython file the C styles are left out: `PyBacktrace()` at column 0 there is a
    call (Tools/gdb/libpython.py registers its commands so), not a definition."""
    name = re.escape(symbol)
    if not c_like:
        return [p for p in definition_patterns(symbol) if p.pattern not in _c_only(name)]
    return [
        re.compile(rf"^{name}\s*\("),  # C function, CPython style: name at column 0
        re.compile(rf"^(?:typedef\s+)?struct\s+{name}\s*\{{"),  # C struct
        # C++ struct or class, with an export macro and bases: `struct TORCH_API Node : ...`
        re.compile(rf"^(?:struct|class)\s+(?:[A-Z_]+\s+)?{name}\s*[:{{]"),
        re.compile(rf"^}}\s*{name}\s*;"),  # end of a typedef'd struct
        # a static inline function comes before a macro: CPython often wraps one in the other
        re.compile(rf"^static\s+inline\b.*\b{name}\s*\("),
        re.compile(rf"^#\s*define\s+{name}\b"),  # macro
        re.compile(rf"^\s*(?:inst|op|macro|family)\(\s*{name}\b"),  # bytecodes.c DSL
        re.compile(rf"^\s*(?:async\s+)?def\s+{name}\b"),  # Python function
        re.compile(rf"^\s*(?:cdef\s+)?class\s+{name}\b"),  # Python / Cython class
        re.compile(rf"^\s*c?p?def\s+(?:inline\s+)?(?:\w+\s+)*{name}\s*\("),  # Cython cdef
        # C function with its return type on the same line (not a comment or a call)
        re.compile(rf"^(?![/*#])\S.*\b{name}\s*\([^;]*$"),
    ]


def find_in_file(path: Path, symbol: str) -> int | None:
    """1-based line of SYMBOL's definition in PATH (Class.method for methods)."""
    lines = path.read_text(errors="replace").splitlines()
    c_like = path.suffix in C_SUFFIXES
    start = 0
    if "." in symbol:  # Class.method: find the class, then the method after it
        owner, symbol = symbol.rsplit(".", 1)
        start = next((i for i, line in enumerate(lines) if _matches(line, owner, c_like)), None)
        if start is None:
            return None
    for pattern in definition_patterns(symbol, c_like):  # the most specific pattern wins
        for i in range(start, len(lines)):
            if pattern.search(lines[i]) and not (c_like and is_c_prototype(lines, i)):
                return i + 1
    return None


def is_c_prototype(lines: list[str], first: int) -> bool:
    """A C function declared, not defined: it ends in `;` before any `{`."""
    if lines[first].lstrip().startswith("#") or "(" not in lines[first]:
        return False  # a macro, a struct or a typedef's closing line
    for line in lines[first : first + 10]:
        code = line.split("//")[0].rstrip()
        if "{" in code:
            return False
        if code.endswith(";"):
            return True
    return False


def _c_only(name: str) -> set[str]:
    """The patterns of a C function's definition (name at column 0, or after its type)."""
    return {rf"^{name}\s*\(", rf"^(?![/*#])\S.*\b{name}\s*\([^;]*$"}


def _matches(line: str, symbol: str, c_like: bool = True) -> bool:
    return any(p.search(line) for p in definition_patterns(symbol, c_like))


def search_tree(root: Path, symbol: str, prefer_suffix: str) -> tuple[Path, int] | None:
    """Where in the tree SYMBOL is defined, preferring files like the named one."""
    candidates = sorted(
        (p for p in root.rglob("*") if p.suffix in SOURCE_SUFFIXES and p.is_file()),
        key=lambda p: (p.suffix != prefer_suffix, "test" in p.parts, len(p.parts), str(p)),
    )
    for path in candidates:
        line = find_in_file(path, symbol)
        if line:
            return path, line
    return None


def context(path: Path, line: int) -> list[str]:
    lines = path.read_text(errors="replace").splitlines()
    first = max(line - 1, 0)
    return [f"{n + 1:>6}  {lines[n]}" for n in range(first, min(first + CONTEXT_LINES, len(lines)))]


def excerpt(path: Path, line: int) -> dict:
    """The lines around LINE, raw, for the page to number and colour: the first line's
    number (a string: the host keeps strings only) and the lines themselves."""
    lines = path.read_text(errors="replace").splitlines()
    first = max(line - 1 - EXCERPT_BEFORE, 0)
    return {"excerpt_start": str(first + 1), "excerpt": lines[first : first + EXCERPT_LINES]}


def resolve(entry: dict, trees: dict[str, str] = TREES) -> dict:
    """One reading entry -> where it is: found, moved, or missing (and why)."""
    if "url" in entry:  # a document outside the trees (PEP, paper, blog post)
        return {**entry, "status": "document"}
    root = Path(trees[entry["tree"]])
    named = root / entry["path"]
    symbol = entry.get("symbol")
    if not root.is_dir():
        return {**entry, "status": "missing", "note": f"tree {entry['tree']} is not in this image"}
    if named.is_file() and not symbol:
        return {
            **entry,
            "status": "found",
            "at": f"{named}:1",
            "context": context(named, 1),
            **excerpt(named, 1),
        }
    line = find_in_file(named, symbol) if named.is_file() and symbol else None
    if line:
        return {
            **entry,
            "status": "found",
            "at": f"{named}:{line}",
            "context": context(named, line),
            **excerpt(named, line),
        }
    hit = search_tree(root, symbol, named.suffix) if symbol else None
    if hit is None:
        return {
            **entry,
            "status": "missing",
            "note": f"{symbol or entry['path']} not found in {root}",
        }
    path, line = hit
    why = "that file is gone" if not named.is_file() else f"{symbol} is not defined there"
    return {
        **entry,
        "status": "moved",
        "at": f"{path}:{line}",
        "context": context(path, line),
        **excerpt(path, line),
        "note": f"the curriculum says {entry['path']}, but in this version {why}",
    }


def main() -> None:
    entries = json.load(sys.stdin)
    json.dump([resolve(e) for e in entries], sys.stdout)


if __name__ == "__main__":
    main()
