"""Tee and mug mock-ups: sizes, where the design lands, its aspect ratio, its transparency."""

import numpy as np
import pytest
from PIL import Image

from nst_core.mockup import BACKGROUND, PRINT_AREA_WIDTH, TEE_BODY, mug_mockup, tee_mockup, tee_print_box

SIZE = 240  # small: every mock-up is drawn three times larger for anti-aliasing
RED = (230, 20, 20)


def red_pixels(picture: Image.Image) -> np.ndarray:
    array = np.asarray(picture).astype(int)
    return (array[..., 0] > 150) & (array[..., 1] < 90) & (array[..., 2] < 90)


def bounding_box(mask: np.ndarray) -> tuple[int, int, int, int]:
    rows, columns = np.flatnonzero(mask.any(1)), np.flatnonzero(mask.any(0))
    return columns[0], rows[0], columns[-1] + 1, rows[-1] + 1


def corners(picture: Image.Image) -> list[tuple[int, int, int]]:
    width, height = picture.size
    return [picture.getpixel(point) for point in [(1, 1), (width - 2, 1), (1, height - 2), (width - 2, height - 2)]]


@pytest.mark.parametrize("draw", [tee_mockup, mug_mockup])
def test_mockups_are_square_rgb_pictures_of_the_asked_size(draw):
    for size in (SIZE, 181):
        picture = draw(Image.new("RGB", (40, 30), RED), size=size)
        assert picture.mode == "RGB" and picture.size == (size, size)


def test_the_print_box_has_the_tee_presets_shape_and_sits_on_the_chest():
    x0, y0, x1, y1 = tee_print_box(900)
    assert (x1 - x0) / (y1 - y0) == pytest.approx(4500 / 5400, rel=0.01)
    left, right = TEE_BODY
    assert (x1 - x0) == pytest.approx(PRINT_AREA_WIDTH * (right - left) * 900, abs=1)
    assert (x0 + x1) / 2 == pytest.approx(450, abs=1)  # centred
    assert left * 900 < x0 and x1 < right * 900 and 0.2 * 900 < y0 and y1 < 0.75 * 900


def test_a_red_design_lands_in_the_print_box_and_nowhere_else():
    picture = tee_mockup(Image.new("RGB", (450, 540), RED), size=SIZE)
    x0, y0, x1, y1 = tee_print_box(SIZE)
    red = red_pixels(picture)
    assert red[(y0 + y1) // 2, (x0 + x1) // 2]
    assert red[y0 + 1:y1 - 1, x0 + 1:x1 - 1].all()  # the design fills the box: it has the box's shape
    red[y0 - 1:y1 + 1, x0 - 1:x1 + 1] = False
    assert not red.any()
    assert all(pixel == BACKGROUND for pixel in corners(picture))  # outside the shirt


@pytest.mark.parametrize("design_size", [(400, 100), (300, 150), (100, 300), (60, 400)])
def test_the_designs_aspect_ratio_is_kept_and_it_hangs_from_the_top_of_the_box(design_size):
    picture = tee_mockup(Image.new("RGB", design_size, RED), size=SIZE)
    x0, y0, x1, y1 = tee_print_box(SIZE)
    left, top, right, bottom = bounding_box(red_pixels(picture))
    assert (right - left) / (bottom - top) == pytest.approx(design_size[0] / design_size[1], rel=0.08)
    assert x0 - 1 <= left and right <= x1 + 1 and top == pytest.approx(y0, abs=1) and bottom <= y1 + 1
    assert (left + right) / 2 == pytest.approx((x0 + x1) / 2, abs=1)  # centred
    wide = design_size[0] / design_size[1] > (x1 - x0) / (y1 - y0)
    assert (right - left == pytest.approx(x1 - x0, abs=2)) if wide else (bottom - top == pytest.approx(y1 - y0, abs=2))


def test_transparent_parts_of_a_design_show_the_fabric():
    green = (40, 160, 60)
    design = Image.new("RGBA", (450, 540), (*RED, 255))
    design.paste((0, 0, 0, 0), (0, 0, 225, 540))  # left half transparent (and black under the alpha)
    picture = np.asarray(tee_mockup(design, shirt_colour=green, size=SIZE)).astype(int)
    x0, y0, x1, y1 = tee_print_box(SIZE)
    middle = (y0 + y1) // 2
    left, right = picture[middle, x0 + (x1 - x0) // 4], picture[middle, x0 + 3 * (x1 - x0) // 4]
    assert np.abs(left - green).max() < 20  # fabric, only lit a little differently
    assert right[0] > 150 and right[1] < 90  # ink


def test_a_dark_shirt_does_not_drown_the_print():
    picture = tee_mockup(Image.new("RGB", (450, 540), (250, 250, 250)), shirt_colour=(20, 20, 30), size=SIZE)
    x0, y0, x1, y1 = tee_print_box(SIZE)
    assert min(picture.getpixel(((x0 + x1) // 2, (y0 + y1) // 2))) > 190


def test_the_mug_shows_the_middle_of_the_wrap_on_its_front():
    design = Image.new("RGB", (2700, 1100), (20, 20, 230))
    design.paste(RED, (1100, 0, 1600, 1100))  # a red band down the middle of the wrap
    picture = mug_mockup(design, size=SIZE)
    red = red_pixels(picture)
    left, top, right, bottom = bounding_box(red)
    middle = SIZE // 2
    assert red[middle, (left + right) // 2] and not red[:, : left - 1].any() and not red[:, right + 1:].any()
    assert 0.1 * SIZE < right - left < 0.3 * SIZE  # 500 of the wrap's 2700 px, seen face on
    assert all(pixel == BACKGROUND for pixel in corners(picture))


def test_the_mug_stays_white_where_the_design_is_transparent():
    picture = mug_mockup(Image.new("RGBA", (2700, 1100), (0, 0, 0, 0)), size=SIZE)
    blank = mug_mockup(Image.new("RGB", (2700, 1100), (250, 250, 248)), size=SIZE)
    difference = np.abs(np.asarray(picture).astype(int) - np.asarray(blank).astype(int))
    assert difference.max() <= 2  # no dark fringe where transparent black meets the mug


@pytest.mark.parametrize("design_size", [(600, 100), (100, 600)])
def test_the_mug_takes_wide_and_tall_designs(design_size):
    picture = mug_mockup(Image.new("RGB", design_size, RED), size=SIZE)
    left, top, right, bottom = bounding_box(red_pixels(picture))
    assert right > left and bottom > top
    if design_size[0] < design_size[1]:  # a tall design fits the wrap's height: a narrow strip on the front
        assert right - left < 0.15 * SIZE and bottom - top > 0.4 * SIZE
