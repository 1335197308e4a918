"""A station run as one self-contained page (report.html), and results/index.html.

The page opens offline: no script, no font or image fetched (its Content-Security-Policy
says so to the browser), figures inline. What came from a container (the reading's
excerpts, the checks' details, saved files) is data: Jinja2 escapes every string, the
code is coloured by Pygments (which escapes it), and a saved image is shown only as a
`data:` image, where a browser runs no script and loads nothing.
"""

from __future__ import annotations

import base64
import contextlib
import os
import sys
import webbrowser
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import jinja2
import msgspec
from markupsafe import Markup
from pygments.formatters import HtmlFormatter

from lab import untrusted
from lab.errors import LabError
from lab.files import write_atomically
from lab.run import excerpts, report_model, safe_files
from lab.run.report_model import CheckRecord, ExperimentRun, ReadingEntry, Report

TEMPLATES = Path(__file__).parent / "templates"
PAGE = "report.html"
INDEX = "index.html"
MAX_SAVED_IMAGE = 4 << 20  # bytes of one saved figure put inline (a flame graph is ~200 KB)
# All of a page's saved images together: 16 MiB is ~21 MiB of base64, a page a browser opens
# at once, and well inside a run's disk limit; the lab's stations save 1 to 4 images of
# ~200 KB. The count caps a run that saves hundreds of small ones.
MAX_INLINE_IMAGES = 16 << 20
MAX_INLINE_COUNT = 24
MAX_REPORT = 64 << 20  # bytes of a report.json the index reads
IMAGE_TYPES = {".svg": "image/svg+xml", ".png": "image/png"}
# An experiment's file is linked only where its suffix is one a browser shows as text (or
# JSON; .csv some save as a download), never renders: a click is a navigation, which the
# page's Content-Security-Policy does not cover, so a linked `evil.html` or `plot.svg` would
# run its script. A suffix with no known type is not linked either: the browser would sniff
# the bytes, and could find HTML. The rest are listed by name (the images are shown inline).
TEXT_SUFFIXES = frozenset({".txt", ".log", ".json", ".csv"})
FILES_NOTE = (
    "In the run folder, beside this {}. Only text files ({}) are linked: open the others "
    "from the folder."
)


def files_note(beside: str) -> str:
    """The line over a run's files, in the page or report.md (BESIDE: which of them)."""
    return FILES_NOTE.format(beside, ", ".join(sorted(TEXT_SUFFIXES)))


@dataclass(frozen=True)
class Figure:
    """A figure for the page: SVG the lab drew (trusted markup), or a saved image's
    `data:` address (an experiment's file, shown only as an image)."""

    title: str
    caption: str = ""
    svg: Markup | None = None
    image_uri: str | None = None


@cache
def environment(*folders: Path) -> jinja2.Environment:
    """Templates from FOLDERS, then this one's (a page above can import station.html.j2's
    macros); every string escaped."""
    return jinja2.Environment(
        loader=jinja2.FileSystemLoader([*folders, TEMPLATES]),
        autoescape=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )


@cache
def stylesheet() -> Markup:
    code = HtmlFormatter(style="default").get_style_defs(".excerpt")
    return Markup((TEMPLATES / "page.css").read_text() + code)


def render(template: str, *, folders: tuple[Path, ...] = (), **values: Any) -> str:
    """TEMPLATE, found in FOLDERS or lab/run/templates, with the shared stylesheet."""
    return environment(*folders).get_template(template).render(css=stylesheet(), **values)


def station_page(report: Report, figures: Sequence[Figure] = (), files: dict | None = None) -> str:
    """report.html for REPORT; FILES maps a saved file's shown name to its real one (a
    link), None where the page is shown away from the run folder."""
    return render("station.html.j2", page=view(report, figures, files))


def verdict(report: Report) -> str:
    """What the run's own page and the index say of it: a read-only run judged nothing."""
    if report.read_only:
        return "read only"
    return "pass" if report.passed else "fail"


def view(
    report: Report,
    figures: Sequence[Figure] = (),
    files: dict | None = None,
    marks: dict | None = None,
    anchor: str = "",
    checks: list | None = None,
    shown_verdict: str | None = None,
) -> dict:
    """What the template shows of REPORT. MARKS: {check name: why its verdict is marked};
    ANCHOR prefixes the sections' ids, where several runs share one page; CHECKS, where
    given, are shown instead of the report's (the class page's re-judged ones), and
    SHOWN_VERDICT instead of the report's own."""
    marks = marks or {}
    checks = report.checks if checks is None else checks
    shown = {
        "read": report.reading,
        "run": report.experiments,
        "check": checks,
        "look": figures,
        "explain": report.explain,
        "files": report.files,
    }
    return {
        "anchor": anchor,
        "sections": [(name, name.capitalize()) for name, there in shown.items() if there],
        "label": report.station,
        "title": report.title,
        "started": report.started,
        "seconds": report.seconds,
        "verdict": shown_verdict or verdict(report),
        "images": list(report.images.items()),
        "reading": [reading_entry(entry) for entry in report.reading],
        "experiments": [experiment_row(e) for e in report.experiments],
        "checks": [{**as_fields(check), "mark": marks.get(check.name)} for check in checks],
        "figures": [f for f in figures if f.svg or f.image_uri],
        "figure_notes": [f"{f.title}: {f.caption}" for f in figures if not (f.svg or f.image_uri)],
        "explain": report.explain,
        "files": [file_link(name, files) for name in report.files],
        "files_note": files_note("page") if files is not None else "",
    }


def as_fields(record: object) -> dict:
    """A model's record (or a dataclass's) as a dict of its fields."""
    if isinstance(record, msgspec.Struct):
        return msgspec.structs.asdict(record)
    return dict(vars(record))


def experiment_row(entry: ExperimentRun) -> dict:
    return {**as_fields(entry), "exit": "skipped" if entry.exit_code is None else entry.exit_code}


def file_link(shown: str, files: dict | None) -> tuple[str, str | None]:
    return shown, file_href((files or {}).get(shown))


def file_href(real: str | None) -> str | None:
    """The address of the run folder's file REAL (percent-encoded, byte for byte), where a
    browser shows it as text; None for any other file (TEXT_SUFFIXES says why)."""
    if not real or Path(real).suffix.lower() not in TEXT_SUFFIXES:
        return None
    return quote(os.fsencode(real), safe="")


def reading_entry(entry: ReadingEntry) -> dict:
    """A reading entry as the page shows it: a link for a document, else where the symbol
    is and the code around it."""
    fields = as_fields(entry)
    if entry.status == "document":
        # The station.toml's address, echoed back by the container: only a web address is
        # made a link (never javascript: or file:).
        url = entry.url if urlsplit(entry.url).scheme in ("http", "https") else None
        return {**fields, "heading": entry.title or entry.url, "url": url}
    heading = entry.path + (f"::{entry.symbol}" if entry.symbol else "")
    return {**fields, "heading": heading, "url": None, "code": excerpt_html(fields)}


def excerpt_html(entry: dict) -> Markup | None:
    """The lines around the entry's line, numbered and coloured, its line marked."""
    return excerpts.excerpt_html(entry)


def saved_figures(folder_fd: int, names: list[str]) -> list[Figure]:
    """The images an experiment saved in its run folder (station 3's scaling plot, the
    synthesis's flame graphs), as `data:` images: the browser shows them and runs nothing."""
    found: list[Figure] = []
    left, inlined = MAX_INLINE_IMAGES, 0  # the page's budget: the rest are named, not shown
    for name in names:
        kind = IMAGE_TYPES.get(Path(name).suffix.lower())
        if kind is None:
            continue
        try:
            data = within_budget(folder_fd, name, left, inlined)
        except LabError as error:
            found.append(Figure(untrusted.text(name, 200), f"not shown: {error}"))
            continue
        left, inlined = left - len(data), inlined + 1
        uri = f"data:{kind};base64,{base64.b64encode(data).decode()}"
        found.append(Figure(untrusted.text(name, 200), "saved by the experiment", image_uri=uri))
    return found


def within_budget(folder_fd: int, name: str, left: int, inlined: int) -> bytes:
    """The saved image NAME's bytes, where it fits the LEFT bytes of the page's budget and
    INLINED images come before it; else one line. One too big is not read at all."""
    over = LabError(f"over the page's {MAX_INLINE_IMAGES >> 20} MiB budget for images")
    if inlined >= MAX_INLINE_COUNT:
        raise LabError(f"over the page's {MAX_INLINE_COUNT} images")
    with contextlib.suppress(OSError):  # a file that is not there: read_regular says so
        if os.stat(name, dir_fd=folder_fd, follow_symlinks=False).st_size > left:
            raise over
    data = safe_files.read_regular(folder_fd, name, MAX_SAVED_IMAGE)
    if len(data) > left:  # grown since: no container writes here now, but bounded anyway
        raise over
    return data


# -- results/index.html: every run, newest first ------------------------------------------


def runs(results: Path) -> list[dict]:
    """Each finished run under RESULTS, newest first: station, when, verdict, its page."""
    found = []
    for report_file in results.glob("station-*/*/report.json"):
        folder = report_file.parent
        if folder.is_symlink() or folder.name.endswith(".partial"):
            continue
        with contextlib.suppress(LabError, OSError):
            report = report_model.read(untrusted.regular_file(report_file, MAX_REPORT), "")
            page = folder / PAGE
            found.append(
                {
                    "station": report.station,
                    "title": report.title,
                    "started": report.started,
                    "seconds": report.seconds,
                    "verdict": verdict(report),
                    "checks": summary(report.checks),
                    "href": f"{folder.parent.name}/{folder.name}/{PAGE}" if page.is_file() else "",
                }
            )
    return sorted(found, key=lambda run: run["started"], reverse=True)


def summary(checks: list[CheckRecord]) -> str:
    counts: Counter[str] = Counter(check.status for check in checks)
    return ", ".join(f"{counts[s]} {s}" for s in ("pass", "fail", "skip") if counts[s])


def write_index(results: Path) -> Path:
    """results/index.html, replaced whole (written aside, then renamed over the old one)."""
    index = results / INDEX
    write_atomically(index, render("index.html.j2", runs=runs(results)))
    return index


def open_in_browser(page: Path) -> str:
    """Open PAGE in the machine's graphical browser where it has one; the line to print.

    On Linux with no display, Python's webbrowser would pick a text browser that takes over
    the terminal (lynx, w3m): there the address is printed instead, to open elsewhere."""
    uri = page.resolve().as_uri()
    headless = sys.platform.startswith("linux") and not (
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    )
    if not headless and webbrowser.open(uri):
        return f"opened: {uri}"
    return f"no browser here: open {uri} where there is one"
