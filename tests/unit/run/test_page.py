"""report.html and results/index.html: what a run's page shows, and that what a container
said shows as text, never as markup, a script or a link that leaves the page."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from lab.run import figures, page, report_model
from tests.hostile_report import MARKUP, hostile_report


def hostile(**changes) -> report_model.Report:
    """hostile_report() as the page takes it: through the report's model."""
    return report_model.of(hostile_report(**changes))


def test_markup_from_a_container_is_text() -> None:
    html = page.station_page(hostile())
    assert "<script" not in html.lower()
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in html
    assert '<img src="http://example.invalid' not in html


def test_nothing_is_fetched_and_no_script_runs() -> None:
    html = page.station_page(hostile())
    assert "Content-Security-Policy" in html and "default-src 'none'" in html
    assert "<link" not in html and "@import" not in html


def test_only_web_addresses_become_links() -> None:
    html = page.station_page(hostile())
    assert 'href="https://peps.python.org/pep-0659/"' in html
    assert "javascript:" not in html.replace("a trap", "")


def test_the_excerpt_is_numbered_from_its_line_and_marks_the_symbol() -> None:
    entry = page.reading_entry(hostile().reading[0])
    code = str(entry["code"])
    assert '<span class="linenos">680</span>' in code
    marked = code.split('<span class="hll">', 1)[1].split("\n", 1)[0]
    assert "685" in marked and "_PyEval_EvalFrameDefault" in marked
    assert "&lt;b&gt;not bold&lt;/b&gt;" in code  # the source is escaped, then coloured


def test_an_excerpt_without_a_line_number_is_left_out() -> None:
    entry = {**hostile_report()["reading"][0], "excerpt_start": ""}
    assert page.reading_entry(report_model.reading_entry(entry))["code"] is None


def test_a_read_only_run_says_so_not_pass() -> None:
    html = page.station_page(hostile(experiments=[], checks=[], passed=True))
    assert 'class="verdict read-only">READ ONLY' in html and ">PASS<" not in html


def test_saved_images_show_as_data_images_and_links_are_not_followed(tmp_path: Path) -> None:
    (tmp_path / "plot.svg").write_text(f"<svg xmlns='http://www.w3.org/2000/svg'>{MARKUP}</svg>")
    (tmp_path / "passwd.svg").symlink_to("/etc/passwd")
    (tmp_path / "folder.svg").mkdir()
    fd = os.open(tmp_path, os.O_RDONLY | os.O_DIRECTORY)
    try:
        shown = page.saved_figures(fd, ["plot.svg", "passwd.svg", "folder.svg", "data.csv"])
    finally:
        os.close(fd)
    plot, link, folder = shown
    assert plot.image_uri.startswith("data:image/svg+xml;base64,") and plot.svg is None
    assert link.image_uri is None and "a link, not followed" in link.caption
    assert folder.image_uri is None and "not a regular file" in folder.caption
    html = page.station_page(hostile(), shown)
    assert "<script" not in html.lower()


def test_a_figure_is_drawn_from_the_observations(tmp_path: Path) -> None:
    (tmp_path / "figures.py").write_text(
        "from matplotlib.figure import Figure\n"
        "def figure_ratio(obs):\n"
        '    """The ratio\n    as measured"""\n'
        "    figure = Figure()\n"
        '    figure.subplots().bar(["stock"], [obs["load_fast_vs_global.global_over_local"]])\n'
        "    return figure\n"
        "def figure_missing(obs):\n"
        '    """Not measured"""\n'
        '    return obs["nothing.here"]\n'
    )
    drawn, missing = figures.draw(tmp_path, hostile())
    assert drawn.title == "The ratio" and drawn.caption == "as measured"
    assert drawn.svg.startswith("<svg")
    assert missing.svg is None and missing.caption.startswith("not drawn")
    assert "nothing.here" in missing.caption


@pytest.mark.parametrize("raised", ["SystemError('broken')", "SystemExit(3)"])
def test_a_broken_figures_file_costs_its_figures_not_the_run(tmp_path: Path, raised) -> None:
    (tmp_path / "figures.py").write_text(f"raise {raised}\n")
    (only,) = figures.draw(tmp_path, hostile())
    assert "does not load" in only.caption


def test_the_index_lists_every_finished_run_newest_first(tmp_path: Path) -> None:
    for station, started, passed in [("1", "2026-12-01", True), ("3", "2026-12-02", False)]:
        folder = tmp_path / f"station-{station}" / started
        folder.mkdir(parents=True)
        report = hostile_report(station=station, started=started, passed=passed, title=MARKUP)
        (folder / "report.json").write_text(json.dumps(report))
        (folder / "report.html").write_text("")
    partial = tmp_path / "station-2" / "x.partial"
    partial.mkdir(parents=True)
    (partial / "report.json").write_text(json.dumps(hostile_report(station="2")))
    broken = tmp_path / "station-4" / "y"
    broken.mkdir(parents=True)
    (broken / "report.json").write_text("{not json")
    index = page.write_index(tmp_path)
    html = index.read_text()
    assert html.index("station-3/2026-12-02/report.html") < html.index("station-1/2026-12-01")
    assert "station-2" not in html and "station-4" not in html
    assert "<script" not in html.lower()
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "index.html", "station-1", "station-2", "station-3", "station-4"
    ]  # fmt: skip


def test_without_a_display_the_address_is_printed(monkeypatch, tmp_path: Path) -> None:
    monkeypatch.setattr(page.sys, "platform", "linux")
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    opened = []
    monkeypatch.setattr(page.webbrowser, "open", opened.append)
    line = page.open_in_browser(tmp_path / "report.html")
    assert opened == []
    assert line == f"no browser here: open {(tmp_path / 'report.html').as_uri()} where there is one"
