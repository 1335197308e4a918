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
import secrets
import sys
import webbrowser
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from urllib.parse import quote, urlsplit

import jinja2
from markupsafe import Markup
from pygments import highlight
from pygments.formatters import HtmlFormatter
from pygments.lexers import TextLexer, get_lexer_for_filename
from pygments.util import ClassNotFound

from lab import untrusted
from lab.errors import LabError
from lab.run import safe_files

TEMPLATES = Path(__file__).parent / "templates"
PAGE = "report.html"
INDEX = "index.html"
MAX_SAVED_IMAGE = 4 << 20  # bytes of one saved figure put inline (a flame graph is ~200 KB)
MAX_REPORT = 64 << 20  # bytes of a report.json the index reads
IMAGE_TYPES = {".svg": "image/svg+xml", ".png": "image/png"}


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


def render(template: str, *, folders: tuple[Path, ...] = (), **values) -> str:
    """TEMPLATE, found in FOLDERS or lab/run/templates, with the shared stylesheet."""
    return environment(*folders).get_template(template).render(css=stylesheet(), **values)


def station_page(report: dict, figures: list[Figure] = (), files: dict | None = None) -> str:
    """report.html for REPORT; FILES maps a saved file's shown name to its real one (a
    link), None where the page is shown away from the run folder."""
    return render("station.html.j2", page=view(report, figures, files))


def view(
    report: dict,
    figures: list[Figure] = (),
    files: dict | None = None,
    marks: dict | None = None,
    anchor: str = "",
) -> dict:
    """What the template shows of REPORT. MARKS: {check name: why its verdict is marked};
    ANCHOR prefixes the sections' ids, where several runs share one page."""
    marks = marks or {}
    shown = {
        "read": report.get("reading"),
        "run": report.get("experiments"),
        "check": report.get("checks"),
        "look": figures,
        "explain": report.get("explain"),
        "files": report.get("files"),
    }
    return {
        "anchor": anchor,
        "sections": [(name, name.capitalize()) for name, there in shown.items() if there],
        "label": str(report.get("station", "?")),
        "title": str(report.get("title", "")),
        "started": str(report.get("started", "")),
        "seconds": float(report.get("seconds") or 0),
        "verdict": "pass" if report.get("passed") else "fail",
        "images": [(str(v), str(i)) for v, i in dict(report.get("images") or {}).items()],
        "reading": [reading_entry(entry) for entry in report.get("reading") or []],
        "experiments": [experiment_row(e) for e in report.get("experiments") or []],
        "checks": [{**check, "mark": marks.get(check.get("name"))} for check in report["checks"]],
        "figures": [f for f in figures if f.svg or f.image_uri],
        "figure_notes": [f"{f.title}: {f.caption}" for f in figures if not (f.svg or f.image_uri)],
        "explain": report.get("explain") or [],
        "files": [file_link(name, files) for name in report.get("files") or []],
    }


def experiment_row(entry: dict) -> dict:
    code = entry.get("exit_code")
    return {**entry, "exit": "skipped" if code is None else code, "note": entry.get("note") or ""}


def file_link(shown: str, files: dict | None) -> tuple[str, str | None]:
    real = (files or {}).get(shown)
    return shown, (quote(os.fsencode(real), safe="") if real else None)


def reading_entry(entry: dict) -> dict:
    """A reading entry as the page shows it: a link for a document, else where the symbol
    is and the code around it."""
    url = entry.get("url") if entry.get("status") == "document" else None
    if url is not None:
        # The station.toml's address, echoed back by the container: only a web address is
        # made a link (never javascript: or file:).
        url = url if urlsplit(url).scheme in ("http", "https") else None
        return {**entry, "heading": entry.get("title") or entry.get("url"), "url": url}
    symbol = entry.get("symbol")
    heading = f"{entry.get('path', '')}" + (f"::{symbol}" if symbol else "")
    return {**entry, "heading": heading, "url": None, "code": excerpt_html(entry)}


def excerpt_html(entry: dict) -> Markup | None:
    """The lines around the entry's line, numbered and coloured, its line marked."""
    lines, start, at = entry.get("excerpt"), entry.get("excerpt_start", ""), entry.get("at", "")
    path, _, line = at.rpartition(":")
    if not lines or not start.isdigit() or not line.isdigit():
        return None
    try:
        lexer = get_lexer_for_filename(path, stripnl=False)
    except ClassNotFound:
        lexer = TextLexer(stripnl=False)
    marked = int(line) - int(start) + 1
    formatter = HtmlFormatter(
        linenos="inline", linenostart=int(start), hl_lines=[marked], wrapcode=True
    )
    return Markup(highlight("\n".join(lines) + "\n", lexer, formatter))


def saved_figures(folder_fd: int, names: list[str]) -> list[Figure]:
    """The images an experiment saved in its run folder (station 3's scaling plot, the
    synthesis's flame graphs), as `data:` images: the browser shows them and runs nothing."""
    found = []
    for name in names:
        kind = IMAGE_TYPES.get(Path(name).suffix.lower())
        if kind is None:
            continue
        try:
            data = safe_files.read_regular(folder_fd, name, MAX_SAVED_IMAGE)
        except LabError as error:
            found.append(Figure(untrusted.text(name, 200), f"not shown: {error}"))
            continue
        uri = f"data:{kind};base64,{base64.b64encode(data).decode()}"
        found.append(Figure(untrusted.text(name, 200), "saved by the experiment", image_uri=uri))
    return found


# -- results/index.html: every run, newest first ------------------------------------------


def runs(results: Path) -> list[dict]:
    """Each finished run under RESULTS, newest first: station, when, verdict, its page."""
    found = []
    for report_file in results.glob("station-*/*/report.json"):
        folder = report_file.parent
        if folder.is_symlink() or folder.name.endswith(".partial"):
            continue
        with contextlib.suppress(LabError, OSError):
            report = untrusted.json_file(report_file, MAX_REPORT)
            page = folder / PAGE
            found.append(
                {
                    "station": str(report.get("station", "?")),
                    "title": str(report.get("title", "")),
                    "started": str(report.get("started", "")),
                    "seconds": float(report.get("seconds") or 0),
                    "verdict": "pass" if report.get("passed") else "fail",
                    "checks": summary(report.get("checks") or []),
                    "href": f"{folder.parent.name}/{folder.name}/{PAGE}" if page.is_file() else "",
                }
            )
    return sorted(found, key=lambda run: run["started"], reverse=True)


def summary(checks: list) -> str:
    counts = {status: 0 for status in ("pass", "fail", "skip")}
    for check in checks:
        if isinstance(check, dict) and check.get("status") in counts:
            counts[check["status"]] += 1
    return ", ".join(f"{n} {status}" for status, n in counts.items() if n)


def write_index(results: Path) -> Path:
    """results/index.html, replaced whole (written aside, then renamed over the old one)."""
    html = render("index.html.j2", runs=runs(results))
    index = results / INDEX
    aside = results / f".{INDEX}.{secrets.token_hex(4)}"
    root_fd = safe_files.open_root(results)
    try:
        safe_files.write_new(root_fd, aside.name, html, shown=results)
        os.replace(aside.name, INDEX, src_dir_fd=root_fd, dst_dir_fd=root_fd)
    finally:
        os.close(root_fd)
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
