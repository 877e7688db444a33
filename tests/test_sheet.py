"""The design sheet: what it shows, its settings in words, and a command that paints the same recipe again."""

import numpy as np
from PIL import Image

from nst_core import StyleConfig
from nst_core.__main__ import build_parser, config_from_args
from nst_core.sheet import WIDTH, design_sheet, repaint_command, settings_in_words, title
from tests.pictures import smooth_picture, stripes_picture


def test_titles_come_from_file_names():
    assert title("assets/the_starry_night.jpg") == "The starry night"
    assert title("/tmp/x/my-cat.png") == "My cat"


def test_the_settings_in_words_name_what_repaints_the_design():
    config = StyleConfig(size=384, steps=120, style_weight=3e6, content_weight=2.5, style_scale=1.5,
                         colour="luminance", seed=7, init="noise")
    words = "\n".join(settings_in_words(config))
    for expected in ("Paint strength 6.5", "3e6", "Keep the photo 2.5", "Brush size 1.5x", "the photo's, painted",
                     "384 px", "120 steps", "seed) 7", "noise"):
        assert expected in words, expected
    assert words.isascii()  # the sheet's built-in font has no Greek letters


def test_the_command_on_the_sheet_paints_the_same_recipe():
    config = StyleConfig(size=320, steps=90, optimizer="adam", lr=0.02, style_weight=2e5, tv_weight=1.5, tone_weight=2.5,
                         init="draft", seed=3, style_scale=0.75, pooling="avg", colour="histogram",
                         style_blend=(3.0, 1.0))
    command = repaint_command(config, "photo.png", ["a.jpg", "b.jpg"], "regions.png")
    arguments = build_parser().parse_args(command.split()[3:])
    assert arguments.regions == "regions.png" and arguments.style == ["a.jpg", "b.jpg"]
    again = config_from_args(arguments)
    for field in ("size", "steps", "optimizer", "lr", "content_weight", "tone_weight", "style_weight", "tv_weight",
                  "init", "seed",
                  "style_scale", "pooling", "colour", "style_blend"):
        assert getattr(again, field) == getattr(config, field), field


def test_the_sheet_shows_the_pictures_the_mockups_and_the_words():
    design = np.dstack([stripes_picture(3, 96), np.full((96, 96), 255, np.uint8)])
    design[:, 48:, 3] = 0  # the right half left out: a checkerboard on the sheet
    sheet = design_sheet(smooth_picture(1, 60, 80), [(stripes_picture(2), "Stripes")],
                         Image.fromarray(design, "RGBA"), StyleConfig(), command="python -m nst_core a b")
    assert sheet.width == WIDTH and sheet.height > WIDTH // 2
    pixels = np.asarray(sheet)
    rows = (pixels != 255).any(axis=(1, 2))
    assert rows[:100].any() and rows[600:1200].any() and rows[-300:].any()  # heading, mock-ups, words


def test_the_pages_sheet_is_made_from_the_picture_on_the_page(app_module, tmp_path):
    import gradio as gr
    import pytest

    from studio import controls
    from studio.sheet import sheet_file

    assets = app_module.ASSETS
    design = tmp_path / "design.png"
    Image.fromarray(stripes_picture(4, 64)).save(design)
    settings = controls.apply_preset("default")
    button = sheet_file(str(assets / "chelsea.png"), str(assets / "wave.jpg"), None, str(design), None, "photo",
                        0.5, *settings)
    path = button.value["path"] if isinstance(button.value, dict) else button.value
    with Image.open(path) as sheet:
        assert sheet.width == WIDTH and "design sheet" in button.label
    with pytest.raises(gr.Error, match="Paint a picture first"):
        sheet_file(str(assets / "chelsea.png"), str(assets / "wave.jpg"), None, None, None, "photo", 0.5, *settings)


def test_regions_painted_on_the_page_are_on_its_sheet_and_in_its_command(app_module, tmp_path, monkeypatch):
    from studio import controls, sheet

    drawn = {}
    monkeypatch.setattr(sheet, "design_sheet", lambda *args: drawn.setdefault("args", args) and Image.new("RGB", (8, 8)))
    design, regions = tmp_path / "design.png", tmp_path / "tmp-gradio-upload.png"
    Image.fromarray(stripes_picture(4, 64)).save(design)
    code = Image.new("RGBA", (64, 48), (255, 255, 255, 255))
    code.paste((0, 0, 0, 255), (0, 0, 20, 48))
    code.save(regions)
    assets = app_module.ASSETS
    sheet.sheet_file(str(assets / "chelsea.png"), str(assets / "wave.jpg"), None, str(design), str(regions), "photo",
                     0.5, *controls.apply_preset("default"))
    *_, command, strokes = drawn["args"]
    assert command.endswith("--regions regions.png") and str(tmp_path) not in command  # no server path
    assert np.array_equal(np.asarray(strokes), np.asarray(code))


def test_the_regions_picture_is_on_the_sheet():
    code = Image.new("RGBA", (60, 80), (255, 255, 255, 255))
    code.paste((255, 0, 0, 255), (0, 0, 30, 80))  # the second painting on the left
    args = (smooth_picture(1, 60, 80), [(stripes_picture(2), "A"), (stripes_picture(3), "B")],
            Image.fromarray(stripes_picture(4, 64)), StyleConfig())
    with_regions, without = np.asarray(design_sheet(*args, "", code)), np.asarray(design_sheet(*args))
    red = [(sheet[:600, ..., 0] > 240) & (sheet[:600, ..., 1:] < 15).all(-1) for sheet in (with_regions, without)]
    assert red[0].sum() > 100 * max(1, red[1].sum())  # the red region, which the paintings and design lack
