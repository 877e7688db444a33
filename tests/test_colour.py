"""Colour control: YIQ round trips, luminance-only transfer, colour-histogram matching, print palettes."""

import pytest
import torch
import torch.nn.functional as F

from nst_core.colour import (broad_brightness, gaussian_blur, keep_broad_tones, keep_original_colours,
                             luminance_image, luminance_only, match_histogram, match_luminance, palette, quantize,
                             rgb_to_yiq, yiq_to_rgb)
from tests.pictures import smooth_picture, stripes_picture


def tensor(array) -> torch.Tensor:
    return torch.from_numpy(array).permute(2, 0, 1).float().div(255)[None]  # (1, 3, H, W)


def moments(image: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    pixels = image.double().reshape(3, -1)
    return pixels.mean(1), torch.cov(pixels, correction=0)


@pytest.mark.parametrize("shape", [(3, 5, 7), (2, 3, 4, 4)])
def test_rgb_yiq_round_trip(shape):
    image = torch.rand(shape, generator=torch.Generator().manual_seed(0))
    assert torch.allclose(yiq_to_rgb(rgb_to_yiq(image)), image, atol=1e-6)
    assert torch.allclose(rgb_to_yiq(yiq_to_rgb(image)), image, atol=1e-6)


def test_grey_has_no_chrominance_and_its_luminance_is_its_value():
    grey = torch.full((1, 3, 4, 4), 0.4)
    yiq = rgb_to_yiq(grey)
    assert torch.allclose(yiq[:, 0], torch.full((1, 4, 4), 0.4), atol=1e-6)
    assert yiq[:, 1:].abs().max() < 1e-6


def test_luminance_only_keeps_the_results_light_and_the_contents_colour():
    generator = torch.Generator().manual_seed(1)
    result = 0.4 + 0.2 * torch.rand(1, 3, 12, 10, generator=generator)  # mid tones: nothing leaves the cube
    content = 0.45 + 0.1 * torch.rand(1, 3, 12, 10, generator=generator)
    mixed = rgb_to_yiq(luminance_only(result, content))
    assert torch.allclose(mixed[:, 0], rgb_to_yiq(result)[:, 0], atol=1e-5)
    assert torch.allclose(mixed[:, 1:], rgb_to_yiq(content)[:, 1:], atol=1e-5)
    assert torch.equal(keep_original_colours(result, content), luminance_only(result, content))


def test_luminance_only_resizes_the_content_and_stays_in_range():
    result, content = torch.rand(1, 3, 16, 24), torch.rand(1, 3, 32, 48)
    mixed = luminance_only(result, content)
    assert mixed.shape == result.shape and 0 <= mixed.min() and mixed.max() <= 1


def test_luminance_image_is_grey_with_the_pictures_luminance():
    image = torch.rand(1, 3, 6, 6)
    grey = luminance_image(image)
    assert grey.shape == image.shape
    assert torch.equal(grey[:, 0], grey[:, 1]) and torch.equal(grey[:, 1], grey[:, 2])
    expected = 0.299 * image[:, 0] + 0.587 * image[:, 1] + 0.114 * image[:, 2]
    assert torch.allclose(grey[:, 0], expected, atol=1e-6)


def test_match_luminance_takes_the_contents_mean_and_spread():
    style, content = tensor(stripes_picture(3)), 0.4 + 0.2 * tensor(smooth_picture(4))
    matched = match_luminance(style, content)[:, 0]
    target = luminance_image(content)[:, 0]
    assert matched.mean().item() == pytest.approx(target.mean().item(), abs=1e-4)
    assert matched.std().item() == pytest.approx(target.std().item(), rel=1e-3)


def test_histogram_matching_gives_the_style_the_contents_mean_and_covariance():
    style = tensor(stripes_picture(5))  # wide, uncorrelated colours
    content = 0.3 + 0.4 * tensor(smooth_picture(6))  # smooth, correlated colours well inside [0, 1]
    matched = match_histogram(style, content)
    assert matched.shape == style.shape and matched.dtype == style.dtype
    (mean, cov), (target_mean, target_cov) = moments(matched), moments(content)
    assert torch.allclose(mean, target_mean, atol=2e-3)
    assert torch.allclose(cov, target_cov, atol=2e-4)
    assert not torch.allclose(moments(style)[1], target_cov, atol=2e-4)  # the test could fail


@pytest.mark.parametrize("grey_side", ["style", "content"])
def test_histogram_matching_a_grey_picture_stays_finite(grey_side):
    grey, colourful = torch.full((1, 3, 8, 8), 0.5), tensor(smooth_picture(7))
    style, content = (grey, colourful) if grey_side == "style" else (colourful, grey)
    matched = match_histogram(style, content)
    assert torch.isfinite(matched).all() and 0 <= matched.min() and matched.max() <= 1
    if grey_side == "style":  # no colour spread to stretch: every pixel lands on the content's mean
        assert torch.allclose(matched[0].flatten(1).mean(1), content[0].flatten(1).mean(1), atol=1e-3)


@pytest.mark.parametrize("dither", [False, True])
def test_quantize_uses_at_most_n_colours_and_stays_close(dither):
    image = tensor(smooth_picture(8, 40, 56))
    errors = []
    for colours in (2, 4, 8, 16):
        quantized = quantize(image, colours, dither=dither)
        assert quantized.shape == image.shape and quantized.dtype == image.dtype
        assert len(palette(quantized)) <= colours
        errors.append((quantized - image).abs().mean().item())
    one_colour = (image - image.mean((2, 3), keepdim=True)).abs().mean().item()
    assert one_colour > errors[0] and errors == sorted(errors, reverse=True)  # more inks, closer picture
    assert errors[2] < (image.round() - image).abs().mean().item()  # 8 chosen inks beat the 8 RGB corners


def test_dithering_is_closer_on_average_over_a_neighbourhood():
    image = tensor(smooth_picture(9, 40, 56))
    blurred_error = {dither: F.avg_pool2d(quantize(image, 8, dither=dither) - image, 4).abs().mean().item()
                     for dither in (False, True)}
    assert blurred_error[True] < blurred_error[False]


def test_quantize_keeps_a_picture_that_already_has_few_colours():
    image = torch.zeros(3, 8, 8)
    image[0, :, :4] = 1.0  # red and black halves
    assert torch.equal(quantize(image, 4), image)
    assert palette(image) == [(0, 0, 0), (255, 0, 0)]  # equal counts: stable order


@pytest.mark.parametrize("colours", [0, 1, 257, 2.5, True, "8"])
def test_quantize_refuses_bad_colour_counts(colours):
    with pytest.raises(ValueError, match="from 2 to 256"):
        quantize(torch.rand(1, 3, 4, 4), colours)


def test_palette_lists_the_most_used_colour_first():
    image = torch.zeros(1, 3, 4, 4)
    image[:, 2, 0, 0] = 1.0  # one blue pixel among black ones
    assert palette(image) == [(0, 0, 0), (0, 0, 255)]


def test_the_gaussian_blur_matches_torchvisions_inside_and_keeps_a_flat_picture_flat():
    from torchvision.transforms.functional import gaussian_blur as reference

    picture = torch.rand(2, 1, 60, 80, generator=torch.Generator().manual_seed(0))
    sigma, radius = 2.5, 8  # radius = ceil(3 sigma), as colour.gaussian_blur chooses
    ours = gaussian_blur(picture, sigma)
    theirs = reference(picture, kernel_size=2 * radius + 1, sigma=sigma)  # reflects at the edges: compare inside
    torch.testing.assert_close(ours[..., radius:-radius, radius:-radius], theirs[..., radius:-radius, radius:-radius])
    flat = torch.full((1, 1, 5, 300), 0.3)  # thinner than the kernel: edges repeated, still flat
    torch.testing.assert_close(gaussian_blur(flat, 40.0), flat)


def test_keeping_broad_tones_takes_the_photos_light_and_dark_and_keeps_the_strokes():
    generator = torch.Generator().manual_seed(1)
    side = 96
    ramp = torch.linspace(0.05, 0.35, side).view(1, 1, 1, side).expand(1, 3, side, side)  # a dark photo
    strokes = 0.15 * torch.rand(1, 3, side, side, generator=generator)
    draft = (0.7 + strokes).clamp(0, 1)  # a pale, busy draft
    kept = keep_broad_tones(draft, ramp)
    torch.testing.assert_close(broad_brightness(kept), broad_brightness(ramp), atol=0.03, rtol=0)
    assert (broad_brightness(draft) - broad_brightness(ramp)).abs().mean() > 0.4  # what it was before
    fine = kept - gaussian_blur(kept, 2.0)  # the strokes: what the blur takes away
    before = draft - gaussian_blur(draft, 2.0)
    assert F.cosine_similarity(fine.flatten(), before.flatten(), dim=0) > 0.8
    assert 0 <= kept.min() and kept.max() <= 1
