"""A reading excerpt on the page: coloured by a lexer the lab chooses, within bounds, and
validated, since a hand-in's report.json (re-drawn on the class page) can hold anything."""

from __future__ import annotations

import re
import sys
import time
from pathlib import Path

import pytest

from lab.config import STATIONS_DIR
from lab.run import excerpts, stations

sys.path.insert(0, str(STATIONS_DIR / "_lib"))
from labkit.reading import SOURCE_SUFFIXES

# A line of each kind the lab reads, and a token class Pygments gives it there.
SAMPLES = {
    ".c": ("static int\nfind(void)\n{", "kt"),  # Keyword.Type
    ".h": ("typedef struct _frame { int x; } Frame;", "k"),
    ".cpp": ("template <typename T> class Node {};", "k"),
    ".hpp": ("namespace at { class Tensor; }", "k"),
    ".cu": ("__global__ void add(float *x) {}", "kt"),
    ".cuh": ("__device__ int lane(void);", "kt"),
    ".py": ("def run_forever(self):\n    return None", "k"),
    ".pyx": ("cdef class Loop:\n    pass", "k"),
    ".pxd": ("cdef class Loop:\n    pass", "k"),
}


def entry(lines: list, start: object = "10", at: object = None, path: str = "Python/x.c") -> dict:
    return {
        "status": "found",
        "path": path,
        "at": f"/usr/src/cpython/{path}:12" if at is None else at,
        "excerpt_start": start,
        "excerpt": lines,
    }


def token_classes(html: str) -> set[str]:
    """The Pygments token classes in HTML (the line numbers and the mark left out)."""
    return set(re.findall(r'<span class="([^"]+)"', html)) - {"linenos", "hll"}


def marked_line(html: str) -> str:
    """The text of the marked line (its number first), without the colouring's tags."""
    return re.sub(r"<[^>]+>", "", html.split('<span class="hll">', 1)[1].split("\n", 1)[0])


@pytest.fixture(autouse=True)
def empty_cache() -> None:
    excerpts._coloured.cache_clear()  # a test counts what is coloured


@pytest.mark.parametrize("suffix", sorted(SAMPLES))
def test_the_lab_s_own_sources_are_coloured(suffix: str) -> None:
    text, token = SAMPLES[suffix]
    html = str(excerpts.excerpt_html(entry(text.splitlines(), path=f"src/x{suffix}")))
    assert token in token_classes(html)


def test_every_suffix_the_resolver_reads_is_coloured() -> None:
    assert set(SAMPLES) >= set(excerpts.LEXERS) >= SOURCE_SUFFIXES
    read = {Path(e["path"]).suffix for s in stations.scan()[0] for e in s.reading if "path" in e}
    assert read <= set(SAMPLES)


def test_a_slow_lexer_s_suffix_is_plain_text_and_quick() -> None:
    # Pygments' Fantom lexer (.fan) takes about a second on one 2,000-character line.
    small = excerpts.excerpt_html(entry(["class A { Void f() {} }"], path="x.fan"))
    assert small is not None and token_classes(str(small)) == set()
    lines = ["a" * 2000] * excerpts.MAX_SHOWN_LINES  # the most a hand-in's excerpt holds
    started = time.perf_counter()
    html = excerpts.excerpt_html(entry(lines, path="x.fan"))
    assert time.perf_counter() - started < 2  # generous: bounded work takes milliseconds
    assert html is not None and token_classes(str(html)) == set()


def test_an_excerpt_past_the_bounds_is_plain_text() -> None:
    code = "static int x = 1;"
    within = [code] * excerpts.MAX_LINES
    assert token_classes(str(excerpts.excerpt_html(entry(within)))) != set()
    too_many = [code] * (excerpts.MAX_LINES + 1)
    too_long = [code, "int y = 2; // " + "x" * excerpts.MAX_LINE_CHARS]
    wide = "int y = 2; //".ljust(excerpts.MAX_LINE_CHARS, "x")
    too_much = [code] + [wide] * (excerpts.MAX_CHARS // excerpts.MAX_LINE_CHARS)
    assert len(too_much) <= excerpts.MAX_LINES
    for lines in (too_many, too_long, too_much):
        html = str(excerpts.excerpt_html(entry(lines)))
        assert token_classes(html) == set()
        assert "static int x = 1;" in html  # still shown, numbered, as text


def test_the_work_on_a_huge_excerpt_is_bounded() -> None:
    html = str(excerpts.excerpt_html(entry(["x" * 1_000_000] * 5_000)))
    assert len(html) < 2_000_000


@pytest.mark.parametrize(
    "start", [["10"], {"line": "10"}, "²", "١٢", "10 ", "", "-3", "0", "12345678", 10, None]
)
def test_a_start_that_is_not_a_plain_number_is_no_excerpt(start: object) -> None:
    assert excerpts.excerpt_html(entry(["int x;"], start=start)) is None


@pytest.mark.parametrize(
    "at", [["Python/x.c:12"], {"x": 1}, "Python/x.c:²", "Python/x.c:", "Python/x.c", 12, None]
)
def test_an_at_without_a_plain_line_number_is_no_excerpt(at: object) -> None:
    got = {**entry(["int x;"]), "at": at}
    assert excerpts.excerpt_html(got) is None


@pytest.mark.parametrize("lines", [[1, 2], ["int x;", None], "int x;", {"a": "b"}, [], None])
def test_lines_that_are_not_a_list_of_strings_are_no_excerpt(lines: object) -> None:
    assert excerpts.excerpt_html(entry(lines)) is None


def test_the_marked_line_is_numbered_and_escaped() -> None:
    lines = [f"line {n}" for n in range(10, 20)]
    lines[2] = "int f(void) /* <b>not bold</b> */"
    html = str(excerpts.excerpt_html(entry(lines)))
    assert marked_line(html) == "12int f(void) /* &lt;b&gt;not bold&lt;/b&gt; */"
    assert "&lt;b&gt;" in html and "<b>" not in html


def test_a_line_break_inside_a_line_does_not_shift_the_numbers() -> None:
    lines = ["int a;\nint b;", "int c;"]
    html = str(excerpts.excerpt_html(entry(lines, start="10", at="x.c:11")))
    assert marked_line(html) == "11int c;"


def test_the_same_excerpt_is_coloured_once(monkeypatch) -> None:
    calls = []
    real = excerpts.highlight
    monkeypatch.setattr(excerpts, "highlight", lambda *a: calls.append(1) or real(*a))
    lines = ["static int shared_by_the_class;"] * 3
    first = excerpts.excerpt_html(entry(lines))
    second = excerpts.excerpt_html(dict(entry(lines)))
    assert first == second and len(calls) == 1
