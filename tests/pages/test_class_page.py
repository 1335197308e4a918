"""The class page in a real browser (headless Chromium): both students shown, the edited
verdict marked, a hand-in's markup as text, nothing fetched, and a student's station page
one click away."""

from __future__ import annotations

from selenium.webdriver.common.by import By

from tests.browser import visit
from tests.class_hand_ins import (
    GOOD_1,
    break_observation,
    make_hand_in,
    report,
    rewrite,
    run_class,
    two_students,
)

SCRIPT = "<script>alert(1)</script>"


def test_the_class_page_shows_both_students_and_marks_the_edit(browser, lab_here) -> None:
    two_students(lab_here)
    rewrite(lab_here / "hand-in-bob.tar.gz", break_observation)
    hostile = report("1", GOOD_1, title=SCRIPT)
    hostile["checks"][0]["detail"] = SCRIPT
    make_hand_in(lab_here, "eve", {"1": hostile})
    run_class(lab_here)
    page = lab_here.parent / "class.html"

    seen = visit(browser, page)

    assert seen.console_errors == []
    assert seen.requests == [page.as_uri()], "nothing but the page is fetched"
    assert all(name in seen.text for name in ("ada", "bob", "eve"))
    assert "MARK" in seen.text, "bob's edited verdict is marked"
    assert SCRIPT in seen.html.replace("&lt;", "<").replace("&gt;", ">")
    assert browser.find_elements(By.TAG_NAME, "script") == [], "no element was made of it"


def test_a_students_station_page_is_one_click_away(browser, lab_here) -> None:
    two_students(lab_here)
    run_class(lab_here)
    visit(browser, lab_here.parent / "class.html")
    link = browser.find_element(By.CSS_SELECTOR, 'a[href="#student-0-station-1"]')
    target = browser.find_element(By.ID, "student-0-station-1")
    assert not target.is_displayed(), "closed until asked for"
    link.click()
    assert target.is_displayed(), "one click opens the student's station page"


def test_a_wide_class_keeps_its_header_and_names_in_view(browser, lab_here) -> None:
    """30 students on a laptop's screen: the table scrolls in its box, the station header
    row and the students' column stay where they are; the counts come first."""
    for n in range(30):
        make_hand_in(lab_here, f"student-{n:02d}", {"1": report("1", GOOD_1)})
    run_class(lab_here)
    visit(browser, lab_here.parent / "class.html")
    box = browser.find_element(By.CSS_SELECTOR, ".scroll")
    header = browser.find_element(By.CSS_SELECTOR, "table.class thead th:nth-child(2)")
    name = browser.find_element(By.CSS_SELECTOR, "table.class tbody tr:nth-child(20) th")
    before = (header.rect["y"], name.rect["x"])
    browser.execute_script("arguments[0].scrollTop = 600; arguments[0].scrollLeft = 400", box)
    assert browser.execute_script("return arguments[0].scrollTop", box) > 0, "it scrolls"
    assert (header.rect["y"], name.rect["x"]) == before, "header and names stay in view"
    counts = browser.find_element(By.CSS_SELECTOR, "table.counts")
    assert counts.location["y"] < box.location["y"], "the counts come above the table"
    assert "30" in counts.text
