"""The Gradio studio: built on import, then launched on loopback and driven by gradio_client."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest
from PIL import Image

from gradio_client import Client, handle_file

ASSETS = Path(__file__).resolve().parent.parent / "assets"
SMALL = {"size": 64, "steps": 20, "preview_every": 4}


@pytest.fixture(scope="module")
def client(app_server):
    return Client(app_server, verbose=False)


def paint_job(client, content=ASSETS / "chelsea.png", style=ASSETS / "starry_night.jpg", **settings):
    return client.submit(content=handle_file(str(content)), style=handle_file(str(style)),
                         **{**SMALL, **settings}, api_name="/paint")


def test_import_builds_the_demo_without_a_server(app_module):
    import gradio as gr

    assert isinstance(app_module.demo, gr.Blocks)
    assert app_module.BACKBONE.description  # shown on the page
    names = [component.label for component in app_module.demo.blocks.values() if hasattr(component, "label")]
    for label in ("Photo", "Painting", "Content weight α", "Style weight log₁₀ β", "Learning rate", "Steps"):
        assert label in names


def test_defaults_come_from_the_engine_config(app_module):
    config = app_module.make_config(*app_module.apply_preset("default"))
    assert config == app_module.PRESETS["default"]
    assert app_module.make_config(*app_module.apply_preset("seed")) == app_module.PRESETS["seed"]


def test_a_run_streams_pictures_and_ends_with_a_full_size_png(client):
    job = paint_job(client)
    updates = list(job)
    assert len(updates) >= 3  # several intermediate pictures, then the final one
    pictures = [Image.open(update[0]) for update in updates]
    assert all(max(picture.size) == 64 for picture in pictures)  # quick-start frames are shown enlarged
    assert pictures[-1].size == (64, 43)
    # 20 steps at full size after the quick sketch's 6 at half size (a third of the steps at most)
    assert "done" in updates[-1][1] and "iteration 26 / 26" in updates[-1][1]
    download = updates[-1][3]
    download = download["value"] if isinstance(download, dict) else download  # a button update
    download = download["path"] if isinstance(download, dict) else download
    with Image.open(download) as final:
        assert final.format == "PNG" and final.size == (64, 43)
    assert len({picture.tobytes() for picture in pictures}) > 1  # the picture changed as it was painted


def test_a_cancelled_job_stops_within_a_preview_interval(client):
    job = paint_job(client, steps=3000, size=96, preview_every=5)
    started = time.perf_counter()
    while len(job.outputs()) < 2:
        assert time.perf_counter() - started < 120, "no frames arrived"
        time.sleep(0.05)
    frames = job.outputs()
    interval = max(0.2, (time.perf_counter() - started) / len(frames))
    job.cancel()
    cancelled = time.perf_counter()
    while any(thread.name == "nst-run" for thread in threading.enumerate()):
        assert time.perf_counter() - cancelled < 5 * interval + 3, "the run kept going after Stop"
        time.sleep(0.02)
    assert "iteration 3000" not in str(frames[-1][1])


@pytest.mark.parametrize("settings, words", [  # the sliders' own bounds, or the engine's config, explain
    ({"steps": -5}, "Value -5 is less than minimum value 10"),
    ({"lr": 1e9}, "greater than maximum value 2"),
    ({"size": 100_000}, "greater than maximum value 1024"),
    ({"optimizer": "adam", "lr": 1.5}, "Please check the settings: lr must be above 0 and at most 1"),
    ({"seed": -3}, "less than minimum value 0|seed must be between"),
])
def test_absurd_settings_come_back_as_readable_errors(client, settings, words):
    with pytest.raises(Exception, match=words):
        paint_job(client, **settings).result()


def test_non_finite_settings_are_refused_before_a_run(app_module):
    import gradio as gr

    values = list(app_module.apply_preset("preview"))
    values[1] = float("nan")  # log10 beta; JSON clients cannot even send this, but Python callers can
    with pytest.raises(gr.Error, match="style_weight must be a finite number"):
        app_module.make_config(*values)


def test_a_file_that_is_not_an_image_is_refused_and_the_server_keeps_serving(client, tmp_path):
    fake = tmp_path / "holiday.png"
    fake.write_text("this is not a picture")
    with pytest.raises(Exception, match="not an image|could not"):
        paint_job(client, content=fake).result()
    outputs = paint_job(client, steps=10).result()
    assert Image.open(outputs[0]).size == (64, 43)


def test_the_print_section_renders_a_print_file_and_mockups(client):
    job = client.submit(content=handle_file(str(ASSETS / "astronaut.png")),
                        style=handle_file(str(ASSETS / "the_scream.jpg")), steps=10, print_name="custom",
                        custom_size="96x80", final_steps=4, colours=8, api_name="/print")
    *_, (preview, status, tee, mug, download) = list(job)
    assert "done" in status
    download = download["value"] if isinstance(download, dict) else download
    download = download["path"] if isinstance(download, dict) else download
    with Image.open(download) as design:
        assert design.size == (96, 80) and round(design.info["dpi"][0]) == 300
        assert len(design.convert("RGB").getcolors(4096)) <= 8
    assert Image.open(tee).size == Image.open(mug).size


def test_a_bad_custom_print_size_is_a_readable_error(client):
    with pytest.raises(Exception, match="print size"):
        client.submit(content=handle_file(str(ASSETS / "astronaut.png")),
                      style=handle_file(str(ASSETS / "the_scream.jpg")), print_name="custom",
                      custom_size="huge", api_name="/print").result()
