"""A real browser for the pages' tests: headless Chromium through its WebDriver, with the
console and the network log kept, so a test sees what a reader's browser would do."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

BROWSERS = ("chromium", "chromium-browser", "google-chrome")


def found() -> tuple[str, str] | None:
    """The browser and its driver, where both are installed."""
    browser = next((shutil.which(name) for name in BROWSERS if shutil.which(name)), None)
    driver = shutil.which("chromedriver")
    return (browser, driver) if browser and driver else None


@dataclass
class Visit:
    """What loading a page did: its text, the console's errors and every request made."""

    text: str
    html: str
    console_errors: list[str]
    requests: list[str]
    svg_count: int
    image_count: int


@contextmanager
def chromium(browser: str, driver: str) -> Iterator:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = browser
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu", "--window-size=1280,900"):
        options.add_argument(argument)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL", "performance": "ALL"})
    session = webdriver.Chrome(options=options, service=Service(executable_path=driver))
    try:
        yield session
    finally:
        session.quit()


def visit(session, page: Path) -> Visit:
    from selenium.webdriver.common.by import By

    session.get_log("performance")  # what earlier pages did is not this one's
    session.get_log("browser")
    session.get(page.resolve().as_uri())
    events = [json.loads(entry["message"])["message"] for entry in session.get_log("performance")]
    # A data: image is the page's own bytes, not a request to anywhere: left out.
    requests = [
        event["params"]["request"]["url"]
        for event in events
        if event["method"] == "Network.requestWillBeSent"
        and not event["params"]["request"]["url"].startswith("data:")
    ]
    console = session.get_log("browser")
    errors = [entry["message"] for entry in console if entry["level"] == "SEVERE"]
    return Visit(
        text=session.find_element(By.TAG_NAME, "body").text,
        html=session.page_source,
        console_errors=errors,
        requests=requests,
        svg_count=len(session.find_elements(By.CSS_SELECTOR, "figure svg")),
        image_count=len(session.find_elements(By.CSS_SELECTOR, "figure img")),
    )
