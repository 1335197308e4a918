"""The class page in a real browser (headless Chromium): both students shown, the edited
verdict marked, a hand-in's markup as text, nothing fetched, and a student's station page
one click away."""

from __future__ import annotations

from selenium.webdriver.common.by import By

from tests.browser import visit
from tests.unit.classroom.test_class_page import (
    GOOD_1,
    break_observation,
    lab_here,  # noqa: F401  (the fixture: a made-up lab of stations 1 and 3)
    make_hand_in,
    report,
    rewrite,
    run_class,
    two_students,
)

SCRIPT = "<script>alert(1)</script>"


def test_the_class_page_shows_both_students_and_marks_the_edit(browser, lab_here) -> None:  # noqa: F811
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


def test_a_students_station_page_is_one_click_away(browser, lab_here) -> None:  # noqa: F811
    two_students(lab_here)
    run_class(lab_here)
    visit(browser, lab_here.parent / "class.html")
    link = browser.find_element(By.CSS_SELECTOR, 'a[href="#student-0-station-1"]')
    target = browser.find_element(By.ID, "student-0-station-1")
    assert not target.is_displayed(), "closed until asked for"
    link.click()
    assert target.is_displayed(), "one click opens the student's station page"
