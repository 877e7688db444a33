"""Tiled rendering is exact: the same objective and gradient as the whole picture, in bounded pieces."""

import pytest
import torch

from nst_core import StyleConfig
from nst_core import losses
from nst_core.stylize import compute_targets, objective
from nst_core.tiling import margin_for, plan_tiles, receptive_radius, tiled_backward, tiled_features, tiled_grams


def test_receptive_radius_of_vgg19():
    # 3x3 convolutions add 1 position each side, 2x2 pooling half a position, at the layer's stride.
    assert receptive_radius("vgg19", "relu1_1") == 1
    assert receptive_radius("vgg19", "relu2_1") == 5  # 2 + 0.5 + 2 = 4.5, rounded up
    assert receptive_radius("vgg19", "relu5_1") == 78
    assert margin_for("vgg19", ("relu1_1", "relu5_1")) == 80


def test_tiles_own_every_pixel_exactly_once():
    tiles = plan_tiles(100, 70, tile=32, margin=16)
    owned = torch.zeros(100, 70, dtype=torch.int64)
    for tile in tiles:
        y0, y1, x0, x1 = tile.core
        owned[y0:y1, x0:x1] += 1
        wy0, wy1, wx0, wx1 = tile.window
        assert wy0 <= y0 and wy1 >= y1 and wx0 <= x0 and wx1 >= x1
        assert wy0 % 16 == 0 and wx0 % 16 == 0
    assert bool((owned == 1).all())
    with pytest.raises(ValueError, match="multiples of 16"):
        plan_tiles(100, 70, tile=30, margin=16)


@pytest.fixture
def picture():
    generator = torch.Generator().manual_seed(0)
    return torch.rand(1, 3, 200, 176, generator=generator)


def test_tiled_grams_and_features_equal_the_whole_pictures(tiny_net, picture):
    layers = ("relu1_1", "relu3_1", "relu5_1")
    tiles = plan_tiles(*picture.shape[-2:], tile=64, margin=margin_for("vgg19", layers))
    assert len(tiles) > 4 and any(t.window != (0, 200, 0, 176) for t in tiles)  # really tiled
    whole = tiny_net(picture, layers)
    for name, gram in tiled_grams(tiny_net, picture, layers, tiles, "max").items():
        torch.testing.assert_close(gram, losses.gram(whole[name]), rtol=1e-4, atol=1e-6)
    torch.testing.assert_close(tiled_features(tiny_net, picture, "relu5_1", tiles, "max"), whole["relu5_1"],
                               rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("pooling", ["max", "avg"])
def test_tiled_gradient_equals_the_untiled_one(tiny_net, picture, pooling):
    config = StyleConfig(size=200, tv_weight=3.0, tone_weight=2.0, pooling=pooling)
    style = torch.rand(1, 3, 96, 96, generator=torch.Generator().manual_seed(1))
    content = picture.flip(-1)
    targets = compute_targets(tiny_net, content, style, config)

    image = picture.clone().requires_grad_(True)
    whole_terms = objective(tiny_net, image, targets, config)
    whole_terms["total"].backward()
    whole_grad = image.grad.clone()

    tiles = plan_tiles(*picture.shape[-2:], tile=64, margin=margin_for("vgg19", config.style_layers))
    image.grad = None
    tiled_terms = tiled_backward(tiny_net, image, targets.content, targets.grams, config, tiles,
                                 tone_target=targets.tone)
    for name in ("content", "style", "tv", "total"):
        torch.testing.assert_close(tiled_terms[name], whole_terms[name].detach(), rtol=1e-4, atol=1e-7)
    scale = whole_grad.abs().max()
    assert (image.grad - whole_grad).abs().max() / scale < 1e-4


def test_a_tiled_run_paints_the_same_picture_as_an_untiled_one(tiny_net, content_array, style_array):
    from nst_core import stylize

    # L-BFGS, whose steps scale with the gradient (Adam's sign-like first steps would magnify float noise
    # in near-zero gradients into whole steps).
    config = StyleConfig(size=128, steps=3, preview_every=3, precision="float32")  # exact: no bf16 rounding
    whole = list(stylize(content_array, style_array, config, backbone=tiny_net, device="cpu"))[-1]
    tiled = list(stylize(content_array, style_array, config.replace(tile=64), backbone=tiny_net, device="cpu"))[-1]
    assert whole.tile == 0 and tiled.tile == 64
    assert (tiled.image - whole.image).abs().max() < 2e-3
    assert tiled.losses.total == pytest.approx(whole.losses.total, rel=1e-3)


def test_memory_estimates_choose_tiles_only_when_needed():
    from nst_core.memory import GIB, DoesNotFitError, choose_tile, run_bytes

    args = ("vgg19", "relu5_1", "lbfgs")
    assert choose_tile(512, 512, 80, *args, budget=8 * GIB) == 0
    tile = choose_tile(5400, 4500, 80, *args, budget=12 * GIB)
    assert 0 < tile < 5400 and tile % 16 == 0
    assert run_bytes(5400, 4500, tile, 80, *args, budget=12 * GIB) <= 12 * GIB
    assert run_bytes(5400, 4500, 0, 80, *args, budget=12 * GIB) > 12 * GIB
    with pytest.raises(DoesNotFitError, match="needs about .* GB even in small tiles"):
        choose_tile(5400, 4500, 80, *args, budget=GIB // 2)
