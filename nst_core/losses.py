"""The Gatys objective's terms as pure functions of tensors: Gram matrices, content, style, total variation.

Normalisation (how it differs from the paper): Gatys et al. divide a layer's squared Gram error by
4 N^2 M^2, which still depends on the activation scale of the network. Here each term is *relative*:
a Gram matrix is the mean over positions of f f^T, so it does not grow with the image, and the
content and style errors are divided by the energy of their targets. Any per-layer scale of the
activations (VGG19 against the offline VGG16, a 255x Caffe input) cancels, and so does the image
size: the same alpha and beta mean the same picture at 256 px and at print size. STYLE_UNIT then puts
beta in the seed recipe's units, where alpha 1 and beta 1e6 gave a balanced picture.
"""

from __future__ import annotations

import torch

from .colour import broad_brightness

STYLE_UNIT = 1e-5  # beta 1e6 -> relative style weight 10 against relative content weight alpha 1
TONE_UNIT = 0.01  # a broad brightness off by 0.1 everywhere costs as much as a content error of 100 %


def gram_sum(features: torch.Tensor) -> torch.Tensor:
    """Unnormalised Gram matrices, sum over positions of f f^T: (B, C, H, W) -> (B, C, C).

    Being a sum over positions, the Gram matrix of a picture is the sum of its tiles' gram_sum (tiles
    that do not overlap), which is what print-size rendering accumulates.
    """
    flat = features.flatten(2).float()  # (B, C, H*W), float32 even under autocast: Gram sums overflow fp16
    return flat @ flat.transpose(1, 2)  # (B, C, C)


def gram(features: torch.Tensor) -> torch.Tensor:
    """Gram matrices as a mean over positions, so they do not grow with the image: (B, C, C)."""
    height, width = features.shape[-2:]
    return gram_sum(features) / (height * width)


def guided_gram_sum(features: torch.Tensor, guide: torch.Tensor) -> torch.Tensor:
    """Gram matrices of the features weighted by each region's guidance, summed over positions:
    (B, C, H, W) and (B or 1, R, H, W) -> (B, R, C, C). As gram_sum, a sum that tiles add up."""
    flat = features.flatten(2).float()  # (B, C, H*W)
    weighted = flat[:, None] * guide.flatten(2).float()[:, :, None]  # (B, R, C, H*W): F ∘ T_r, as in the paper
    return weighted @ weighted.transpose(-1, -2)  # (B, R, C, C)


def guide_energy(guide: torch.Tensor) -> torch.Tensor:
    """What a guided Gram matrix is divided by: the energy of each region's guidance, (B, R, 1, 1). The paper
    sums; dividing makes a region's Gram matrix a weighted mean that a small region reaches as a large one does."""
    return guide.float().square().sum((-2, -1), keepdim=True).clamp_min(1e-8)


def guided_gram(features: torch.Tensor, guide: torch.Tensor) -> torch.Tensor:
    """Each region's Gram matrix, a weighted mean over its positions: (B, R, C, C)."""
    return guided_gram_sum(features, guide) / guide_energy(guide)


def relative_error(value: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """||value - target||^2 / ||target||^2 per batch item: (B, ...) -> (B,)."""
    dims = tuple(range(1, target.ndim))
    error = (value.float() - target.float()).square().sum(dims)
    energy = target.float().square().sum(dims).clamp_min(1e-12)
    return error / energy


def content_loss(features: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Relative squared error of one layer's activations against the content image's: (B,)."""
    return relative_error(features, target)


def tone_loss(image: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Mean squared difference of the picture's broad brightness (colour.broad_brightness) against the photo's
    `target`, in TONE_UNIT: (B, 3, H, W) and (B, 1, H, W) -> (B,). Not in the paper: relu4_2 barely answers in
    flat areas, so without it a night sky drafted or painted pale stays pale; this term holds the photo's light
    and dark, not its strokes."""
    return (broad_brightness(image).float() - target.float()).square().mean((1, 2, 3)) / TONE_UNIT


def style_loss(grams: dict[str, torch.Tensor], targets: dict[str, torch.Tensor],
               layer_weights: dict[str, float]) -> torch.Tensor:
    """Weighted sum over layers of the relative Gram error against the style targets: (B,). With regions the
    Grams are (B, R, C, C) and each region's relative error counts in full, as if it were a picture of its own."""
    return sum(weight * _gram_error(grams[name], targets[name]) for name, weight in layer_weights.items())


def _gram_error(gram: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    if gram.ndim == 3:
        return relative_error(gram, target)
    return relative_error(gram.flatten(0, 1), target.expand_as(gram).flatten(0, 1)).view(gram.shape[:2]).sum(1)


def tv_loss(image: torch.Tensor) -> torch.Tensor:
    """Total variation, the mean squared difference of neighbouring pixels: (B, 3, H, W) -> (B,)."""
    dy = (image[..., 1:, :] - image[..., :-1, :]).square().mean((1, 2, 3))
    dx = (image[..., :, 1:] - image[..., :, :-1]).square().mean((1, 2, 3))
    return dx + dy
