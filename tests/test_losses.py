"""The objective's terms against independent computations and their defining properties."""

import torch

from nst_core import losses


def test_gram_matches_einsum():
    features = torch.randn(2, 5, 7, 3, generator=torch.Generator().manual_seed(0))
    expected = torch.einsum("bchw,bdhw->bcd", features, features) / (7 * 3)
    torch.testing.assert_close(losses.gram(features), expected)


def test_gram_is_symmetric_and_positive_semidefinite():
    gram = losses.gram(torch.randn(1, 8, 6, 6))[0]
    torch.testing.assert_close(gram, gram.T)
    assert torch.linalg.eigvalsh(gram.double()).min() > -1e-6


def test_gram_sum_of_tiles_equals_gram_sum_of_picture():
    features = torch.randn(1, 4, 10, 12)
    tiles = [features[..., :5, :7], features[..., :5, 7:], features[..., 5:, :7], features[..., 5:, 7:]]
    torch.testing.assert_close(sum(losses.gram_sum(tile) for tile in tiles), losses.gram_sum(features))


def test_gram_does_not_grow_with_the_picture():
    tile = torch.randn(1, 4, 6, 6)
    tiled = tile.repeat(1, 1, 3, 3)  # the same statistics over nine times the area
    torch.testing.assert_close(losses.gram(tiled), losses.gram(tile))


def test_tv_of_a_flat_image_is_zero_and_of_noise_positive():
    assert losses.tv_loss(torch.full((1, 3, 9, 9), 0.3)).item() == 0.0
    assert losses.tv_loss(torch.rand(1, 3, 9, 9)).item() > 0.01


def test_losses_are_zero_at_the_target_and_ignore_the_activation_scale():
    target = torch.rand(1, 16, 5, 5)
    moved = target + 0.1 * torch.randn_like(target)
    assert losses.content_loss(target, target).item() == 0.0
    # A backbone whose activations are 255x larger must give the same content and style losses.
    torch.testing.assert_close(losses.content_loss(255 * moved, 255 * target), losses.content_loss(moved, target))
    grams, targets = {"a": losses.gram(moved)}, {"a": losses.gram(target)}
    big_grams, big_targets = {"a": losses.gram(255 * moved)}, {"a": losses.gram(255 * target)}
    torch.testing.assert_close(losses.style_loss(big_grams, big_targets, {"a": 1.0}),
                               losses.style_loss(grams, targets, {"a": 1.0}))
