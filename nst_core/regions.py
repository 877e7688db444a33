"""Regions: where the design is painted in which painting, kept as the photo, or left out.

Spatial control after Gatys, Ecker, Bethge, Hertzmann and Shechtman, "Controlling Perceptual Factors in
Neural Style Transfer" (CVPR 2017). A region image says, per pixel, what the design does there, in one
colour code that any paint program can write:

    white        the painting
    red          the second painting
    black        the photo, kept as it is
    transparent  left out (alpha 0 in the print file)

Colours between them mix: a grey blends the painting into the photo, a pink is half of each painting.
A photo's own transparency is left out too.

Each painting's region is a guidance channel. Of the paper's ways to bring a channel to a layer's
resolution, this takes the simplest, averaging it over each layer position's pixels (a box filter of the
layer's stride), not the receptive-field propagation: the channels are feathered first, so the two
differ only within a few pixels of a border, where feathering already softens the seam. At each style
layer a region's Gram matrix is that of the features weighted by its channel, divided by the channel's
energy (a weighted mean, not the paper's plain sum), so that a small region is pulled as hard as a large
one, and each region's Grams are pulled to its own painting's. "Keep the photo" is not a loss: the
picture the objective sees is the photo blended over the painted picture by the kept share, so kept
pixels are the photo's exactly and a grey blends the two as the code says.
"""

from __future__ import annotations

import io
import math
import os
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageOps

from .export import content_alpha
from .images import ImageError, ImageLike, crop_box, open_image

FEATHER = 0.01  # the soft edge's Gaussian sigma, as a share of the picture's longest side (2.5 px at 256)
MAX_SIDE = 2048  # regions are kept at most this large: the feathered guidance has no finer detail
TOLERANCE = 0.16  # how far (0..1 per channel) a pixel may stray from the code: JPEG noise, anti-aliasing
STRAY_SHARE = 0.01  # the share of visible pixels that may stray further before the image is refused
NAMES = ("the painting", "the second painting", "the photo", "left out")  # the channels, in order
CODE = "white = the painting, red = the second painting, black = keep the photo, transparent = leave out"


@dataclass(frozen=True)
class Guide:
    """Regions at one picture size: the painted regions' guidance, the photo's share, and the alpha."""

    styles: torch.Tensor  # (1, R, H, W) the guidance of each painted region, R = 1 or 2
    keep: torch.Tensor  # (1, 1, H, W) the share of the photo in each pixel
    alpha: torch.Tensor  # (1, 1, H, W) 0 where the design is left out

    def to(self, device: torch.device | str) -> Guide:
        return Guide(self.styles.to(device), self.keep.to(device), self.alpha.to(device))

    @staticmethod
    def stack(guides: list[Guide]) -> Guide:
        """The guides of a batch's pictures as one (B, ...)."""
        return Guide(*(torch.cat(parts) for parts in zip(*((g.styles, g.keep, g.alpha) for g in guides))))

    def composite(self, picture: torch.Tensor, photo: torch.Tensor) -> torch.Tensor:
        """The picture with the photo blended over it where it is kept: (B, 3, H, W)."""
        return picture + self.keep * (photo - picture)

    def at_layer(self, stride: int) -> torch.Tensor:
        """The painted regions' guidance averaged over each position of a layer `stride` pixels apart."""
        return self.styles if stride == 1 else F.avg_pool2d(self.styles, stride)  # floors, as pooling does


class Regions:
    """A region image read and checked, fitted to its photo, and feathered: shares of the four channels."""

    def __init__(self, shares: torch.Tensor, painted: int):
        self.shares = shares  # (1, 4, H, W): painting, second painting, photo, left out; summing to 1
        self.painted = painted  # painted regions the run needs paintings for: 1, or 2 when red is used

    @classmethod
    def read(cls, source: ImageLike | None, photo: ImageLike, size: tuple[int, int] | None = None,
             name: str = "") -> Regions | None:
        """The regions a region image (`source`, or None) and the photo's own transparency give, fitted to the
        photo (of `size`, width x height, when known) as the photo is fitted to the picture; None when neither
        says anything: the whole photo is painted."""
        alpha = content_alpha(photo) if not isinstance(photo, torch.Tensor) else None
        if source is None and alpha is None:
            return None
        size = size or open_image(photo).size
        if source is None:
            shares = cls.everywhere(size).shares
        else:
            label = name or (os.path.basename(source) if isinstance(source, (str, os.PathLike)) else "the region image")
            shares = _decode(source, label, size)
        shares = _fit(shares, size)
        if alpha is not None:
            alpha = F.interpolate(alpha, size=shares.shape[-2:], mode="bilinear", antialias=True, align_corners=False)
            shares = torch.cat([shares[:, :3] * alpha, 1 - alpha * (1 - shares[:, 3:])], 1)
        return cls(_feather(shares), painted=2 if shares[:, 1].max() > TOLERANCE else 1)

    @classmethod
    def everywhere(cls, size: tuple[int, int]) -> Regions:
        """The whole picture (width x height) painted in the painting, as without regions."""
        return cls(F.pad(torch.ones(1, 1, size[1], size[0]), (0, 0, 0, 0, 0, 3)), painted=1)

    def at(self, height: int, width: int, aspect: float = 0.0) -> Guide:
        """The guide for a picture of height x width, cropped to `aspect` as the photo is (centred)."""
        shares = self.shares
        if aspect:
            left, top, right, bottom = crop_box((shares.shape[-1], shares.shape[-2]), aspect)
            shares = shares[..., top:bottom, left:right]
        shares = F.interpolate(shares, size=(height, width), mode="bilinear", antialias=True, align_corners=False)
        shown = 1 - shares[:, 3:]  # the visible share
        styles = shares[:, :self.painted]
        if self.painted == 1:
            styles = styles + shares[:, 1:2]  # no second painting: stray red is the painting
        keep = (shares[:, 2:3] / shown.clamp_min(1e-6)).clamp(0, 1)  # of what is seen, how much is photo
        return Guide(styles.contiguous(), keep, shown.clamp(0, 1))


def _decode(source: ImageLike, name: str, photo_size: tuple[int, int]) -> torch.Tensor:
    """The four channels' shares of a region image in the colour code, at its own size: (1, 4, H, W)."""
    fix = f"paint the regions in {CODE} (README, \"Regions\")"
    try:
        image = open_regions(source)
    except ImageError as error:
        raise ImageError(f"regions: {error}; {fix}") from None
    rgba = np.asarray(image.convert("RGBA"), dtype=np.float32) / 255.0  # (H, W, 4)
    red, green, blue, alpha = np.moveaxis(rgba, -1, 0)
    white = (green + blue) / 2  # what red, white and black mix to: R = white + red, G = B = white
    stray = (np.abs(green - blue) > TOLERANCE) | (white - red > TOLERANCE)
    visible = alpha > 0.5
    if visible.sum() and (stray & visible).sum() > STRAY_SHARE * visible.sum():
        sample = np.median(rgba[stray & visible][:, :3], axis=0) * 255
        colour = "#{:02x}{:02x}{:02x}".format(*sample.round().astype(int))
        share = (stray & visible).sum() / visible.sum()
        raise ImageError(f"regions: {name} uses colours outside the code ({share:.0%} of it, such as {colour}); {fix}")
    red_share = np.clip(red - white, 0, 1)
    white = np.clip(np.minimum(white, red), 0, 1)
    photo = np.clip(1 - white - red_share, 0, 1)
    shares = np.stack([white * alpha, red_share * alpha, photo * alpha, 1 - alpha])
    if shares[3].min() >= 1 - 1e-3:
        raise ImageError(f"regions: {name} leaves everything out (it is transparent all over); {fix}")
    if (shares[0] + shares[1]).max() <= TOLERANCE:
        raise ImageError(f"regions: {name} paints nothing in a painting (no white or red in it), so the design "
                         f"would be the photo; {fix}")
    width, height = image.size
    if abs(math.log((width / height) / (photo_size[0] / photo_size[1]))) > 0.02:  # another shape: crop like the photo
        left, top, right, bottom = crop_box((width, height), photo_size[0] / photo_size[1])
        shares = shares[:, top:bottom, left:right]
    return torch.from_numpy(np.ascontiguousarray(shares))[None]


def open_regions(source: ImageLike) -> Image.Image:
    """The region image as decoded, its transparency kept (open_image lays transparency on white)."""
    if isinstance(source, Image.Image):
        return ImageOps.exif_transpose(source)
    if isinstance(source, (np.ndarray, torch.Tensor)):
        array = source.detach().cpu().numpy() if isinstance(source, torch.Tensor) else np.asarray(source)
        if array.ndim == 3 and array.shape[0] in (1, 3, 4) and array.shape[-1] not in (1, 3, 4):
            array = array.transpose(1, 2, 0)  # channels first
        if array.dtype != np.uint8:
            array = (np.clip(array, 0, 1) * 255).round().astype(np.uint8)
        return Image.fromarray(array.squeeze(-1) if array.ndim == 3 and array.shape[-1] == 1 else array)
    open_image(source)  # every picture's checks and messages: missing, not an image, too large, corrupt
    with Image.open(io.BytesIO(source) if isinstance(source, bytes) else source) as image:
        image.load()
        return ImageOps.exif_transpose(image)


def _fit(shares: torch.Tensor, photo_size: tuple[int, int]) -> torch.Tensor:
    """Shares at the photo's size, at most MAX_SIDE on the longest side."""
    width, height = photo_size
    scale = min(1.0, MAX_SIDE / max(width, height))
    size = (max(1, round(height * scale)), max(1, round(width * scale)))
    if tuple(shares.shape[-2:]) == size:
        return shares
    return F.interpolate(shares, size=size, mode="bilinear", antialias=True, align_corners=False)


def _feather(shares: torch.Tensor) -> torch.Tensor:
    """Shares blurred by a Gaussian of FEATHER times the longest side: soft edges, so no seam shows."""
    sigma = FEATHER * max(shares.shape[-2:])
    if sigma < 0.5:
        return shares
    radius = math.ceil(3 * sigma)
    taps = torch.exp(-0.5 * (torch.arange(-radius, radius + 1, dtype=torch.float32) / sigma) ** 2)
    taps /= taps.sum()
    channels = shares.shape[1]
    padded = F.pad(shares, (radius, radius, 0, 0), mode="replicate")
    blurred = F.conv2d(padded, taps.view(1, 1, 1, -1).repeat(channels, 1, 1, 1), groups=channels)
    padded = F.pad(blurred, (0, 0, radius, radius), mode="replicate")
    return F.conv2d(padded, taps.view(1, 1, -1, 1).repeat(channels, 1, 1, 1), groups=channels)
