"""The real page in headless Chromium: it loads, an example paints live, Stop keeps the picture, before and after."""

from __future__ import annotations

import contextlib
import io
import shutil
import time
from pathlib import Path

import av
import numpy as np
import pytest
from PIL import Image
from playwright.sync_api import sync_playwright

from nst_core.film import film_size

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", "--no-first-run"]
ARTIFACTS = Path(__file__).resolve().parent / "artifacts"
ASSETS = Path(__file__).resolve().parent.parent / "assets"

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
    assert _visible(page, "#looks", whole=False)  # before the first run the design area shows the looks
    assert "on this server" in page.locator("#estimate").inner_text()


def test_plain_words_and_the_server_details_under_about(page):
    for label in ("Photo", "Painting", "Shape of the design", "Fine-tune the painting", "About this server"):
        assert page.get_by_text(label, exact=True).count() >= 1, label
    body = page.locator("body").inner_text()
    for jargon in ("Backbone", "(α)", "log₁₀", "Pooling", "Preview every", "bfloat16 convolutions"):
        assert jargon not in body, jargon
    page.locator("#about-section").get_by_text("About this server").click()
    about = page.locator("#about").inner_text()
    network = about.split("recognition network:")[1]
    assert network.strip().startswith("VGG") and "/" not in network  # no server paths shown


def gallery_sources(page, selector: str) -> list[str]:
    return page.locator(f"{selector} img").evaluate_all("images => images.map(image => image.src)")


def test_choosing_a_photo_shows_it_in_every_painting(page):
    ARTIFACTS.mkdir(exist_ok=True)
    page.wait_for_function("document.querySelectorAll('#looks img').length >= 5", timeout=60_000)
    before = gallery_sources(page, "#looks")
    page.locator("#photos").get_by_label("Thumbnail 2 of 3").click()  # the astronaut
    page.wait_for_function("document.querySelector('#content img')?.src.includes('astronaut')", timeout=30_000)
    deadline = time.monotonic() + 30
    while gallery_sources(page, "#looks") == before or len(gallery_sources(page, "#looks")) < 5:
        assert time.monotonic() < deadline, "the drafts did not follow the photo"
        time.sleep(0.1)
    captions = page.locator("#looks").inner_text()
    for name in ("Starry night", "The scream", "Shipwreck", "Wave", "Udnie"):
        assert name in captions, name
    page.screenshot(path=str(ARTIFACTS / "page_drafts.png"))


def test_an_example_paints_live_and_stop_keeps_the_last_picture(page):
    ARTIFACTS.mkdir(exist_ok=True)
    page.locator("#settings").get_by_text("Fine-tune the painting").first.click()
    page.get_by_label("quick look", exact=True).check()  # the preview recipe: 384 px, a frame every 5 iterations
    page.locator("#looks").get_by_label("Thumbnail 2 of 5").click()  # a click on a draft paints that painting
    page.wait_for_function("document.querySelector('#style img')?.src.includes('the_scream')", timeout=30_000)
    page.get_by_text("a draft").first.wait_for(timeout=30_000)  # the draft is the first picture
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
    assert download.is_visible() and "Download PNG (384×" in download.inner_text()
    page.screenshot(path=str(ARTIFACTS / "page_stopped.png"), full_page=True)

    frames, _ = _film(page)  # the stopped run's film ends on the picture Stop kept
    kept = _fetched(page, kept).convert("RGB").resize(frames[-1].size, Image.Resampling.LANCZOS)
    assert np.abs(np.asarray(frames[-1], float) - np.asarray(kept, float)).mean() < 10


def _fetched(page, src: str) -> Image.Image:
    return Image.open(io.BytesIO(page.request.get(src).body()))


def _film(page) -> tuple[list[Image.Image], float]:
    """Make a film of the last run on the page; wait until it plays and its WebP is offered; its frames and
    seconds, read by PyAV."""
    page.click("#make-film")
    page.locator("#film-tab-button").wait_for(timeout=30_000)
    page.wait_for_function("document.querySelector('#film video')?.readyState >= 2", timeout=30_000)
    src = page.evaluate("document.querySelector('#film video').src")
    page.locator("#animation").wait_for(timeout=60_000)  # the WebP follows: the page settles once it shows
    with av.open(io.BytesIO(page.request.get(src).body())) as container:
        assert container.streams.video[0].codec_context.name == "h264"
        frames = [frame.to_image() for frame in container.decode(video=0)]
        return frames, float(container.duration / av.time_base)


def test_a_page_whose_server_stops_answering_says_so_within_seconds(page):
    page.locator("#print").get_by_text("Print: the design above").first.click()  # where a print's id is
    page.locator("#print-id textarea, #print-id input").first.fill("abc123def0")
    page.route("**/gradio_api/app_id", lambda route: route.abort())  # as if the server were gone
    try:
        page.locator("#offline").get_by_text("The server stopped answering").wait_for(timeout=10_000)
        assert "abc123def0" in page.locator("#offline").inner_text()  # the print id to fetch it later
        page.screenshot(path=str(ARTIFACTS / "page_server_gone.png"))
    finally:
        page.unroute("**/gradio_api/app_id")
    page.wait_for_function("!document.querySelector('#offline').innerText.includes('stopped answering')",
                           timeout=10_000)
    assert "Not painting" not in page.locator("#status").inner_text()  # the line as it was, once it answers
    page.locator("#print-id textarea, #print-id input").first.fill("")


def test_a_print_lost_to_a_restart_reopens_plainly_from_its_link(page, app_server):
    import json

    from studio.room import PRINTS

    assets = Path(__file__).resolve().parent.parent / "assets"
    folder = PRINTS.root / "f00dlost01"  # what a server that stopped mid-print leaves, once restarted
    for name, source in (("content0", "astronaut.png"), ("styles0", "wave.jpg")):
        (folder / name).mkdir(parents=True, exist_ok=True)
        shutil.copyfile(assets / source, folder / name / source)
    (folder / "job.json").write_text(json.dumps(
        {"id": folder.name, "title": "sticker 1200×1200", "state": "lost", "estimate": 60, "saved": time.time(),
         "message": "the server restarted while this print was painting: please render it again", "files": {},
         "uploads": {"content": ["content0/astronaut.png"], "styles": ["styles0/wave.jpg"]},
         "settings": {"print_name": "sticker", "custom_size": "2000x2000", "fit": "fill"}}))
    try:
        page.goto(f"{app_server.rstrip('/')}/?print={folder.name}")
        page.wait_for_selector("#run", timeout=60_000)
        page.get_by_text("so it was lost").first.wait_for(timeout=30_000)
        assert "back in their boxes" in page.locator("#print-status").inner_text()
        assert "reopened" in page.locator("#status").inner_text()  # not "Press Paint to start"
        page.wait_for_function("document.querySelector('#content img')?.src.includes('astronaut')", timeout=30_000)
        page.wait_for_function("document.querySelector('#style img')?.src.includes('wave')", timeout=30_000)
        assert page.locator("#print-area").is_visible()  # the Print section is open
        assert page.locator("#fit-design input[value='fill']").is_checked()
        page.wait_for_function("document.querySelector('#print-area img')", timeout=30_000)
        assert page.locator(".toast-body").count() == 0  # no red error, no error badges
        assert "Error" not in page.locator("body").inner_text()
        page.screenshot(path=str(ARTIFACTS / "page_print_lost.png"), full_page=True)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
        page.goto(app_server)
        page.wait_for_selector("#run", timeout=60_000)


def _tiny_run(page) -> None:
    """Size 64 and 20 steps under Fine-tune the painting, closed again: a run of a few seconds. Typed once the
    page's start-up has set this machine's defaults (its estimate line follows them), which would undo them."""
    page.wait_for_function("document.querySelector('#estimate')?.innerText.includes('Takes')", timeout=60_000)
    page.locator("#settings").get_by_text("Fine-tune the painting").first.click()
    for name, value in (("size", "64"), ("steps", "20")):
        box = page.locator(f"#control-{name} input[type=number]").first
        box.fill(value)
        box.press("Enter")
    page.wait_for_function("document.querySelector('#estimate')?.innerText.includes('(64 px, 20 steps')",
                           timeout=30_000)
    page.locator("#settings").get_by_text("Fine-tune the painting").first.click()
    page.evaluate("window.scrollTo(0, 0)")  # back to the top, where a volunteer presses Paint


def _brush_stroke(page, colour: int, x: float, heights: tuple[float, float] = (0.15, 0.9)) -> None:
    """A stroke of the editor's `colour`-th brush down the photo at `x` (a share of the canvas's width), below the
    editor's zoom buttons, which lie over the canvas's top."""
    page.locator("#editor button[title=Brush]").click()
    page.locator("#editor button[title=Color]").click()
    page.locator("#editor menu.swatch button").nth(colour).click()
    canvas = page.locator("#editor .pixi-target canvas")
    canvas.scroll_into_view_if_needed()
    box = canvas.bounding_box()
    assert 0 <= box["y"] and box["y"] + box["height"] <= page.viewport_size["height"], box
    page.mouse.move(box["x"] + box["width"] * x, box["y"] + box["height"] * heights[0])
    page.mouse.down()
    for k in range(1, 21):
        y = heights[0] + (heights[1] - heights[0]) * k / 20
        page.mouse.move(box["x"] + box["width"] * x, box["y"] + box["height"] * y, steps=2)
    page.mouse.up()


def test_a_region_painted_in_the_browser_is_left_out(page, app_server):
    import io

    from PIL import Image

    ARTIFACTS.mkdir(exist_ok=True)
    fresh = page.context.browser.new_page(viewport={"width": 1366, "height": 768})  # none of the others' settings
    try:
        fresh.goto(app_server)
        fresh.wait_for_selector("#run", timeout=60_000)
        _tiny_run(fresh)
        fresh.locator("#regions-section").get_by_text("Regions:").first.click()
        fresh.locator("#editor").scroll_into_view_if_needed()
        fresh.wait_for_selector("#editor .pixi-target canvas", timeout=30_000)
        time.sleep(1)  # the photo laid in the editor
        for x in (0.76, 0.80, 0.84, 0.88):  # the right of the cat photo (centred): "leave out", the first brush
            _brush_stroke(fresh, 0, x)
        fresh.screenshot(path=str(ARTIFACTS / "page_regions_painted.png"), full_page=True)
        fresh.click("#run")
        fresh.wait_for_function("document.querySelector('#status')?.innerText.includes('done')", timeout=240_000)
        picture = Image.open(io.BytesIO(fresh.request.get(result_src(fresh)).body()))
        assert picture.mode == "RGBA" and picture.size == (64, 43)
        alpha = picture.getchannel("A")
        assert alpha.getpixel((56, 20)) == 0 and alpha.getpixel((10, 20)) == 255  # left out under the strokes only
        fresh.screenshot(path=str(ARTIFACTS / "page_regions_done.png"), full_page=True)
    finally:
        fresh.close()


def test_after_a_run_before_and_after_shows_the_photo_and_the_design(page, app_server):
    import io

    from PIL import Image

    ARTIFACTS.mkdir(exist_ok=True)
    fresh = page.context.browser.new_page(viewport={"width": 1366, "height": 768})
    try:
        fresh.goto(app_server)
        fresh.wait_for_selector("#run", timeout=60_000)
        _tiny_run(fresh)
        assert not fresh.locator("#compare-tab-button").is_visible()  # nothing to compare before a run
        fresh.click("#run")
        fresh.wait_for_function("document.querySelector('#status')?.innerText.includes('done')", timeout=240_000)
        fresh.locator("#compare-tab-button").wait_for(timeout=30_000)
        for selector in ("#result", "#status", "#download"):  # the tab shows behind the picture, pushing nothing
            assert _visible(fresh, selector), selector
        fresh.click("#compare-tab-button")
        fresh.wait_for_function("document.querySelectorAll('#compare img').length >= 2", timeout=30_000)
        sources = fresh.locator("#compare img").evaluate_all("images => images.map(image => image.src)")
        pictures = [Image.open(io.BytesIO(fresh.request.get(src).body())) for src in sources[:2]]
        assert pictures[0].size == pictures[1].size and max(pictures[0].size) == 64  # in register, the design's size
        assert _visible(fresh, "#compare") and _visible(fresh, "#download")
        fresh.screenshot(path=str(ARTIFACTS / "page_before_after_1366x768.png"))
        fresh.set_viewport_size({"width": 390, "height": 844})  # a phone
        fresh.locator("#compare").scroll_into_view_if_needed()
        box = fresh.locator("#compare").bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 390, box
        fresh.screenshot(path=str(ARTIFACTS / "page_before_after_phone.png"))
        fresh.set_viewport_size({"width": 1366, "height": 768})
        fresh.click("#run")  # a new run: the live picture comes to the front, the old comparison goes
        fresh.locator("#compare-tab-button").wait_for(state="hidden", timeout=10_000)
        assert fresh.locator("#result").is_visible()
        fresh.locator("#compare-tab-button").wait_for(timeout=240_000)  # and the new one comes at its end
    finally:
        fresh.close()


def test_the_film_of_a_run_plays_on_the_page_and_downloads_for_chat_apps(page, app_server):
    fresh = page.context.browser.new_page(viewport={"width": 1366, "height": 768})
    try:
        fresh.goto(app_server)
        fresh.wait_for_selector("#run", timeout=60_000)
        _tiny_run(fresh)
        fresh.click("#run")
        fresh.wait_for_function("document.querySelector('#status')?.innerText.includes('done')", timeout=240_000)
        frames, seconds = _film(fresh)
        design = _fetched(fresh, result_src(fresh)).convert("RGB")
        size = film_size(design.size)
        assert frames[0].size == size and max(size) == 384 and 2.5 <= seconds <= 10  # seconds, the film's size
        photo = Image.open(ASSETS / "chelsea.png").convert("RGB").resize(size, Image.Resampling.LANCZOS)
        design = design.resize(size, Image.Resampling.LANCZOS)
        assert np.abs(np.asarray(frames[0], float) - np.asarray(photo, float)).mean() < 12  # it opens on the photo
        assert np.abs(np.asarray(frames[-1], float) - np.asarray(design, float)).mean() < 12  # and ends on the design
        time.sleep(1.0)
        assert fresh.evaluate("document.querySelector('#film video').currentTime") > 0.3  # it plays, by itself
        assert _visible(fresh, "#film") and _visible(fresh, "#make-film")
        fresh.screenshot(path=str(ARTIFACTS / "page_film_1366x768.png"))
        animation = fresh.locator("#animation")
        animation.wait_for(timeout=60_000)
        assert "animated WebP" in animation.inner_text()
        with fresh.expect_download() as download:
            animation.click()
        with Image.open(download.value.path()) as webp:
            assert webp.format == "WEBP" and webp.is_animated and webp.size == size and webp.n_frames > 5
        fresh.set_viewport_size({"width": 390, "height": 844})  # a phone: the film is no taller than it is
        fresh.locator("#film").scroll_into_view_if_needed()
        box = fresh.locator("#film video").bounding_box()
        assert box["x"] >= 0 and box["x"] + box["width"] <= 390 and box["height"] <= box["width"] * size[1] / size[0] + 4, box
        fresh.screenshot(path=str(ARTIFACTS / "page_film_phone.png"))
        fresh.set_viewport_size({"width": 1366, "height": 768})
        fresh.click("#run")  # a new run: the old film goes
        fresh.locator("#film-tab-button").wait_for(state="hidden", timeout=10_000)
        assert not animation.is_visible()
    finally:
        fresh.close()


def test_a_new_photo_is_followed_once_not_in_a_loop(page, app_server, monkeypatch):
    """Uploading a photo updates what follows it (estimates, print area, region editor) once: gradio once fired
    the photo's change again and again while its handlers answered, which starved the runs of the CPU."""
    import app

    calls = []
    follow = app.follow_photo
    monkeypatch.setattr(app, "follow_photo", lambda *args: calls.append(time.monotonic()) or follow(*args))
    fresh = page.context.browser.new_page(viewport={"width": 1366, "height": 768})
    try:
        fresh.goto(app_server)
        fresh.wait_for_selector("#run", timeout=60_000)
        time.sleep(2)
        calls.clear()
        fresh.locator("#content input[type=file]").set_input_files(str(ASSETS / "astronaut.png"))
        fresh.wait_for_function("document.querySelector('#estimate')?.innerText.includes('Takes')", timeout=30_000)
        time.sleep(6)
        assert 1 <= len(calls) <= 4, f"the photo's change came {len(calls)} times in 6 s"
        assert "astronaut" in (fresh.locator("#content img").first.get_attribute("src") or "")
    finally:
        fresh.close()


@pytest.fixture
def own_server(tmp_path):
    """The studio started as a person starts it (`python app.py`), on loopback and a free port, to be killed."""
    import os
    import socket
    import subprocess
    import sys

    import httpx

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    log = tmp_path / "app.log"
    with log.open("w") as out:
        server = subprocess.Popen([sys.executable, "app.py", "--host", "127.0.0.1", "--port", str(port)],
                                  cwd=ASSETS.parent, stdout=out, stderr=subprocess.STDOUT,
                                  env={**os.environ, "NST_OFFLINE": "1", "TMPDIR": str(tmp_path),
                                       "NST_DATA": str(tmp_path / "data")})
    url = f"http://127.0.0.1:{port}/"
    deadline = time.monotonic() + 300  # it measures this machine before it answers
    while True:
        assert server.poll() is None, f"the studio exited:\n{log.read_text()[-3000:]}"
        assert time.monotonic() < deadline, f"the studio did not answer:\n{log.read_text()[-3000:]}"
        try:
            if httpx.get(url + "gradio_api/app_id", timeout=5).status_code == 200:
                break
        except httpx.TransportError:
            pass
        time.sleep(1)
    yield url, server
    server.kill()
    server.wait(timeout=30)


@pytest.mark.parametrize("signal", ["SIGTERM", "SIGKILL"])
def test_a_page_whose_server_process_is_killed_while_painting_says_so(page, own_server, signal):
    import os
    import signal as signals

    url, server = own_server
    with fresh_page(page, url) as fresh:
        fresh.wait_for_function("document.querySelector('#estimate')?.innerText.includes('on this server')",
                                timeout=60_000)
        fresh.click("#run")  # the machine's default picture: minutes on a CPU
        fresh.wait_for_function("document.querySelector('#status').innerText.includes('%')", timeout=120_000)
        os.kill(server.pid, getattr(signals, signal))
        killed = time.monotonic()
        fresh.locator("#offline").get_by_text("The server stopped answering").wait_for(timeout=5_000)
        fresh.wait_for_function("document.querySelector('#status').innerText.includes('Not painting')",
                                timeout=max(100, 5_000 - 1000 * (time.monotonic() - killed)))
        assert time.monotonic() - killed < 5.5
        status = fresh.locator("#status").inner_text()
        assert "%" not in status and "left" not in status, status  # nothing claims to paint any more
        fresh.screenshot(path=str(ARTIFACTS / f"page_server_killed_{signal}.png"))


def _thumbnails(page) -> list[dict]:
    """The looks' tiles on screen: each one's box, its picture's box and its name's box."""
    page.wait_for_function("document.querySelectorAll('#looks .thumbnail-item img').length >= 5", timeout=60_000)
    time.sleep(1)  # the drafts replace the paintings
    return page.locator("#looks .thumbnail-item").evaluate_all("""items => items.map(item => {
        const box = element => { const r = element.getBoundingClientRect(); return {x: r.x, y: r.y, w: r.width,
                                                                               h: r.height}; };
        const caption = item.querySelector('.caption-label');
        return {tile: box(item), picture: box(item.querySelector('img')), caption: caption && box(caption),
                name: caption ? caption.innerText : ''};
    })""")


@contextlib.contextmanager
def fresh_page(page, url: str, width: int = 1366, height: int = 768, ready: str = "#run"):
    """A page of its own (none of the other tests' settings) at `url`, its controls (`ready`) loaded; closed after."""
    fresh = page.context.browser.new_page(viewport={"width": width, "height": height})
    try:
        fresh.goto(url)
        fresh.wait_for_selector(ready, timeout=60_000)
        yield fresh
    finally:
        fresh.close()


def test_the_looks_are_large_enough_to_choose_from_on_a_laptop_and_a_phone(page, app_server):
    ARTIFACTS.mkdir(exist_ok=True)
    with fresh_page(page, app_server) as fresh:
        tiles = _thumbnails(fresh)
        assert len(tiles) >= 5
        for tile in tiles:
            assert tile["picture"]["w"] >= 200 and tile["picture"]["h"] >= 100, tile  # each look, large
            assert tile["name"] and tile["caption"]["y"] >= tile["picture"]["y"] + tile["picture"]["h"] - 1, tile
        assert _visible(fresh, "#looks .thumbnail-item", whole=True)  # the first row at first sight
        fresh.screenshot(path=str(ARTIFACTS / "page_looks_1366x768.png"))
        fresh.set_viewport_size({"width": 390, "height": 844})  # a phone: two to a row
        time.sleep(1)
        tiles = _thumbnails(fresh)
        rows = sorted({round(tile["tile"]["y"]) for tile in tiles})
        assert len(rows) == 3 and abs(tiles[0]["tile"]["y"] - tiles[1]["tile"]["y"]) < 2, tiles
        assert all(tile["tile"]["x"] >= 0 and tile["tile"]["x"] + tile["tile"]["w"] <= 390 for tile in tiles)
        fresh.locator("#looks").scroll_into_view_if_needed()
        fresh.screenshot(path=str(ARTIFACTS / "page_looks_phone.png"))


def test_on_a_phone_paint_brings_the_line_and_the_picture_into_sight(page, app_server):
    with fresh_page(page, app_server, 390, 844) as fresh:
        _tiny_run(fresh)
        fresh.locator("#run").scroll_into_view_if_needed()
        assert fresh.locator("#status").bounding_box()["y"] > 844  # far below Paint before
        fresh.click("#run")
        time.sleep(1.5)
        status = fresh.locator("#status").bounding_box()
        assert 0 <= status["y"] and status["y"] + 20 <= 844, status  # the line and the picture above it, in sight
        fresh.wait_for_function("document.querySelector('#status')?.innerText.includes('done')", timeout=240_000)
        fresh.screenshot(path=str(ARTIFACTS / "page_painted_phone.png"))


def test_a_photo_too_small_to_paint_is_refused_in_words_and_the_box_emptied(page, app_server, tmp_path):
    tiny = tmp_path / "dot.png"
    Image.new("RGB", (1, 1), "orange").save(tiny)
    notes = tmp_path / "holiday.jpg"
    notes.write_text("not a picture at all")
    # Once the page has put its example photo in the box: an upload while it still loads can be replaced by it.
    with fresh_page(page, app_server, ready="#content img") as fresh:
        for bad, words in ((tiny, "at least 16 pixels"), (notes, "not an image")):
            fresh.locator("#content input[type=file]").set_input_files(str(bad))
            fresh.locator(".toast-body").filter(has_text=words).first.wait_for(timeout=30_000)
            message = fresh.locator(".toast-body").filter(has_text=words).first.inner_text()
            assert "Pillow" not in message and "/" not in message, message
            fresh.wait_for_function("!document.querySelector('#content img')", timeout=10_000)  # the box emptied
            # No estimate for a photo that is gone.
            fresh.wait_for_function("!document.querySelector('#estimate').innerText.includes('Takes')",
                                    timeout=10_000)
        fresh.locator("#content input[type=file]").set_input_files(str(ASSETS / "astronaut.png"))
        fresh.wait_for_function("document.querySelector('#content img')?.src.includes('astronaut')", timeout=30_000)
        fresh.wait_for_function("document.querySelectorAll('.toast-body').length === 0", timeout=10_000)


def test_the_region_brushes_are_chosen_by_name(page, app_server):
    with fresh_page(page, app_server) as fresh:
        _tiny_run(fresh)
        fresh.locator("#regions-section").get_by_text("Regions:").first.click()
        fresh.locator("#brush-choice label").nth(3).wait_for(timeout=30_000)  # the section's contents laid out
        time.sleep(0.5)
        labels = fresh.locator("#brush-choice label").all_inner_texts()
        assert [label.strip("■ \n") for label in labels] == ["leave out", "keep the photo as it is",
                                                             "the second painting", "the painting"]
        colours = fresh.locator("#brush-choice label span").evaluate_all(
            "spans => spans.map(span => getComputedStyle(span, '::before').color)")
        assert len(set(colours)) == 4 and "rgb(255, 255, 255)" not in colours  # each seen on the white menu
        fresh.locator("#brush-choice").get_by_text("the second painting").click()
        fresh.wait_for_selector("#editor .pixi-target canvas", timeout=30_000)
        time.sleep(1)
        canvas = fresh.locator("#editor .pixi-target canvas")
        canvas.scroll_into_view_if_needed()
        box = canvas.bounding_box()  # a stroke with the brush in hand, the named one: no palette clicked
        fresh.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * 0.2)
        fresh.mouse.down()
        for k in range(1, 21):
            fresh.mouse.move(box["x"] + box["width"] * 0.5, box["y"] + box["height"] * (0.2 + 0.03 * k), steps=2)
        fresh.mouse.up()
        fresh.click("#run")  # red strokes ask for a second painting, which there is not: said so
        fresh.get_by_text("use the second painting (red)").first.wait_for(timeout=30_000)


def _sheet_bytes(page) -> bytes:
    page.click("#make-sheet")
    page.locator("#sheet").wait_for(timeout=60_000)
    href = page.evaluate("document.querySelector('#sheet a')?.href || document.querySelector('#sheet')?.href")
    if not href:
        with page.expect_download() as download:
            page.click("#sheet")
        return Path(download.value.path()).read_bytes()
    return page.request.get(href).body()


def test_the_design_on_the_page_owns_its_sheet_after_two_runs(page, app_server):
    with fresh_page(page, app_server) as fresh:
        _tiny_run(fresh)
        fresh.click("#run")
        fresh.wait_for_function("document.querySelector('#status')?.innerText.includes('done')", timeout=240_000)
        first, design = _sheet_bytes(fresh), result_src(fresh)
        fresh.locator("#style input[type=file]").set_input_files(str(ASSETS / "the_scream.jpg"))
        fresh.wait_for_function("document.querySelector('#style img')?.src.includes('the_scream')", timeout=30_000)
        fresh.click("#run")
        fresh.locator("#sheet").wait_for(state="hidden", timeout=10_000)  # the first design's sheet goes
        fresh.wait_for_function(f"document.querySelector('#result img')?.src !== {design!r} && "
                                "document.querySelector('#status')?.innerText.includes('done')", timeout=240_000)
        second = _sheet_bytes(fresh)
        assert second != first
        fresh.locator("#content input[type=file]").set_input_files(str(ASSETS / "astronaut.png"))  # a new photo
        fresh.wait_for_function("document.querySelector('#content img')?.src.includes('astronaut')", timeout=30_000)
        time.sleep(2)
        assert _sheet_bytes(fresh) == second  # still the sheet of the design on the page, not the new photo's


def test_a_print_has_its_own_cancel_and_the_main_line_follows_it(page, app_server):
    with fresh_page(page, app_server) as fresh:
        _tiny_run(fresh)
        fresh.locator("#print").get_by_text("Print: the design above").first.click()
        fresh.locator("#render").click()  # a sticker from the photo: minutes, long enough to cancel
        fresh.wait_for_function("document.querySelector('#print-id textarea, #print-id input')?.value", timeout=60_000)
        assert "printing" in fresh.locator("#status").inner_text()
        fresh.locator("#cancel-print").click()
        fresh.wait_for_function("document.querySelector('#print-status')?.innerText.includes('stopped')",
                                timeout=60_000)
        fresh.wait_for_function("document.querySelector('#status')?.innerText.includes('The print was stopped')",
                                timeout=30_000)


def test_a_design_shared_reaches_the_wall_within_seconds_and_goes_when_taken_back(page, app_server):
    with fresh_page(page, app_server) as fresh:
        _tiny_run(fresh)
        fresh.click("#run")
        fresh.wait_for_function("document.querySelector('#status')?.innerText.includes('done')", timeout=240_000)
        with fresh_page(page, app_server + "wall", ready="#wall") as wall:
            _share_and_take_back(fresh, wall)


def _share_and_take_back(fresh, wall) -> None:
    """Share the design on `fresh` under a name with HTML in it, see it on `wall`, then take it back."""
    wall.wait_for_timeout(1000)  # the wall's first drawing
    before = wall.locator(".wall-tile").count()
    fresh.locator("#share-name textarea, #share-name input").first.fill("Ada <b>Lovelace</b>")
    fresh.click("#share")
    fresh.wait_for_function("document.querySelector('#share-line')?.innerText.includes('On the wall')",
                            timeout=30_000)
    shared = time.monotonic()
    wall.wait_for_function(f"document.querySelectorAll('.wall-tile').length === {before + 1}", timeout=10_000)
    assert time.monotonic() - shared < 6  # the wall looks every 3 s
    newest = wall.locator(".wall-tile").first
    assert newest.locator("figcaption").inner_text().startswith("Ada <b>Lovelace</b>")  # as text, not HTML
    assert newest.locator("figcaption b b").count() == 0
    assert newest.locator("img").get_attribute("src").startswith("data:image/jpeg;base64,")
    wall.screenshot(path=str(ARTIFACTS / "wall.png"))
    fresh.click("#take-back")
    wall.wait_for_function(f"document.querySelectorAll('.wall-tile').length === {before}", timeout=10_000)


def test_the_facilitators_page_opens_only_with_the_key(page, app_server, app_module):
    from studio.wall import key

    with fresh_page(page, app_server + "facilitator", ready="#room-open") as room:
        room.locator("#room-key input").fill("not-the-key")
        room.click("#room-open")
        room.wait_for_selector(".toast-body", timeout=10_000)
        assert "not this session's facilitator key" in room.locator(".toast-body").first.inner_text()
        assert "The line" not in room.locator("#room-line").inner_text()
        room.locator("#room-key input").fill(key())
        room.click("#room-open")
        room.wait_for_function("document.querySelector('#room-line')?.innerText.includes('The line')",
                               timeout=10_000)
        room.wait_for_function("document.querySelector('#room-join img')?.naturalWidth > 200", timeout=10_000)
        room.screenshot(path=str(ARTIFACTS / "facilitator.png"), full_page=True)
