"""The real page in headless Chromium: it loads, an example paints live, Stop keeps the picture."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"

pytestmark = pytest.mark.skipif(not Path(CHROMIUM).exists(), reason="Debian's chromium is not installed")


@pytest.fixture(scope="module")
def page(app_server):
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        page = browser.new_page(viewport={"width": 1366, "height": 768})  # a common laptop screen
        page.goto(app_server)
        page.wait_for_selector("#run", timeout=60_000)
        yield page
        browser.close()


def result_src(page) -> str | None:
    image = page.locator("#result img")
    return image.first.get_attribute("src") if image.count() else None


def _visible(page, selector: str, whole: bool = True) -> bool:
    """Whether the element is on screen without scrolling (its top, or all of it)."""
    box = page.locator(selector).first.bounding_box()
    bottom = box["y"] + (box["height"] if whole else 40)
    return box is not None and box["y"] >= 0 and bottom <= 768 and box["x"] + box["width"] <= 1366


def test_at_first_sight_the_photo_the_painting_paint_and_the_picture_are_on_screen(page):
    ARTIFACTS.mkdir(exist_ok=True)
    page.wait_for_function("document.querySelector('#estimate')?.innerText.includes('on this server')",
                           timeout=60_000)
    page.screenshot(path=str(ARTIFACTS / "page_1366x768.png"))
    for selector in ("#content", "#style", "#run", "#stop", "#estimate"):
        assert _visible(page, selector), selector
    assert _visible(page, "#result", whole=False)
    assert "on this server" in page.locator("#estimate").inner_text()


def test_plain_words_and_the_server_details_under_about(page):
    for label in ("Photo", "Painting", "Shape of the design", "Settings", "About this server"):
        assert page.get_by_text(label, exact=True).count() >= 1, label
    assert "Backbone" not in page.locator("body").inner_text()
    page.locator("#about-section").get_by_text("About this server").click()
    about = page.locator("#about").inner_text()
    assert "Network: VGG" in about and "/" not in about.split("Network:")[1]  # no server paths shown


def test_an_example_paints_live_and_stop_keeps_the_last_picture(page):
    ARTIFACTS.mkdir(exist_ok=True)
    page.locator("#paintings").get_by_label("Thumbnail 2 of 3").click()
    page.wait_for_function("document.querySelector('#style img')?.src.includes('the_scream')", timeout=30_000)
    page.locator("#settings").get_by_text("Settings").first.click()
    page.get_by_label("preview", exact=True).check()  # 256 px, a frame every 5 iterations
    page.click("#run")
    time.sleep(2)
    page.click("#run")  # pressed again while painting: told why nothing new starts
    page.get_by_text("still painting").first.wait_for(timeout=10_000)

    sources = []
    deadline = time.monotonic() + 120
    while len(set(sources)) < 3:
        assert time.monotonic() < deadline, f"the picture did not change while painting: {sources}"
        src = result_src(page)
        if src and (not sources or src != sources[-1]):
            sources.append(src)
        time.sleep(0.1)
    assert "painting" in page.locator("#status").inner_text()
    page.screenshot(path=str(ARTIFACTS / "page_painting.png"), full_page=True)

    page.click("#stop")
    time.sleep(3)
    kept = result_src(page)
    assert kept, "Stop cleared the picture"
    time.sleep(2)
    assert result_src(page) == kept, "the picture kept changing after Stop"
    assert "stopped" in page.locator("#status").inner_text()
    download = page.locator("#download")  # the picture so far, at full resolution
    assert download.is_visible() and "Download PNG (256×" in download.inner_text()
    page.screenshot(path=str(ARTIFACTS / "page_stopped.png"), full_page=True)
