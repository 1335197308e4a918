"""The station page and the index in a real browser (headless Chromium): they load with no
console error and no request but the file itself, show the source and the figures, and a
container's markup shows as text."""

from __future__ import annotations

import json
from pathlib import Path

from lab.config import STATIONS_DIR
from lab.run import figures, page, report_model
from tests.browser import visit
from tests.hostile_report import MARKUP, hostile_report


def written(folder: Path, report: dict) -> Path:
    model = report_model.of(report)
    drawn = figures.draw(STATIONS_DIR / "01-frames", model)
    path = folder / page.PAGE
    path.write_text(page.station_page(model, drawn))
    return path


def test_the_station_page_loads_alone_and_shows_code_and_figures(browser, tmp_path) -> None:
    seen = visit(browser, written(tmp_path, hostile_report()))
    assert seen.console_errors == []
    assert seen.requests == [(tmp_path / page.PAGE).as_uri()], "nothing but the page is fetched"
    assert "_PyEval_EvalFrameDefault(PyThreadState *tstate" in seen.text
    assert seen.svg_count == 1, "station 1's figure, drawn from the observations"


def test_a_containers_markup_is_text_in_the_browser(browser, tmp_path) -> None:
    seen = visit(browser, written(tmp_path, hostile_report()))
    assert MARKUP in seen.text
    assert "<script>" not in seen.html, "no element was made of it"


def test_the_index_links_the_runs(browser, tmp_path) -> None:
    folder = tmp_path / "station-1" / "20261202-000000"
    folder.mkdir(parents=True)
    report = hostile_report()
    (folder / "report.json").write_text(json.dumps(report))
    written(folder, report)
    seen = visit(browser, page.write_index(tmp_path))
    assert seen.console_errors == [] and len(seen.requests) == 1
    assert "1: From python foo.py to a frame on the stack" in seen.text


def test_the_browser_log_sees_a_request_and_a_console_error(browser, tmp_path) -> None:
    """The two tests above would pass on a log that saw nothing: show it sees both."""
    leaky = tmp_path / "leaky.html"
    leaky.write_text('<img src="http://127.0.0.1:9/x.png"><script>no_such_name()</script>')
    seen = visit(browser, leaky)
    assert "http://127.0.0.1:9/x.png" in seen.requests
    assert any("no_such_name" in error for error in seen.console_errors)


def test_an_experiments_html_or_svg_file_is_not_linked(browser, tmp_path) -> None:
    """A click is a navigation, outside the page's CSP: the file's script would run."""
    from selenium.webdriver.common.by import By

    script = "<script>document.title = 'ran'</script>"
    saved = {"evil.html": script, "plot.svg": f"<svg>{script}</svg>", "notes.txt": "n"}
    for name, text in saved.items():
        (tmp_path / name).write_text(text)
    report = report_model.of(hostile_report(files=sorted(saved)))
    path = tmp_path / page.PAGE
    path.write_text(page.station_page(report, [], {name: name for name in saved}))
    seen = visit(browser, path)
    hrefs = [a.get_attribute("href") for a in browser.find_elements(By.CSS_SELECTOR, "a[href]")]
    assert (tmp_path / "notes.txt").as_uri() in hrefs
    assert not [href for href in hrefs if "evil.html" in href or "plot.svg" in href]
    assert "evil.html" in seen.text and "plot.svg" in seen.text and "run folder" in seen.text
