"""Before and after: the photo fitted to the design lines up with it, whatever the design's shape."""

from __future__ import annotations

import io

import gradio as gr
import numpy as np
import pytest
from PIL import Image

from studio.comparison import before_after, fitted_photo, live_view


def banded_photo(width: int = 120, height: int = 60) -> Image.Image:
    """Red outer quarters either side of a blue centre: what a centred crop keeps is plain to see."""
    pixels = np.zeros((height, width, 3), np.uint8)
    pixels[:, :] = (0, 0, 255)
    pixels[:, : width // 4] = pixels[:, -(width // 4):] = (255, 0, 0)
    return Image.fromarray(pixels)


@pytest.mark.parametrize("size", [(32, 32), (40, 20), (20, 40), (240, 120)])
def test_the_fitted_photo_has_the_designs_size(size):
    assert fitted_photo(banded_photo(), size).size == size


def test_a_square_design_keeps_the_photos_centre():
    square = np.asarray(fitted_photo(banded_photo(), (30, 30)))  # the middle 60x60 of 120x60: the blue half
    assert (square[..., 0] < 30).all() and (square[..., 2] > 225).all()  # both red quarters cropped away


def test_a_design_of_the_photos_shape_shows_all_of_it():
    fitted = np.asarray(fitted_photo(banded_photo(), (60, 30)))
    assert (fitted[:, :10, 0] > 200).all() and (fitted[:, -10:, 0] > 200).all()  # both red quarters whole


def test_before_after_pairs_the_photo_with_the_design_as_it_is(tmp_path):
    photo, design = tmp_path / "photo.png", tmp_path / "design.png"
    banded_photo().save(photo)
    painted = Image.new("RGBA", (40, 40), (10, 200, 30, 255))
    painted.putpixel((0, 0), (0, 0, 0, 0))  # a region left out
    painted.save(design)
    (before, after), tab = before_after(str(photo), str(design))
    assert before.size == after.size == (40, 40) and before.mode == "RGB"
    assert after.mode == "RGBA" and after.getpixel((0, 0))[3] == 0  # transparency shown as it is
    assert isinstance(tab, gr.Tab) and tab.visible


def test_a_cut_out_photo_stays_cut_out_beside_its_design(tmp_path):
    photo = banded_photo().convert("RGBA")
    photo.putalpha(Image.fromarray(np.where(np.arange(120) < 60, 0, 255).astype(np.uint8)[None].repeat(60, 0)))
    photo.save(tmp_path / "photo.png")  # its left half see-through
    Image.new("RGBA", (60, 30)).save(tmp_path / "design.png")
    (before, _), _ = before_after(str(tmp_path / "photo.png"), str(tmp_path / "design.png"))
    alpha = np.asarray(before.getchannel("A"))
    assert before.mode == "RGBA" and alpha[:, :25].max() == 0 and alpha[:, 35:].min() == 255


def test_an_exif_rotated_photo_is_fitted_as_it_is_shown(tmp_path):
    exif = Image.Exif()
    exif[0x0112] = 6  # shown turned 90 degrees clockwise: 120x60 stored, 60x120 seen
    buffer = io.BytesIO()
    banded_photo().save(buffer, "PNG", exif=exif.tobytes())
    (tmp_path / "photo.png").write_bytes(buffer.getvalue())
    Image.new("RGB", (30, 60)).save(tmp_path / "design.png")
    (before, _), _ = before_after(str(tmp_path / "photo.png"), str(tmp_path / "design.png"))
    rows = np.asarray(before)[:, 15, 0]
    assert rows[:10].min() > 200 and rows[25:35].max() < 50  # red ends top and bottom, blue between


def test_nothing_changes_without_both_pictures(tmp_path):
    (tmp_path / "broken.png").write_bytes(b"not a picture")
    for content, design in ((None, "x.png"), ("x.png", None), (str(tmp_path / "broken.png"),) * 2):
        assert before_after(content, design) == (gr.skip(), gr.skip())


def test_a_new_run_puts_the_live_picture_in_front():
    tabs, compare, film, animation, sheet = live_view()
    assert tabs.selected == "design" and not (compare.visible or film.visible or animation.visible or sheet.visible)
