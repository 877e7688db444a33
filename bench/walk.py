"""The volunteer's walk, photographed: the page in headless Chromium at a laptop's size and a phone's, from the
looks to a finished design, its regions, its print and its share to the wall.

    python -m bench.walk [--out docs/images] [--size 128] [--steps 30]

Launches the studio on loopback, then in Debian's chromium (Playwright, no browser download) walks the page
as a volunteer does at 1366×768 and at 390×844, writing walk-laptop-*.png and walk-phone-*.png.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

from playwright.sync_api import sync_playwright

from bench.app_frames import launch

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--no-first-run"]
SIZES = {"laptop": (1366, 768), "phone": (390, 844)}


def walk(page, url: str, out: Path, name: str, size: int, steps: int) -> None:
    """One volunteer's walk on `page`, a screenshot at each stop."""
    page.goto(url)
    page.wait_for_selector("#run", timeout=60_000)
    page.wait_for_function("document.querySelectorAll('#looks img').length >= 5", timeout=60_000)
    page.wait_for_timeout(2500)  # the looks of the photo replace the paintings
    page.locator("#views").scroll_into_view_if_needed()  # on a phone, below the photo and painting
    page.screenshot(path=str(out / f"walk-{name}-1-looks.png"))
    page.evaluate("window.scrollTo(0, 0)")
    page.locator("#settings").get_by_text("Fine-tune the painting").first.click()
    for control, value in (("size", size), ("steps", steps)):
        box = page.locator(f"#control-{control} input[type=number]").first
        box.fill(str(value))
        box.press("Enter")
    page.locator("#settings").get_by_text("Fine-tune the painting").first.click()
    page.locator("#looks .thumbnail-item").nth(1).click()  # a look: it paints that painting
    page.wait_for_timeout(1500)
    page.screenshot(path=str(out / f"walk-{name}-2-painting.png"))
    page.wait_for_function("document.querySelector('#status')?.innerText.includes('done')", timeout=600_000)
    page.locator("#views").scroll_into_view_if_needed()
    page.screenshot(path=str(out / f"walk-{name}-3-design.png"))
    page.locator("#regions-section").get_by_text("Regions").first.click()
    page.locator("#editor").scroll_into_view_if_needed()
    page.screenshot(path=str(out / f"walk-{name}-4-regions.png"))
    page.locator("#print").get_by_text("Print: the design above").first.click()
    page.locator("#print-estimate").scroll_into_view_if_needed()
    page.wait_for_timeout(1000)
    page.screenshot(path=str(out / f"walk-{name}-5-print.png"))
    page.locator("#share-name textarea, #share-name input").first.fill("Ada")
    page.click("#share")
    page.wait_for_function("document.querySelector('#share-line')?.innerText.includes('On the wall')",
                           timeout=30_000)
    page.locator("#share-line").scroll_into_view_if_needed()
    page.screenshot(path=str(out / f"walk-{name}-6-shared.png"))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=Path("docs/images"))
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--steps", type=int, default=30)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

    import app

    url = launch(app.demo)
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=FLAGS)
        for name, (width, height) in SIZES.items():
            page = browser.new_page(viewport={"width": width, "height": height}, device_scale_factor=1,
                                    is_mobile=name == "phone", has_touch=name == "phone")
            walk(page, url, args.out, name, args.size, args.steps)
            page.close()
        wall = browser.new_page(viewport={"width": 1366, "height": 768})
        wall.goto(url + "wall")
        wall.wait_for_selector(".wall-tile", timeout=30_000)
        wall.screenshot(path=str(args.out / "walk-wall.png"))
        browser.close()
    app.demo.close()
    print(f"screenshots in {args.out}")


if __name__ == "__main__":
    main()
