"""The Gradio studio: built on import, then launched on loopback and driven by gradio_client."""

from __future__ import annotations

import io
import re
import threading
import time
from pathlib import Path

import httpx
import pytest
from PIL import Image

from gradio_client import Client, handle_file
from studio import controls

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
    names = [component.label for component in app_module.demo.blocks.values() if hasattr(component, "label")]
    for label in ("Photo", "Painting", "Keep the photo", "Paint strength", "Step size", "Steps"):
        assert label in names


def test_defaults_come_from_the_engine_config_fitted_to_the_machine(app_module):
    from studio.server import DEFAULT_WOBBLE, SLOW_CPU_BUDGET, engine

    def config_of(preset):
        return controls.make_config(dict(zip(controls.NAMES, controls.apply_preset(preset))))

    default = engine().default
    assert config_of("default") == default
    assert config_of("seed") == controls.PRESETS["seed"].replace(precision=default.precision,
                                                                   preview_seconds=default.preview_seconds)
    assert default.preview_seconds > 0  # a frame every second or two, whatever the size
    if engine().device.type == "cpu":  # the default picture fits the time people wait (as measured at a start)
        assert 384 <= default.size <= 512
        assert engine().countdown(default, (1200, 900)).total <= SLOW_CPU_BUDGET * DEFAULT_WOBBLE


def test_a_run_streams_pictures_and_ends_with_a_full_size_png(client):
    job = paint_job(client, init="content")  # the quick look leads when there is no draft
    updates = list(job)
    assert len(updates) >= 3  # several intermediate pictures, then the final one
    shown = [update for update in updates if not isinstance(update[0], dict)]  # not the heartbeats' "no change"
    pictures = [Image.open(update[0]) for update in shown]
    assert all(max(picture.size) == 64 for picture in pictures)  # quick-look frames are shown enlarged
    assert pictures[-1].size == (64, 43)
    # 20 steps at full size after the quick sketch's 6 at half size (a third of the steps at most)
    assert "done" in updates[-1][1] and "estimated" in updates[-1][1]
    download = updates[-1][3]
    download = download["value"] if isinstance(download, dict) else download  # a button update
    download = download["path"] if isinstance(download, dict) else download
    with Image.open(download) as final:
        assert final.format == "PNG" and final.size == (64, 43)
    assert len({picture.tobytes() for picture in pictures}) > 1  # the picture changed as it was painted


def test_a_run_starts_from_a_draft_shown_first_and_counts_the_steps_asked_for(client):
    updates = list(paint_job(client, init="draft"))
    assert "a draft" in updates[0][1]  # the draft is the first picture, before any iteration
    first = Image.open(updates[0][0])
    assert first.size == (64, 43)  # the draft is at full size: no half-size quick look with a draft
    assert any("step 8 of 20" in status for _, status, *_ in updates)  # 20 asked, 20 counted
    assert "done" in updates[-1][1]


def test_the_pages_looks_show_the_photo_in_every_painting(client):
    gallery = client.predict(handle_file(str(ASSETS / "astronaut.png")), handle_file(str(ASSETS / "coffee.png")),
                             api_name="/drafts")  # the gallery's endpoint: undocumented, called by position
    captions = [item["caption"] for item in gallery]
    assert captions == ["Starry night", "The scream", "Shipwreck", "Wave", "Udnie", "Your painting (Coffee)"]
    pictures = [Image.open(item["image"]) for item in gallery]
    assert {picture.size for picture in pictures} == {(256, 256)}  # the astronaut is square
    assert len({picture.tobytes() for picture in pictures}) == 6  # six paintings, six looks
    only_examples = client.predict(handle_file(str(ASSETS / "astronaut.png")), None, api_name="/drafts")
    assert len(only_examples) == 5


def test_a_broken_painting_upload_leaves_the_examples_drafted(client, tmp_path):
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not a picture at all")
    gallery = client.predict(handle_file(str(ASSETS / "chelsea.png")), handle_file(str(broken)), api_name="/drafts")
    assert [item["caption"] for item in gallery] == ["Starry night", "The scream", "Shipwreck", "Wave", "Udnie"]


def test_the_apis_defaults_are_this_machines_default_picture(client):
    from studio.server import engine

    info = client.view_api(return_format="dict", print_info=False)
    parameters = {p["parameter_name"]: p for p in info["named_endpoints"]["/paint"]["parameters"]}
    default = engine().default
    for control in controls.CONTROLS:  # what the page shows is what a call that leaves it out paints
        parameter = parameters[control.name]
        assert parameter["parameter_has_default"], control.name
        assert parameter["parameter_default"] == control.from_config(getattr(default, control.field)), control.name
    assert parameters["size"]["parameter_default"] == default.size and default.init == "draft"


def test_the_api_asks_for_a_photo_and_a_painting_and_prints_a_sticker_unless_told(client):
    endpoints = client.view_api(return_format="dict", print_info=False)["named_endpoints"]
    for name in ("/paint", "/print", "/try_paintings"):
        parameters = {p["parameter_name"]: p for p in endpoints[name]["parameters"]}
        assert not parameters["content"]["parameter_has_default"], name  # no example picture of gradio's own
        if name != "/try_paintings":
            assert not parameters["style"]["parameter_has_default"], name
    printing = {p["parameter_name"]: p for p in endpoints["/print"]["parameters"]}
    assert printing["print_name"]["parameter_default"] == "sticker"  # minutes, not the tee's hour
    assert "sticker about" in endpoints["/print"]["description"] and "tee about" in endpoints["/print"]["description"]
    assert "/drafts" not in endpoints  # the page's gallery records: callable, not offered


def test_try_paintings_gives_each_look_by_name_with_its_url(client):
    text = client.predict(handle_file(str(ASSETS / "astronaut.png")), None, api_name="/try_paintings")
    looks = re.findall(r"!\[([^]]+)\]\((http[^)]+)\)", text)
    assert [caption for caption, _ in looks] == ["Starry night", "The scream", "Shipwreck", "Wave", "Udnie"]
    draft = Image.open(io.BytesIO(httpx.get(looks[1][1], timeout=30).content))
    assert max(draft.size) == 256  # the look itself, served by this server


def test_empty_pictures_leave_the_estimates_blank_not_a_traceback(app_module):
    from gradio.data_classes import ImageData

    from studio import painting, printing

    assert printing.print_estimate(None, "tee", "", 20, None, "photo") == "Choose a photo first."
    assert "on this server" in printing.print_estimate(str(ASSETS / "chelsea.png"), "tee", "", 20, None, None)
    assert painting.estimate_line(None, 64, 10, True, "photo", "lbfgs", "draft") == ""  # no photo, no estimate
    assert "on this server" in painting.estimate_line(str(ASSETS / "chelsea.png"), 64, 10, True, "photo", "lbfgs",
                                                      "draft")
    assert controls.PictureUpload(type="filepath").preprocess(ImageData(path=None, url=None)) is None
    with pytest.raises(Exception, match="Please give both a photo and a painting"):
        next(painting.paint(None, None))


def test_the_print_estimate_says_how_a_design_of_another_shape_meets_the_print(app_module):
    from studio import printing

    photo = str(ASSETS / "chelsea.png")  # landscape, in a portrait tee
    fitted = printing.print_estimate(photo, "tee", "", 10, None, "photo", "fit")
    assert "The whole design fits in the tee" in fitted and "below it left transparent" in fitted
    filled = printing.print_estimate(photo, "tee", "", 10, None, "photo", "fill")
    assert "left and right are cropped to fill the tee" in filled
    tall = printing.print_estimate(photo, "custom", "3000x1000", 10, None, "tee", "fill")  # a tee-shaped design
    assert "top and bottom are cropped to fill the print" in tall
    assert "\n\n" not in printing.print_estimate(photo, "sticker", "", 10, None, "sticker", "fit")  # same shape


def test_the_print_area_follows_the_picture_or_the_photo_in_its_shape(app_module):
    from studio import printing

    photo, painted = str(ASSETS / "chelsea.png"), str(ASSETS / "astronaut.png")
    fitted = printing.print_area_preview(None, photo, "tee", "", "fit", "photo", False)
    assert fitted.width < fitted.height <= printing.AREA_SIDE  # the tee's shape
    sticker = printing.print_area_preview(None, photo, "tee", "", "fit", "sticker", False)
    assert sticker.size == fitted.size and sticker.tobytes() != fitted.tobytes()  # the photo cut to a square
    assert printing.print_area_preview(painted, photo, "custom", "900x300", "fill", "photo", False).width > 300
    assert printing.print_area_preview(None, None, "tee", "", "fit", "photo", False) is None
    assert printing.print_area_preview(None, photo, "custom", "9x", "fit", "photo", False) is None  # half typed


def _lost_print(root: Path, uploads: dict) -> str:
    """A print job's folder as a server that stopped while it painted left it: its uploads and settings kept."""
    import json

    folder = root / "abc123lost"
    folder.mkdir(parents=True)
    kept = {}
    for name, source in uploads.items():
        (folder / f"{name}0").mkdir()
        (folder / f"{name}0" / source.name).write_bytes(source.read_bytes())
        kept[name] = [f"{name}0/{source.name}"]
    (folder / "job.json").write_text(json.dumps(
        {"id": folder.name, "title": "sticker 1200×1200", "state": "painting", "message": "", "files": {},
         "estimate": 60, "saved": time.time(), "uploads": kept,
         "settings": {"print_name": "sticker", "custom_size": "2000x2000", "final_steps": 7, "fit": "fill"}}))
    return folder.name


def test_a_print_lost_to_a_restart_is_said_plainly_and_its_link_brings_back_what_it_was_made_of(
        app_module, tmp_path, monkeypatch):
    from studio import printing
    from studio.jobs import PrintJobs

    print_id = _lost_print(tmp_path, {"content": ASSETS / "astronaut.png", "styles": ASSETS / "wave.jpg",
                                      "approved": ASSETS / "coffee.png"})
    monkeypatch.setattr(printing, "PRINTS", PrintJobs(tmp_path))  # the restarted server
    (update,) = list(printing.open_print(print_id))
    named = dict(zip(["picture", "print_status", "tee", "mug", "download", "print_id", *printing.REOPENED], update))
    assert "was painting when the server restarted, so it was lost" in named["print_status"]
    assert "Render print" in named["print_status"] and "back in their boxes" in named["print_status"]
    assert Path(named["content"]).read_bytes() == (ASSETS / "astronaut.png").read_bytes()
    assert Path(named["style"]).name == "wave.jpg" and named["second_style"] is None
    assert Path(named["picture"]).name == "coffee.png"  # the approved picture, for Render print to start from
    assert (named["print_name"], named["final_steps"], named["fit"]) == ("sticker", 7, "fill")
    assert named["print_section"].open is True and f"Print **{print_id}** reopened" in named["status"]
    *_, (_, status, *_) = list(printing.fetch_print(print_id))  # the Fetch print button: plainly too
    assert "so it was lost" in status and "back in their boxes" not in status
    (nothing,) = list(printing.open_print(""))  # no link: every box it names is left as it is
    assert len(nothing) == 6 + len(printing.REOPENED) and all(isinstance(update, dict) for update in nothing)
    (unknown,) = list(printing.open_print("0123456789"))  # a link to a print long gone: no error either
    assert "No print with the id '0123456789'" in unknown[1] and "press **Paint**" in unknown[-1]


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


def test_cancel_returns_at_once_and_the_run_stops_within_two_seconds(client):
    job = paint_job(client, steps=3000, size=256, preview_every=100)  # frames come by the clock only
    started = time.perf_counter()
    while not any("painting" in str(update[1]) for update in job.outputs()):
        assert time.perf_counter() - started < 120, "the run never started"
        time.sleep(0.05)
    asked = time.perf_counter()
    job.cancel()
    assert time.perf_counter() - asked < 2.0, "cancel() waited for the run"
    while any(thread.name == "nst-run" for thread in threading.enumerate()):
        assert time.perf_counter() - asked < 2.5, "the run kept going after the cancel"
        time.sleep(0.02)


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

    values = dict(zip(controls.NAMES, controls.apply_preset("preview")))
    values["log_beta"] = float("nan")  # JSON clients cannot even send this, but Python callers can
    with pytest.raises(gr.Error, match="style_weight must be a finite number"):
        controls.make_config(values)


def test_a_file_that_is_not_an_image_is_refused_and_the_server_keeps_serving(client, tmp_path):
    fake = tmp_path / "holiday.png"
    fake.write_text("this is not a picture")
    with pytest.raises(Exception, match="not an image|could not"):
        paint_job(client, content=fake).result()
    outputs = paint_job(client, steps=10).result()
    assert Image.open(outputs[0]).size == (64, 43)


def _path(download):
    download = download["value"] if isinstance(download, dict) else download
    return download["path"] if isinstance(download, dict) else download


def test_the_print_section_renders_a_print_file_and_mockups(client):
    job = client.submit(content=handle_file(str(ASSETS / "astronaut.png")),
                        style=handle_file(str(ASSETS / "the_scream.jpg")), steps=10, print_name="custom",
                        custom_size="96x80", final_steps=4, colours=8, api_name="/print")
    *_, (preview, status, tee, mug, download, job_id) = list(job)
    assert "done" in status and f"(?print={job_id})" in status  # its link, to click or copy
    with Image.open(_path(download)) as design:  # the square photo kept whole inside the print, centred
        assert design.size == (96, 80) and round(design.info["dpi"][0]) == 300 and design.mode == "RGBA"
        alpha = design.getchannel("A")
        assert alpha.getpixel((3, 40)) == alpha.getpixel((92, 40)) == 0 and alpha.getpixel((48, 40)) == 255
        assert len(design.crop((8, 0, 88, 80)).convert("RGB").getcolors(4096)) <= 8
    assert Image.open(tee).size == Image.open(mug).size
    from studio import printing

    (*_, reopened) = list(printing.open_print(job_id))  # its link, as the page opens it
    named = dict(zip(["picture", "print_status", "tee", "mug", "download", "print_id", *printing.REOPENED], reopened))
    assert Path(named["content"]).read_bytes() == (ASSETS / "astronaut.png").read_bytes()
    assert Path(named["style"]).name == "the_scream.jpg"
    assert (named["print_name"], named["custom_size"], named["fit"]) == ("custom", "96x80", "fit")
    assert named["print_section"].open is True and "reopened" in named["status"] and "done" in named["print_status"]
    assert named["picture"].size == (80, 80)  # the design in its own shape, as painted


def _similarity(print_file, approved):
    """(mean absolute difference in 8-bit levels, SSIM) of the print shrunk to the approved picture's size."""
    import numpy as np

    from nst_core.images import ssim

    with Image.open(approved) as reference, Image.open(print_file) as printed:
        small = printed.convert("RGB").resize(reference.size, Image.Resampling.LANCZOS)
        a, b = (np.asarray(picture, dtype=np.float32) for picture in (reference.convert("RGB"), small))
    return float(np.abs(a - b).mean()), ssim(a / 255, b / 255)


def test_a_print_is_the_approved_picture_with_more_detail(client):
    settings = {"content": handle_file(str(ASSETS / "chelsea.png")),
                "style": handle_file(str(ASSETS / "the_scream.jpg")), "size": 96, "steps": 40, "shape": "sticker"}
    approved = client.predict(**settings, api_name="/paint")[0]
    assert Image.open(approved).size == (96, 96)  # the print's shape is painted, and seen, before the print
    printed = {}
    for start in (approved, None):
        *_, (_, status, _, _, download, _) = list(client.submit(
            **settings, print_name="custom", custom_size="200x200", final_steps=10,
            approved=handle_file(approved) if start else None, api_name="/print"))
        printed[start] = _path(download)
    difference, similarity = _similarity(printed[approved], approved)
    repainted = _similarity(printed[None], approved)
    assert difference < 12 and similarity > 0.6, (difference, similarity)
    assert repainted[0] > 1.5 * difference and repainted[1] < similarity, (repainted, difference, similarity)


def test_a_print_goes_on_when_its_page_is_closed(client):
    job = client.submit(content=handle_file(str(ASSETS / "astronaut.png")),
                        style=handle_file(str(ASSETS / "the_scream.jpg")), steps=30, print_name="custom",
                        custom_size="120x120", final_steps=5, api_name="/print")
    started = time.perf_counter()
    while not job.outputs():
        assert time.perf_counter() - started < 120, "the print never reported"
        time.sleep(0.05)
    job_id = job.outputs()[0][-1]
    job.cancel()  # the tab closes: the page stops watching, the print does not stop
    time.sleep(1)
    *_, (preview, status, tee, mug, download, same) = list(client.submit(job_id, api_name="/fetch_print"))
    assert same == job_id and "done" in status
    with Image.open(_path(download)) as design:
        assert design.size == (120, 120)
    with pytest.raises(Exception, match="No print with the id"):
        client.predict("0123456789", api_name="/fetch_print")


def test_a_bad_custom_print_size_is_a_readable_error(client):
    with pytest.raises(Exception, match="print size"):
        client.submit(content=handle_file(str(ASSETS / "astronaut.png")),
                      style=handle_file(str(ASSETS / "the_scream.jpg")), print_name="custom",
                      custom_size="huge", api_name="/print").result()


def test_a_bad_upload_is_one_line_in_the_log_not_a_traceback(client, tmp_path, capfd, caplog):
    fake = tmp_path / "holiday.png"
    fake.write_text("this is not a picture")
    with caplog.at_level("INFO", logger="tee-style-studio"), pytest.raises(Exception, match="not an image"):
        paint_job(client, content=fake).result()
    assert "Traceback" not in capfd.readouterr().err
    assert [record.message for record in caplog.records if record.name == "tee-style-studio"] == [
        "refused: the photo is not an image this studio can read: use a PNG, JPEG, WebP, TIFF, BMP or GIF picture"]


def _regions_file(tmp_path, bands, size=(128, 84), name="regions.png"):
    """A region image of vertical bands of (RGBA colour, share of the width), left to right."""
    import numpy as np

    width, height = size
    image, left = np.zeros((height, width, 4), np.uint8), 0
    for colour, share in bands:
        image[:, left:left + round(share * width)] = colour
        left += round(share * width)
    path = tmp_path / name
    Image.fromarray(image, "RGBA").save(path)
    return path


KEEP, PAINT, SECOND, OUT = (0, 0, 0, 255), (255, 255, 255, 255), (255, 0, 0, 255), (0, 0, 0, 0)


def test_regions_keep_the_photo_and_leave_out_the_rest_in_the_picture_and_its_download(client, tmp_path):
    regions = _regions_file(tmp_path, [(KEEP, 0.3), (PAINT, 0.4), (OUT, 0.3)])
    outputs = paint_job(client, regions=handle_file(str(regions)), init="content").result()
    with Image.open(outputs[0]) as picture, Image.open(_path(outputs[3])) as download:
        for shown in (picture, download):
            assert shown.mode == "RGBA" and shown.size == (64, 43)
            alpha = shown.getchannel("A")
            assert alpha.getpixel((5, 20)) == alpha.getpixel((32, 20)) == 255 and alpha.getpixel((60, 20)) == 0
        with Image.open(ASSETS / "chelsea.png") as photo:
            photo = photo.convert("RGB").resize(picture.size, Image.Resampling.LANCZOS)
            kept = [abs(a - b) for x in range(14) for y in range(43)
                    for a, b in zip(picture.getpixel((x, y))[:3], photo.getpixel((x, y)))]
            assert sum(kept) / len(kept) < 3  # the photo itself, to the rounding of the resize


@pytest.mark.parametrize("bands, second, words", [
    ([((0, 180, 0, 255), 1.0)], None, "colours outside the code"),
    ([(OUT, 1.0)], None, "leaves everything out"),
    ([(PAINT, 0.5), (SECOND, 0.5)], None, "second painting \\(red\\), but there is none"),
])
def test_bad_regions_are_refused_with_what_to_do(client, tmp_path, bands, second, words):
    regions = _regions_file(tmp_path, bands)
    with pytest.raises(Exception, match=words) as error:
        paint_job(client, regions=handle_file(str(regions))).result()
    assert str(tmp_path) not in str(error.value)  # the server's paths are not shown to the person


def test_a_print_with_regions_has_their_transparency_in_the_file_and_the_mockup(client, tmp_path):
    regions = _regions_file(tmp_path, [(PAINT, 0.5), (OUT, 0.5)], size=(100, 100))
    job = client.submit(content=handle_file(str(ASSETS / "astronaut.png")),
                        style=handle_file(str(ASSETS / "the_scream.jpg")), steps=10, print_name="custom",
                        custom_size="96x96", final_steps=3, regions=handle_file(str(regions)), api_name="/print")
    *_, (_, status, tee, _, download, _) = list(job)
    assert "done" in status
    with Image.open(_path(download)) as design:
        alpha = design.getchannel("A")
        assert design.mode == "RGBA" and alpha.getpixel((20, 48)) == 255 and alpha.getpixel((80, 48)) == 0
    with Image.open(tee) as mockup:  # the shirt shows where the design is left out: the print area's right half
        from nst_core.mockup import tee_print_box

        x0, y0, x1, y1 = tee_print_box(mockup.width)
        inside, outside = mockup.getpixel((x0 + (x1 - x0) // 4, y0 + 20)), mockup.getpixel((x1 - 5, y0 + 20))
        assert max(outside) - min(outside) < 12 and inside != outside  # grey cloth, then the painted design
