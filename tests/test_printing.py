"""The print plan: coarse to fine up to print size; a design of another shape fitted whole inside the print
area (the rest transparent) or cropped to fill it; the picture of the print area before it is rendered."""

import numpy as np
import pytest
import torch
from PIL import Image

from nst_core import StyleConfig
from nst_core.export import PRINT_PRESETS
from nst_core.printing import CHECKER, export_design, pad_design, place_design, print_area, print_config


def test_the_tee_plan_paints_small_first_and_ends_at_print_size():
    config = print_config("tee", StyleConfig(steps=300))
    assert config.size == 5400 and config.aspect == pytest.approx(4500 / 5400)
    assert config.scales == (512, 1024, 2048, ) and config.scale_steps == (300, 100, 33)
    assert config.steps == 10 and config.total_steps == 443


def test_a_small_print_is_painted_at_one_scale():
    config = print_config("300x200", StyleConfig(steps=50))
    assert config.scales == () and config.steps == 50 and config.size == 300


def test_a_transparent_sticker_keeps_the_photos_alpha(tmp_path):
    photo = Image.new("RGBA", (80, 40), (200, 30, 30, 255))
    photo.paste((0, 0, 0, 0), (0, 0, 40, 40))  # the left half is transparent
    files = export_design(torch.rand(3, 30, 60), tmp_path / "sticker.png", photo, transparent=True)
    with Image.open(files.design) as sticker:
        alpha = sticker.getchannel("A")
        assert sticker.mode == "RGBA" and alpha.getpixel((5, 15)) == 0 and alpha.getpixel((55, 15)) == 255


ASPECTS = (0.2, 0.5, 451 / 300, 1.0, 4500 / 5400, 4 / 3, 2.7, 7.5)
SIZES = (*PRINT_PRESETS.values(), (97, 31), (1000, 1001))


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("aspect", ASPECTS)
def test_a_fitted_design_keeps_its_shape_inside_the_print_at_the_largest_size(aspect, size):
    for top_aligned in (False, True):
        placement = place_design(aspect, size, "fit", top_aligned)
        (left, top, right, bottom), (width, height) = placement.box, placement.design
        assert 0 <= left < right <= size[0] and 0 <= top < bottom <= size[1]  # inside the print
        assert abs(width - height * aspect) <= max(1, aspect), (width, height)  # the aspect, within a pixel
        assert width == size[0] or height == size[1]  # as large as fits: one side is the print's
        assert abs(left - (size[0] - right)) <= 1  # centred across
        assert top == 0 if top_aligned else abs(top - (size[1] - bottom)) <= 1
        assert placement.padded == ((width, height) != size)
    assert place_design(aspect, size, "fill").box == (0, 0, *size)  # painted at the print's size


def test_a_design_of_the_prints_shape_is_not_padded_and_a_bad_fit_is_refused():
    assert not place_design(4500 / 5400, (4500, 5400)).padded
    with pytest.raises(ValueError, match="fit must be one of fit, fill"):
        place_design(1.0, (100, 100), "stretch")


def test_padding_keeps_every_pixel_of_the_design_and_multiplies_its_own_alpha():
    placement = place_design(2.0, (60, 90), top_aligned=True)
    assert placement.box == (0, 0, 60, 30)
    picture = torch.rand(1, 3, 30, 60)
    canvas, alpha = pad_design(picture, None, placement)
    assert canvas.shape == (1, 3, 90, 60) and alpha.shape == (1, 1, 90, 60)
    assert torch.equal(canvas[..., :30, :], picture)  # never cropped
    assert torch.all(alpha[..., :30, :] == 1) and torch.all(alpha[..., 30:, :] == 0)
    own = torch.rand(1, 1, 30, 60)
    _, combined = pad_design(picture, own, placement)
    assert torch.equal(combined[..., :30, :], own) and torch.all(combined[..., 30:, :] == 0)


@pytest.mark.parametrize("suffix, bits", [(".png", 8), (".tif", 16)])
def test_a_landscape_design_in_a_portrait_print_is_whole_with_the_rest_transparent(tmp_path, suffix, bits):
    placement = place_design(2.0, (60, 90))  # centred: rows 30 to 60
    files = export_design(torch.rand(3, 30, 60), tmp_path / f"print{suffix}", placement=placement, bits=bits,
                          mockups=bits == 8)
    samples = _samples(files.design)
    assert samples.shape == (90, 60, 4)  # the print's size, RGBA
    alpha = samples[..., 3] / samples[..., 3].max()
    assert np.all(alpha[30:60] == 1) and np.all(alpha[:30] == 0) and np.all(alpha[60:] == 0)
    if files.tee:
        assert Image.open(files.tee).size == Image.open(files.mug).size


def test_the_photos_transparency_and_the_padding_combine(tmp_path):
    photo = Image.new("RGBA", (80, 40), (200, 30, 30, 255))
    photo.paste((0, 0, 0, 0), (0, 0, 40, 40))  # the left half is transparent
    files = export_design(torch.rand(3, 30, 60), tmp_path / "sticker.png", photo, transparent=True,
                          placement=place_design(2.0, (60, 60)))  # rows 15 to 45
    with Image.open(files.design) as sticker:
        alpha = sticker.getchannel("A")
        assert sticker.size == (60, 60)
        assert alpha.getpixel((55, 30)) == 255  # the photo's opaque half, inside the design
        assert alpha.getpixel((5, 30)) == 0 and alpha.getpixel((55, 5)) == 0 and alpha.getpixel((55, 55)) == 0


def test_the_print_area_shows_the_fitted_design_over_a_checkerboard_and_the_filled_one_cropped():
    red = Image.new("RGB", (200, 100), (220, 20, 20))
    fitted = np.asarray(print_area(red, (4500, 5400), "fit", top_aligned=True, side=240))
    assert max(fitted.shape[:2]) <= 240
    top_band, bottom_band = fitted[15:40, 30:-30], fitted[-40:-15, 30:-30]  # inside the print's outline
    assert _reddish(top_band).mean() > 0.95  # the design at the top of the tee
    assert not _reddish(bottom_band).any()  # under it, transparent: the checkerboard's two greys
    assert {tuple(pixel) for pixel in bottom_band.reshape(-1, 3)} == set(CHECKER)
    filled = np.asarray(print_area(red, (4500, 5400), "fill", side=240))
    assert max(filled.shape[:2]) <= 240 and filled.shape[1] > filled.shape[0]  # the cropped sides shown too
    middle = filled.shape[1] // 2
    assert _reddish(filled[15:-15, middle - 40:middle + 40]).all()  # the print area is all design
    assert not _reddish(filled[15:-15, 2:12]).any()  # the cropped edge, faded


def _reddish(pixels: np.ndarray) -> np.ndarray:
    return (pixels[..., 0] > 150) & (pixels[..., 1] < 100)


def _samples(path) -> np.ndarray:
    """A print file's samples, 8- or 16-bit, as (H, W, C)."""
    if path.suffix == ".png":
        return np.asarray(Image.open(path))
    from tests.test_export import read_tiff16

    return read_tiff16(path)
