"""A station run's report: JSON for machines, Markdown for people, written together.

Both are written into the run folder by descriptor, as new files (never through a link an
experiment planted there); the text in them that came from a container is already made
safe (lab/untrusted.py), and table cells escape Markdown's `|`.
"""

from __future__ import annotations

import json
from pathlib import Path

from lab import safe_files


def format_value(value, unit: str = "") -> str:
    if isinstance(value, float):
        text = f"{value:.3g}" if abs(value) < 1000 else f"{value:,.0f}"
    elif isinstance(value, (list, dict)):
        text = json.dumps(value)
        text = text if len(text) <= 120 else text[:117] + "..."
    else:
        text = str(value)
    return f"{text} {unit}".strip()


def markdown(report: dict) -> str:
    lines = [f"# Station {report['station']}: {report['title']}", ""]
    images = ", ".join(f"{v} ({image_id})" for v, image_id in report["images"].items())
    lines += [f"Run {report['started']}, {report['seconds']:.1f} s; images: {images}", ""]
    if report["reading"]:
        lines += ["## Read", ""]
        for entry in report["reading"]:
            lines.append(f"- {cell(reading_line(entry))}")
        lines.append("")
    if report["experiments"]:
        lines += ["## Run", "", "| experiment | variant | exit | seconds | note |"]
        lines.append("|---|---|---|---|---|")
        for e in report["experiments"]:
            note = cell(e.get("note") or "")
            code = "skipped" if e["exit_code"] is None else e["exit_code"]
            lines.append(
                f"| {e['experiment']} | {e['variant']} | {code} | {e['seconds']:.1f} | {note} |"
            )
        lines.append("")
    if report["checks"]:
        lines += ["## Check", "", "| check | result | measured |", "|---|---|---|"]
        for c in report["checks"]:
            lines.append(
                f"| {cell(c['description'])} | {c['status'].upper()} | {cell(c['detail'])} |"
            )
        lines.append("")
    if report["explain"]:
        lines += ["## Explain", ""]
        for q in report["explain"]:
            lines.append(f"**{q['question']}**")
            lines += [f"- `{e['key']}`: {e['text']}" for e in q["evidence"]] or ["- (no evidence)"]
            lines.append("")
    if report["files"]:
        lines += ["## Files", ""] + [f"- [{cell(f)}](<{link(f)}>)" for f in report["files"]] + [""]
    return "\n".join(lines)


def reading_line(entry: dict) -> str:
    if entry["status"] == "document":
        return f"{entry['title']}: {entry['url']}"
    what = f"{entry['path']}" + (f"::{entry['symbol']}" if entry.get("symbol") else "")
    where = entry.get("at", "")
    note = f" ({entry['note']})" if entry.get("note") else ""
    return f"{what} -> {where or entry['status']}{note}"


def cell(value: object) -> str:
    """VALUE inside a Markdown table cell or link text: `|`, brackets and HTML escaped."""
    text = str(value)
    for char in "\\|[]<>":
        text = text.replace(char, "\\" + char)
    return text


def link(name: str) -> str:
    """A file name as a link target (inside <...>: spaces allowed, < > are not)."""
    return name.replace("<", "%3C").replace(">", "%3E")


def write(report: dict, folder_fd: int, folder: Path) -> None:
    """report.json and report.md, created anew in the folder FOLDER_FD stands for."""
    as_json = json.dumps(report, indent=2, default=str, allow_nan=False) + "\n"
    safe_files.write_new(folder_fd, "report.json", as_json, shown=folder)
    safe_files.write_new(folder_fd, "report.md", markdown(report), shown=folder)
