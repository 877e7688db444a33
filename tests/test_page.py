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
        page = browser.new_page(viewport={"width": 1400, "height": 1300})
        page.goto(app_server)
        page.wait_for_selector("#run", timeout=60_000)
        yield page
        browser.close()


def result_src(page) -> str | None:
    image = page.locator("#result img")
    return image.first.get_attribute("src") if image.count() else None


def test_the_page_shows_the_backend_and_the_controls(page):
    backend = page.locator("#backend").inner_text()
    assert "Backbone: VGG" in backend and "/" not in backend.split("Backbone:")[1]  # no server paths shown
    for label in ("Photo", "Painting", "Content weight α", "Style weight log₁₀ β", "Learning rate", "Steps"):
        assert page.get_by_text(label, exact=True).count() >= 1, label


def test_an_example_paints_live_and_stop_keeps_the_last_picture(page):
    ARTIFACTS.mkdir(exist_ok=True)
    page.locator("#paintings").get_by_label("Thumbnail 2 of 3").click()
    page.wait_for_function("document.querySelector('#style img')?.src.includes('the_scream')", timeout=30_000)
    page.get_by_label("preview", exact=True).check()  # 256 px, a frame every 5 iterations
    page.click("#run")

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
    page.screenshot(path=str(ARTIFACTS / "page_stopped.png"), full_page=True)
