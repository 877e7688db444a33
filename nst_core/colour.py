"""Colour control after Gatys et al. 2017: luminance-only transfer, colour-histogram matching, print palettes."""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from .images import load_image, to_pil

# NTSC (FCC 1953) RGB -> YIQ. Y is the luminance Gatys et al. transfer style on; I and Q carry the colour.
_RGB_TO_YIQ = torch.tensor([
    [0.299, 0.587, 0.114],
    [0.595716, -0.274453, -0.321263],
    [0.211456, -0.522591, 0.311135],
], dtype=torch.float64)
# The exact inverse, not the rounded textbook matrix, so rgb -> yiq -> rgb is the identity.
_YIQ_TO_RGB = torch.linalg.inv(_RGB_TO_YIQ)

TONE_BLUR = 1 / 24  # the broad light and dark: a Gaussian whose sigma is this fraction of the longest side
EPSILON = 1e-5  # added to covariance diagonals: a flat grey picture has no colour spread to invert
MAX_COLOURS = 256  # an 8-bit palette; screen printers use far fewer, one per ink


def rgb_to_yiq(image: torch.Tensor) -> torch.Tensor:
    """RGB to YIQ along the channel dimension -3: (..., 3, H, W) -> (..., 3, H, W)."""
    return _mix(_RGB_TO_YIQ, image)


def yiq_to_rgb(image: torch.Tensor) -> torch.Tensor:
    """YIQ to RGB along the channel dimension -3, the exact inverse of rgb_to_yiq (no clamping)."""
    return _mix(_YIQ_TO_RGB, image)


def luminance_image(image: torch.Tensor) -> torch.Tensor:
    """The luminance Y repeated to three channels, a grey picture the style network can read."""
    luminance = rgb_to_yiq(image)[..., :1, :, :]  # (..., 1, H, W)
    return luminance.expand_as(image).contiguous()


def match_luminance(style: torch.Tensor, content: torch.Tensor) -> torch.Tensor:
    """The style's luminance image shifted and scaled to the content's mean and spread (Gatys 2017, eq. 4)."""
    style_y, content_y = luminance_image(style), luminance_image(content)
    dims = (-3, -2, -1)
    scale = content_y.std(dims, keepdim=True) / style_y.std(dims, keepdim=True).clamp_min(EPSILON)
    matched = (style_y - style_y.mean(dims, keepdim=True)) * scale + content_y.mean(dims, keepdim=True)
    return matched.clamp(0, 1)


def luminance_only(result: torch.Tensor, content: torch.Tensor) -> torch.Tensor:
    """The result's luminance Y with the content's colour I, Q: luminance-only transfer's recombination."""
    content = _resized(content, result)  # a preview may be smaller than the content it came from
    luminance = rgb_to_yiq(result)[..., :1, :, :]
    chrominance = rgb_to_yiq(content)[..., 1:, :, :]
    # A luminance the content never had can push a colour outside the RGB cube: clamp back into it.
    return yiq_to_rgb(torch.cat([luminance, chrominance], dim=-3)).clamp(0, 1)


def keep_original_colours(result: torch.Tensor, content: torch.Tensor) -> torch.Tensor:
    """Recolour a stylised picture with the content's own colours, keeping the brushwork's light and shade."""
    return luminance_only(result, content)


def broad_brightness(image: torch.Tensor) -> torch.Tensor:
    """The picture's light and dark without its strokes: its luminance Y blurred by a Gaussian of TONE_BLUR of
    the longest side, (B, 3, H, W) -> (B, 1, H, W). The blur runs on a grid where sigma is about 4 cells and
    is enlarged again: the same broad tones at a cost that stays small at print size."""
    luminance = rgb_to_yiq(image)[:, :1]
    sigma = TONE_BLUR * max(image.shape[-2:])
    cell = max(1, min(int(sigma // 4), *image.shape[-2:]))
    if cell == 1:
        return gaussian_blur(luminance, sigma)
    coarse = gaussian_blur(F.avg_pool2d(luminance, cell, ceil_mode=True), sigma / cell)
    return F.interpolate(coarse, size=image.shape[-2:], mode="bilinear", align_corners=False)


def keep_broad_tones(picture: torch.Tensor, photo: torch.Tensor) -> torch.Tensor:
    """`picture` with its broad light and dark replaced by the photo's, its strokes and colours kept:
    Y - blur(Y) + blur(Y_photo), in YIQ. A night photo drafted in a bright painting stays a night."""
    photo = _resized(photo, picture)
    yiq = rgb_to_yiq(picture)
    luminance = yiq[:, :1] - broad_brightness(picture) + broad_brightness(photo)
    return yiq_to_rgb(torch.cat([luminance, yiq[:, 1:]], dim=1)).clamp(0, 1)


def gaussian_blur(image: torch.Tensor, sigma: float) -> torch.Tensor:
    """A separable Gaussian blur of (B, C, H, W), its edges repeated (a picture thinner than the kernel too)."""
    radius = max(1, math.ceil(3 * sigma))
    offsets = torch.arange(-radius, radius + 1, dtype=image.dtype, device=image.device)
    kernel = torch.exp(-0.5 * (offsets / sigma) ** 2)
    kernel = kernel / kernel.sum()
    channels = image.shape[1]
    rows = F.conv2d(F.pad(image, (radius, radius, 0, 0), mode="replicate"),
                    kernel.view(1, 1, 1, -1).expand(channels, 1, 1, -1), groups=channels)
    return F.conv2d(F.pad(rows, (0, 0, radius, radius), mode="replicate"),
                    kernel.view(1, 1, -1, 1).expand(channels, 1, -1, 1), groups=channels)


def match_histogram(style: torch.Tensor, content: torch.Tensor) -> torch.Tensor:
    """The style picture recoloured so its RGB mean and covariance are the content's (Gatys 2017, 5.1)."""
    source = style.double().flatten(-2)  # (..., 3, H*W)
    source_mean, source_cov = _moments(source)
    target_mean, target_cov = _moments(content.double().flatten(-2))
    # The Image Analogies transform A = Σc^½ Σs^-½ with symmetric roots: unlike the Cholesky variant it
    # does not depend on the order of the channels. Either way A Σs Aᵀ = Σc.
    transform = _matrix_power(target_cov, 0.5) @ _matrix_power(source_cov, -0.5)
    matched = transform @ (source - source_mean) + target_mean  # (..., 3, H*W)
    return matched.unflatten(-1, style.shape[-2:]).clamp(0, 1).to(style.dtype)


def quantize(image: torch.Tensor, colours: int, dither: bool = False) -> torch.Tensor:
    """The picture reduced to `colours` flat colours (2..256), one per screen-printing ink."""
    if isinstance(colours, bool) or not isinstance(colours, int) or not 2 <= colours <= MAX_COLOURS:
        raise ValueError(f"colours must be a whole number from 2 to {MAX_COLOURS} (one per ink), got {colours!r}")
    pictures = image if image.ndim == 4 else image.unsqueeze(0)
    quantized = torch.cat([_quantize_one(picture, colours, dither) for picture in pictures])
    return (quantized if image.ndim == 4 else quantized[0]).to(image)


def palette(image: torch.Tensor) -> list[tuple[int, int, int]]:
    """The distinct 8-bit colours of a picture, most used first: the inks a screen printer needs."""
    pixels = np.asarray(to_pil(image)).reshape(-1, 3)
    colours, counts = np.unique(pixels, axis=0, return_counts=True)
    order = np.argsort(-counts, kind="stable")
    return [tuple(int(value) for value in colours[index]) for index in order]


def _quantize_one(picture: torch.Tensor, colours: int, dither: bool) -> torch.Tensor:
    rgb = to_pil(picture)
    # Median cut picks the inks and k-means polishes them. The remap is a second pass because Pillow
    # only dithers when it maps onto a given palette.
    inks = rgb.quantize(colours, method=Image.Quantize.MEDIANCUT, kmeans=2)
    mapped = rgb.quantize(palette=inks, dither=Image.Dither.FLOYDSTEINBERG if dither else Image.Dither.NONE)
    return load_image(mapped.convert("RGB"))


def _mix(matrix: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
    if image.ndim < 3 or image.shape[-3] != 3:
        raise ValueError(f"expected a colour picture (..., 3, H, W), got shape {tuple(image.shape)}")
    return torch.einsum("ij,...jhw->...ihw", matrix.to(image), image)


def _resized(image: torch.Tensor, like: torch.Tensor) -> torch.Tensor:
    image = image.to(like)
    if image.shape[-2:] == like.shape[-2:]:
        return image
    batch = image if image.ndim == 4 else image.unsqueeze(0)
    resized = F.interpolate(batch, size=like.shape[-2:], mode="bilinear", align_corners=False, antialias=True)
    return resized if image.ndim == 4 else resized[0]


def _moments(pixels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Mean (..., 3, 1) and covariance (..., 3, 3) of (..., 3, N) pixels, the covariance kept invertible."""
    mean = pixels.mean(-1, keepdim=True)
    centred = pixels - mean
    covariance = centred @ centred.transpose(-1, -2) / pixels.shape[-1]  # (..., 3, 3)
    return mean, covariance + EPSILON * torch.eye(3, dtype=pixels.dtype, device=pixels.device)


def _matrix_power(matrix: torch.Tensor, power: float) -> torch.Tensor:
    """A symmetric positive-definite matrix to a real power, by eigendecomposition."""
    values, vectors = torch.linalg.eigh(matrix)
    return (vectors * values.clamp_min(EPSILON).pow(power).unsqueeze(-2)) @ vectors.transpose(-1, -2)
