"""A station run's report: JSON for machines, Markdown for people, written together."""

from __future__ import annotations

import json
from pathlib import Path


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
            lines.append(f"- {reading_line(entry)}")
        lines.append("")
    if report["experiments"]:
        lines += ["## Run", "", "| experiment | variant | exit | seconds |", "|---|---|---|---|"]
        for e in report["experiments"]:
            lines.append(
                f"| {e['experiment']} | {e['variant']} | {e['exit_code']} | {e['seconds']:.1f} |"
            )
        lines.append("")
    if report["checks"]:
        lines += ["## Check", "", "| check | result | measured |", "|---|---|---|"]
        for c in report["checks"]:
            lines.append(f"| {c['description']} | {c['status'].upper()} | {c['detail']} |")
        lines.append("")
    if report["explain"]:
        lines += ["## Explain", ""]
        for q in report["explain"]:
            lines.append(f"**{q['question']}**")
            lines += [f"- `{e['key']}`: {e['text']}" for e in q["evidence"]] or ["- (no evidence)"]
            lines.append("")
    if report["files"]:
        lines += ["## Files", ""] + [f"- [{f}]({f})" for f in report["files"]] + [""]
    return "\n".join(lines)


def reading_line(entry: dict) -> str:
    if entry["status"] == "document":
        return f"{entry['title']}: {entry['url']}"
    what = f"{entry['path']}" + (f"::{entry['symbol']}" if entry.get("symbol") else "")
    where = entry.get("at", "")
    note = f" ({entry['note']})" if entry.get("note") else ""
    return f"{what} -> {where or entry['status']}{note}"


def write(report: dict, folder: Path) -> None:
    (folder / "report.json").write_text(json.dumps(report, indent=2, default=str) + "\n")
    (folder / "report.md").write_text(markdown(report))
