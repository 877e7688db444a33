"""The exact objective and its gradient over image tiles, so print-size pictures fit in bounded memory.

A Gram matrix is a sum over positions, so the picture's Gram matrices are the sums of its tiles'
(each position counted once). One pass over the tiles without gradients accumulates them; the style
loss's gradient with respect to each Gram matrix, D = dL/dG, is then fixed, and a second pass gives
each tile's exact share of the gradient by back-propagating <D, gram_sum(tile features)> / N. The
content loss is a sum over positions too. Each tile reads a margin of context around the positions
it owns; with a margin of the network's receptive-field radius its activations are those of the whole
picture, so the result has no seams and no style drift between tiles.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch

from . import losses
from .backbone import CONVS_PER_BLOCK, FeatureNet
from .config import StyleConfig

GRID = 16  # relu5_1 sees the picture at 1/16 resolution: tile edges on this grid keep pooling aligned


@dataclass(frozen=True)
class Tile:
    """Pixels a tile owns (core) and pixels it reads (window, the core plus a margin), as (y0, y1, x0, x1)."""

    core: tuple[int, int, int, int]
    window: tuple[int, int, int, int]


def layer_stride(layer: str) -> int:
    """How many pixels apart a layer's positions are: 1 in block 1, 16 in block 5."""
    return 2 ** (int(layer[4]) - 1)


def receptive_radius(arch: str, layer: str) -> int:
    """Pixels on each side that influence one position of `layer` (3x3 convolutions, 2x2 pooling)."""
    block, index = int(layer[4]), int(layer[6])
    radius, stride = 0.0, 1
    for b, count in enumerate(CONVS_PER_BLOCK[arch][:block], start=1):
        if b > 1:
            radius += stride / 2  # a 2x2 pooling window
            stride *= 2
        radius += stride * (count if b < block else index)
    return math.ceil(radius)


def margin_for(arch: str, layers: tuple[str, ...]) -> int:
    """The context a tile needs for exact activations at `layers`, rounded up to the pooling grid."""
    radius = max(receptive_radius(arch, layer) for layer in layers)
    return GRID * math.ceil(radius / GRID)


def plan_tiles(height: int, width: int, tile: int, margin: int) -> list[Tile]:
    """Cover the picture with cores of at most `tile` pixels a side (a multiple of GRID) plus margins."""
    if tile % GRID or tile <= 0 or margin % GRID:
        raise ValueError(f"tile ({tile}) and margin ({margin}) must be positive multiples of {GRID}")
    tiles = []
    for y0 in range(0, height, tile):
        for x0 in range(0, width, tile):
            y1, x1 = min(y0 + tile, height), min(x0 + tile, width)
            window = (max(0, y0 - margin), min(height, y1 + margin), max(0, x0 - margin), min(width, x1 + margin))
            tiles.append(Tile((y0, y1, x0, x1), window))
    return tiles


def core_features(features: torch.Tensor, layer: str, tile: Tile, of_window: bool = True) -> torch.Tensor:
    """The positions a tile owns, from features of its window (default) or of the whole picture."""
    stride = layer_stride(layer)
    oy, _, ox, _ = tile.window if of_window else (0, 0, 0, 0)
    y0, y1, x0, x1 = tile.core
    # Window origins lie on the grid, so a core edge maps to a whole position; the picture's far edge
    # maps down, as pooling floors.
    return features[..., (y0 - oy) // stride:(y1 - oy) // stride, (x0 - ox) // stride:(x1 - ox) // stride]


def _window(image: torch.Tensor, tile: Tile) -> torch.Tensor:
    y0, y1, x0, x1 = tile.window
    return image[..., y0:y1, x0:x1]


def tiled_features(net: FeatureNet, image: torch.Tensor, layer: str, tiles: list[Tile], pooling: str) -> torch.Tensor:
    """One layer's activations of the whole picture, assembled from tiles without gradients."""
    height, width = image.shape[-2:]
    stride = layer_stride(layer)
    out = None
    with torch.no_grad():
        for tile in tiles:
            part = core_features(net(_window(image, tile), (layer,), pooling)[layer], layer, tile)
            if out is None:
                out = part.new_zeros(*part.shape[:2], height // stride, width // stride)
            core_features(out, layer, tile, of_window=False).copy_(part)
    return out


def tiled_grams(net: FeatureNet, image: torch.Tensor, layers: tuple[str, ...], tiles: list[Tile],
                pooling: str, guides: dict[str, torch.Tensor] | None = None) -> dict[str, torch.Tensor]:
    """The picture's Gram matrices (mean over positions), accumulated over tiles without gradients; with
    `guides` (each layer's region guidance for the whole picture), each region's (B, R, C, C)."""
    sums = {}
    with torch.no_grad():
        for tile in tiles:
            features = net(_window(image, tile), layers, pooling)
            for layer in layers:
                sums[layer] = sums.get(layer, 0) + _gram_part(features[layer], layer, tile, guides)
    return {layer: sums[layer] / _gram_divisor(image, layer, guides) for layer in layers}


def _gram_part(features: torch.Tensor, layer: str, tile: Tile, guides: dict[str, torch.Tensor] | None):
    """A tile's share of a layer's Gram sums, from its window's features: plain, or weighted per region."""
    core = core_features(features, layer, tile)
    if guides is None:
        return losses.gram_sum(core)
    return losses.guided_gram_sum(core, core_features(guides[layer], layer, tile, of_window=False))


def _gram_divisor(image: torch.Tensor, layer: str, guides: dict[str, torch.Tensor] | None):
    """What the summed Gram matrices are divided by: the positions, or each region's guidance energy."""
    return _positions(image, layer) if guides is None else losses.guide_energy(guides[layer])


def tiled_backward(net: FeatureNet, image: torch.Tensor, content_target: torch.Tensor,
                   style_targets: dict[str, torch.Tensor], config: StyleConfig,
                   tiles: list[Tile], guides: dict[str, torch.Tensor] | None = None,
                   tone_target: torch.Tensor | None = None) -> dict[str, torch.Tensor]:
    """The weighted objective's terms; its exact gradient is accumulated into image.grad tile by tile. With
    `guides`, each region's Gram matrices against its own painting's (nst_core/regions.py); with `tone_target`,
    the photo's broad brightness (config.tone_weight), a term of the pixels that needs no tiles."""
    layer_weights = config.layer_weights
    style_layers = tuple(layer_weights)
    grams = tiled_grams(net, image.detach(), style_layers, tiles, config.pooling, guides)
    grams = {name: gram.requires_grad_(True) for name, gram in grams.items()}
    style = config.style_weight * losses.STYLE_UNIT * losses.style_loss(grams, style_targets, layer_weights).sum()
    gram_grads = dict(zip(style_layers, torch.autograd.grad(style, [grams[n] for n in style_layers])))

    content_energy = content_target.float().square().sum()
    content = image.new_zeros((), dtype=torch.float32)
    for tile in tiles:
        window = _window(image.detach(), tile).requires_grad_(True)
        features = net(window, config.layers, config.pooling)
        surrogate = window.new_zeros((), dtype=torch.float32)
        for name in style_layers:
            part = _gram_part(features[name], name, tile, guides) / _gram_divisor(image, name, guides)
            surrogate = surrogate + (gram_grads[name] * part).sum()
        target = core_features(content_target, config.content_layer, tile, of_window=False)
        own = core_features(features[config.content_layer], config.content_layer, tile)
        tile_content = config.content_weight * (own.float() - target.float()).square().sum() / content_energy
        (surrogate + tile_content).backward()
        _add_grad(image, tile, window.grad)
        content = content + tile_content.detach()

    if tone_target is not None:
        tone = config.content_weight * config.tone_weight * losses.tone_loss(image, tone_target).sum()
        tone.backward()
        content = content + tone.detach()
    tv = config.tv_weight * losses.tv_loss(image).sum()
    if config.tv_weight:
        tv.backward()
    terms = {"content": content, "style": style.detach(), "tv": tv.detach()}
    terms["total"] = terms["content"] + terms["style"] + terms["tv"]
    return terms


def _positions(image: torch.Tensor, layer: str) -> int:
    stride = layer_stride(layer)
    return (image.shape[-2] // stride) * (image.shape[-1] // stride)


def _add_grad(image: torch.Tensor, tile: Tile, grad: torch.Tensor) -> None:
    if image.grad is None:
        image.grad = torch.zeros_like(image)
    y0, y1, x0, x1 = tile.window
    image.grad[..., y0:y1, x0:x1] += grad
