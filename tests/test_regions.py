"""Regions: the colour code read and checked, guided Gram matrices, and runs that keep, paint and leave out."""

import numpy as np
import pytest
import torch
from PIL import Image

from nst_core import ImageError, StyleConfig, losses, stylize
from nst_core.images import load_image
from nst_core.regions import Regions
from nst_core.stylize import compute_targets, objective
from nst_core.tiling import margin_for, plan_tiles, tiled_backward
from tests.pictures import smooth_picture, stripes_picture

WHITE, RED, BLACK, CLEAR = (255, 255, 255, 255), (255, 0, 0, 255), (0, 0, 0, 255), (0, 0, 0, 0)


def region_image(height: int, width: int, *bands) -> np.ndarray:
    """An RGBA region image: vertical bands of (colour, share of the width), left to right."""
    image = np.zeros((height, width, 4), np.uint8)
    left = 0
    for colour, share in bands:
        right = left + round(share * width)
        image[:, left:right] = colour
        left = right
    return image


def test_the_colour_code_gives_each_channel_its_share():
    image = region_image(20, 80, (WHITE, 0.25), (RED, 0.25), (BLACK, 0.25), (CLEAR, 0.25))
    regions = Regions.read(image, Image.new("RGB", (80, 20)))
    assert regions.painted == 2
    middles = regions.shares[0, :, 10, [10, 30, 50, 70]]  # (channel, band), away from the feathered borders
    torch.testing.assert_close(middles, torch.eye(4), atol=1e-3, rtol=0)
    assert torch.allclose(regions.shares.sum(1), torch.ones(1), atol=1e-5)


def test_greys_and_pinks_blend():
    grey, pink = (128, 128, 128, 255), (255, 128, 128, 255)
    regions = Regions.read(region_image(10, 40, (grey, 0.5), (pink, 0.5)), Image.new("RGB", (40, 10)))
    painting, second, photo, _ = regions.shares[0, :, 5, 5]
    assert painting == pytest.approx(0.5, abs=0.01) and photo == pytest.approx(0.5, abs=0.01) and second < 0.01
    painting, second, photo, _ = regions.shares[0, :, 5, 35]
    assert painting == pytest.approx(0.5, abs=0.01) and second == pytest.approx(0.5, abs=0.01) and photo < 0.01


def test_no_regions_and_an_opaque_photo_mean_no_regions():
    assert Regions.read(None, Image.new("RGB", (40, 30))) is None


def test_the_photos_own_transparency_is_left_out(tmp_path):
    photo = np.full((30, 40, 4), 200, np.uint8)
    photo[..., 3] = 255
    photo[:, 20:, 3] = 0
    path = tmp_path / "cut-out.png"
    Image.fromarray(photo, "RGBA").save(path)
    guide = Regions.read(None, path).at(30, 40)
    assert guide.alpha[0, 0, 15, 5] == pytest.approx(1, abs=1e-3) and guide.alpha[0, 0, 15, 35] < 1e-3


def test_a_region_image_of_another_size_is_fitted_like_the_photo():
    full = Regions.read(region_image(60, 80, (BLACK, 0.5), (WHITE, 0.5)), Image.new("RGB", (80, 60))).at(30, 40)
    small = Regions.read(region_image(15, 20, (BLACK, 0.5), (WHITE, 0.5)), Image.new("RGB", (80, 60))).at(30, 40)
    assert (full.keep - small.keep).abs().mean() < 0.05
    wide = region_image(60, 120, (CLEAR, 1 / 6), (BLACK, 1 / 3), (WHITE, 1 / 3), (CLEAR, 1 / 6))  # cropped centred
    cropped = Regions.read(wide, Image.new("RGB", (80, 60))).at(30, 40)
    assert (cropped.keep - full.keep).abs().mean() < 0.05 and cropped.alpha.min() > 0.9


@pytest.mark.parametrize("make, words", [
    (lambda path: path.write_bytes(b"not a picture"), "not an image"),
    (lambda path: Image.fromarray(region_image(20, 20, ((0, 200, 0, 255), 1.0))).save(path), "colours outside the code"),
    (lambda path: Image.fromarray(region_image(20, 20, (CLEAR, 1.0))).save(path), "leaves everything out"),
    (lambda path: Image.fromarray(region_image(20, 20, (BLACK, 0.5), (CLEAR, 0.5))).save(path), "paints nothing"),
])
def test_bad_region_images_are_refused_with_the_file_and_the_fix(tmp_path, make, words):
    path = tmp_path / "my-regions.png"
    make(path)
    with pytest.raises(ImageError, match=words) as error:
        Regions.read(path, Image.new("RGB", (20, 20)))
    assert "my-regions.png" in str(error.value) and "white = the painting" in str(error.value)


def test_a_guided_gram_matrix_is_the_gram_matrix_of_its_region():
    features = torch.randn(2, 8, 6, 10)
    ones = torch.ones(1, 1, 6, 10)
    torch.testing.assert_close(losses.guided_gram(features, ones)[:, 0], losses.gram(features))
    left = torch.zeros(1, 1, 6, 10)
    left[..., :4] = 1
    expected = torch.einsum("bchw,bdhw->bcd", features[..., :4], features[..., :4]) / (6 * 4)
    torch.testing.assert_close(losses.guided_gram(features, left)[:, 0], expected, rtol=1e-5, atol=1e-6)


def test_a_small_region_is_pulled_as_hard_as_a_large_one():
    features = torch.rand(1, 4, 8, 8)
    target = {"relu1_1": torch.zeros(1, 2, 4, 4) + 0.5}
    small, large = torch.zeros(1, 2, 8, 8), torch.zeros(1, 2, 8, 8)
    small[0, 0, :2, :2] = large[0, 0] = 1
    small[0, 1, 4:, 4:] = large[0, 1] = 1
    features[..., :2, :2] = features[..., 4:, 4:] = 0.3  # the small regions look like the large ones, in the mean
    errors = [losses.style_loss({"relu1_1": losses.guided_gram(features, guide)}, target, {"relu1_1": 1.0})
              for guide in (small, large)]
    assert 0.2 < float(errors[0] / errors[1]) < 5  # the same order, not a 16th for a region 16 times smaller


def test_the_tiled_objective_equals_the_untiled_one_with_regions(tiny_net):
    generator = torch.Generator().manual_seed(0)
    picture = torch.rand(1, 3, 200, 176, generator=generator)
    content = picture.flip(-1)
    styles = [torch.rand(1, 3, 96, 96, generator=generator) for _ in range(2)]
    image = region_image(200, 176, (WHITE, 0.4), (RED, 0.3), (BLACK, 0.2), (CLEAR, 0.1))
    guide = Regions.read(image, Image.new("RGB", (176, 200))).at(200, 176)
    config = StyleConfig(size=200, tv_weight=3.0, tone_weight=2.0)
    targets = compute_targets(tiny_net, content, styles, config, guide=guide)
    assert targets.grams["relu1_1"].shape[:2] == (1, 2) and targets.guides is not None

    whole = picture.clone().requires_grad_(True)
    whole_terms = objective(tiny_net, whole, targets, config)
    whole_terms["total"].backward()
    tiles = plan_tiles(200, 176, tile=64, margin=margin_for("vgg19", config.layers))
    tiled = picture.clone().requires_grad_(True)
    tiled_terms = tiled_backward(tiny_net, tiled, targets.content, targets.grams, config, tiles, targets.guides,
                                 targets.tone)
    for name in ("content", "style", "tv", "total"):
        torch.testing.assert_close(tiled_terms[name], whole_terms[name].detach(), rtol=1e-4, atol=1e-7)
    assert (tiled.grad - whole.grad).abs().max() / whole.grad.abs().max() < 1e-4


def paint(tiny_net, content, styles, regions, **changes):
    config = StyleConfig(size=64, steps=30, preview_every=30, precision="float32", init="content").replace(**changes)
    return list(stylize(content, styles, config, backbone=tiny_net, device="cpu", regions=regions))[-1]


def test_kept_photo_stays_the_photo_and_left_out_is_transparent(tiny_net):
    content = smooth_picture(1, 48, 64)
    last = paint(tiny_net, content, stripes_picture(2), region_image(48, 64, (BLACK, 0.4), (WHITE, 0.4), (CLEAR, 0.2)))
    photo = load_image(content, 64)[0]
    distance = (last.image - photo).abs().mean(0)  # (H, W)
    kept, painted = distance[:, :20].mean(), distance[:, 30:46].mean()
    assert kept < 0.1 * painted
    assert last.alpha.shape == (1, 48, 64)
    assert last.alpha[0, :, :48].min() > 0.99 and last.alpha[0, :, 56:].max() < 0.01
    rgba = np.asarray(last.to_pil())
    assert rgba.shape == (48, 64, 4) and rgba[:, 60, 3].max() == 0


def test_left_out_is_alpha_0_in_the_png_and_the_16_bit_tiff_print_files(tiny_net, tmp_path):
    from nst_core.printing import export_design
    from tests.test_export import read_tiff16

    last = paint(tiny_net, smooth_picture(1, 48, 64), stripes_picture(2), region_image(48, 64, (WHITE, 0.5), (CLEAR, 0.5)),
                 steps=4)
    png = export_design(last.image, tmp_path / "design.png", alpha=last.alpha, mockups=True)
    with Image.open(png.design) as design:
        assert design.mode == "RGBA" and design.getchannel("A").getpixel((60, 24)) == 0
        assert design.getchannel("A").getpixel((4, 24)) == 255
    samples = read_tiff16(export_design(last.image, tmp_path / "design.tif", bits=16, alpha=last.alpha).design)
    assert samples.shape == (48, 64, 4) and samples[24, 60, 3] == 0 and samples[24, 4, 3] == 65535
    assert 0 < samples[24, 32, 3] < 65535  # feathered: the edge fades


def test_two_paintings_each_paint_their_own_half(tiny_net):
    content = smooth_picture(3, 48, 64)
    first, second = stripes_picture(4), smooth_picture(5, 48, 48)  # high and low frequency: far apart in style
    last = paint(tiny_net, content, [first, second], region_image(48, 64, (WHITE, 0.5), (RED, 0.5)), steps=40)
    config = StyleConfig()
    grams = {}
    for name, painting in (("first", first), ("second", second)):
        grams[name] = compute_targets(tiny_net, load_image(painting, 64), load_image(painting, 64), config).grams

    def error(half: torch.Tensor, painting: str) -> float:
        features = tiny_net(half[None], config.style_layers)
        return sum(float(losses.relative_error(losses.gram(features[n]), grams[painting][n])) for n in config.style_layers)

    left, right = last.image[..., :28], last.image[..., 36:]
    assert error(left, "first") < error(left, "second")
    assert error(right, "second") < error(right, "first")


@pytest.mark.parametrize("left", [BLACK, RED])
def test_no_seam_at_a_regions_border(tiny_net, left):
    """The picture changes no more sharply across the border of two regions (kept and painted, or two
    paintings) than inside a painted region: no seam, no halo line where the feathered guidance meets."""
    content = smooth_picture(6, 64, 128)
    styles = [stripes_picture(7), stripes_picture(8)] if left == RED else stripes_picture(7)
    last = paint(tiny_net, content, styles, region_image(64, 128, (left, 0.5), (WHITE, 0.5)), size=128)
    energy = (last.image[..., 1:] - last.image[..., :-1]).square().mean((0, 1))  # (W - 1,) between columns
    border, painted = energy[61:66].mean(), energy[80:120].mean()
    assert border < painted


def test_a_draft_start_is_composited_by_region(tiny_net):
    pytest.importorskip("onnxruntime")
    content = smooth_picture(8, 48, 64)
    config = StyleConfig(size=64, steps=2, preview_every=1, init="draft", precision="float32")
    first = next(stylize(content, stripes_picture(9), config, backbone=tiny_net, device="cpu",
                         regions=region_image(48, 64, (BLACK, 0.5), (WHITE, 0.5))))
    assert first.iteration == 0
    if first.note:
        pytest.skip(f"no draft network here: {first.note}")
    photo = load_image(content, 64)[0]
    distance = (first.image - photo).abs().mean(0)
    assert distance[:, :26].mean() < 0.1 * distance[:, 38:].mean()


def test_regions_that_use_red_need_a_second_painting(tiny_net):
    with pytest.raises(ValueError, match="second painting"):
        paint(tiny_net, smooth_picture(1), stripes_picture(2), region_image(40, 56, (WHITE, 0.5), (RED, 0.5)))
