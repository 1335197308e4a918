"""The files an experiment wrote, as report.html and report.md list them: a link only to a
file a browser shows as text, never to one it would open as a document (HTML, SVG),
whose script would run; and the images inlined in a page within one budget."""

from __future__ import annotations

import os
import re
from pathlib import Path

from lab.run import page, report, report_model
from tests.hostile_report import hostile_report

SAVED = ["data.csv", "evil.html", "notes.TXT", "out.json", "plot.svg", "run.log", "x.bin"]
TEXT = {"data.csv", "notes.TXT", "out.json", "run.log"}


def files_page(files: dict | None) -> str:
    return page.station_page(report_model.of(hostile_report(files=SAVED)), files=files)


def test_only_text_files_are_linked() -> None:
    html = files_page({name: name for name in SAVED})
    linked = set(re.findall(r'<a href="([^"#]+)"', html)) - {"https://peps.python.org/pep-0659/"}
    assert linked == TEXT
    for name in SAVED:
        assert f"<li>{name}</li>" in html or f'href="{name}"' in html  # every one listed


def test_the_page_says_where_the_files_are() -> None:
    assert "run folder" in files_page({name: name for name in SAVED})


def test_report_md_links_the_same_files() -> None:
    saved = report_model.of(hostile_report(files=SAVED))
    md = report.markdown(saved, {name: name for name in SAVED})
    linked = set(re.findall(r"\]\(([^)]+)\)", md))
    assert linked == TEXT
    assert "- evil.html" in md and "- plot.svg" in md
    assert "run folder" in md


# -- images inlined: within the page's budget ---------------------------------------------


def test_fifty_saved_images_stay_within_the_pages_budget(tmp_path: Path) -> None:
    names = [f"plot-{n:02}.png" for n in range(50)]
    for name in names:
        (tmp_path / name).write_bytes(os.urandom(1 << 20))  # 1 MiB each, incompressible
    fd = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        shown = page.saved_figures(fd, names)
    finally:
        os.close(fd)
    saved = report_model.of(hostile_report(files=names))
    html = page.station_page(saved, shown, {n: n for n in names})
    base64_budget = page.MAX_INLINE_IMAGES * 4 // 3
    assert len(html.encode()) < base64_budget + (1 << 20)
    over = [f for f in shown if f.image_uri is None]
    assert over and all("not shown: over the page's" in f.caption for f in over)
    assert len(shown) == len(names)  # each one listed, shown or not
