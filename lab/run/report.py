"""A station run's report: JSON for machines, Markdown and a page (page.py) for people,
written together.

Both are written into the run folder by descriptor, as new files (never through a link an
experiment planted there). The text in them that came from a container is already made
safe for a terminal (lab/untrusted.py); in report.md it is escaped too, so that it shows
as text and never as a link, an image, HTML or a table's column.
"""

from __future__ import annotations

import html
import json
import os
import re
from collections.abc import Sequence
from pathlib import Path

from lab import untrusted
from lab.run import page, report_model, safe_files
from lab.run.report_model import ReadingEntry, Report

# A file's name as the report lists it (station_run cuts it so): report_model's Short.
NAME_CHARS = untrusted.MAX_NAME_CHARS
# Markdown's inline syntax: links, images, code spans, emphasis, strike-through, tables.
MARKDOWN = re.compile(r"([\\`*_\[\]|~])")


def format_value(value: object, unit: str = "") -> str:
    if isinstance(value, float):
        text = f"{value:.3g}" if abs(value) < 1000 else f"{value:,.0f}"
    elif isinstance(value, (list, dict)):
        text = json.dumps(value)
        text = text if len(text) <= 120 else text[:117] + "..."
    else:
        text = str(value)
    return f"{text} {unit}".strip()


def markdown(report: Report, targets: dict[str, str] | None = None) -> str:
    """report.md; TARGETS maps a listed file's shown name to its real one, for its link."""
    lines = [f"# Station {report.station}: {cell(report.title)}", ""]
    images = ", ".join(f"{v} ({image_id})" for v, image_id in report.images.items())
    lines += [f"Run {report.started}, {report.seconds:.1f} s; images: {cell(images)}", ""]
    if report.read_only:
        lines += ["READ ONLY: no experiment ran, so nothing was judged.", ""]
    if report.reading:
        lines += ["## Read", ""]
        for entry in report.reading:
            lines.append(f"- {cell(reading_line(entry))}")
        lines.append("")
    if report.experiments:
        lines += ["## Run", "", "| experiment | variant | exit | seconds | note |"]
        lines.append("|---|---|---|---|---|")
        for e in report.experiments:
            code = "skipped" if e.exit_code is None else e.exit_code
            lines.append(
                f"| {e.experiment} | {e.variant} | {code} | {e.seconds:.1f} | {cell(e.note)} |"
            )
        lines.append("")
    if report.checks:
        lines += ["## Check", "", "| check | result | measured |", "|---|---|---|"]
        for c in report.checks:
            lines.append(f"| {cell(c.description)} | {c.status.upper()} | {cell(c.detail)} |")
        lines.append("")
    if report.explain:
        lines += ["## Explain", ""]
        for q in report.explain:
            lines.append(f"**{cell(q.question)}**")
            evidence = [f"- {code_span(e.key)}: {cell(e.text)}" for e in q.evidence]
            lines += evidence or ["- (no evidence)"]
            lines.append("")
    if report.files:
        files = [file_item(name, (targets or {}).get(name)) for name in report.files]
        note = [page.files_note("report"), ""] if targets else []
        lines += ["## Files", "", *note, *files, ""]
    return "\n".join(lines)


def reading_line(entry: ReadingEntry) -> str:
    if entry.status == "document":
        return f"{entry.title}: {entry.url}"
    what = entry.path + (f"::{entry.symbol}" if entry.symbol else "")
    note = f" ({entry.note})" if entry.note else ""
    return f"{what} -> {entry.at or entry.status}{note}"


def cell(value: object) -> str:
    """VALUE as Markdown text: one line, Markdown's syntax and HTML escaped, so that it
    shows as written (in a table cell, a heading or a link's text)."""
    text = untrusted.text(str(value), untrusted.MAX_LINE_CHARS)
    return html.escape(MARKDOWN.sub(r"\\\1", text), quote=False)


def code_span(value: object) -> str:
    """VALUE in backticks: literal inside, so only a backtick could end it early."""
    return "`" + untrusted.text(str(value)).replace("`", "'") + "`"


def file_item(shown: str, real: str | None) -> str:
    """A list item for a saved file: its safe name, linked where a browser shows it as text
    (page.TEXT_SUFFIXES); no link for any other, or where no file has that name."""
    href = page.file_href(real)
    return f"- {cell(shown)}" if href is None else f"- [{cell(shown)}]({href})"


def targets_in(folder_fd: int) -> dict[str, str]:
    """Each file in the folder FOLDER_FD stands for, by the name the report shows."""
    targets: dict[str, str] = {}
    for name in sorted(os.listdir(folder_fd)):
        targets.setdefault(untrusted.text(name, NAME_CHARS), name)
    return targets


def write(report: Report, folder_fd: int, folder: Path, drawn: Sequence[page.Figure] = ()) -> None:
    """report.json, report.md and report.html (with the figures DRAWN and those the
    experiments saved), created anew in the folder FOLDER_FD stands for."""
    as_json = report_model.as_json(report)
    targets = targets_in(folder_fd)
    shown = [*drawn, *page.saved_figures(folder_fd, sorted(targets.values()))]
    safe_files.write_new(folder_fd, "report.json", as_json, shown=folder)
    safe_files.write_new(folder_fd, "report.md", markdown(report, targets), shown=folder)
    html = page.station_page(report, shown, targets)
    safe_files.write_new(folder_fd, page.PAGE, html, shown=folder)
