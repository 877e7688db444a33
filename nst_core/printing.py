"""Print-size designs: the coarse-to-fine plan up to a print size, where the design lands in the print area,
and the files a print shop needs."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw

from .colour import quantize
from .config import PRESETS, StyleConfig
from .export import PRINT_DPI, content_alpha, print_size, save_print
from .images import ImageLike, crop_to_aspect, to_pil
from .mockup import mug_mockup, tee_mockup

START_SIDE = 512  # the coarsest scale: where the composition is found, cheaply
FINAL_STEPS = 10  # iterations at print size, which only sharpen what the smaller scales painted
STEP_DECAY = 3  # each doubling of the side gets a third of the iterations of the scale before
FITS = ("fit", "fill")  # a design of another shape than the print: kept whole (the rest transparent), or cropped
AREA_MARGIN = 10  # pixels round the print area's picture, where "fill" shows the edges it crops
PAGE = (246, 246, 246)  # the picture's background, outside the print area
CHECKER = ((255, 255, 255), (222, 222, 222))  # transparency, as image editors draw it
CHECKER_CELL = 8  # pixels
OUTLINE = (60, 60, 60)


def print_config(size: str | tuple[int, int], base: StyleConfig = PRESETS["default"],
                 final_steps: int = FINAL_STEPS, start_side: int = 0) -> StyleConfig:
    """`base` painted coarse to fine up to a print size ("tee", "mug", "WxH"...), the photo cropped to fit.

    The side doubles from START_SIDE while that stays under two thirds of the print's longest side;
    the coarsest scale gets `base.steps` iterations and each finer one a third of the one before, so
    most of the work happens small and the print-size passes only refine. With `start_side`, the
    longest side of an approved picture that the run starts from (`stylize(start=...)`), that picture
    takes the coarsest scale's place: the plan refines it from twice its side, and the print size
    always gets `final_steps`.
    """
    width, height = print_size(size)
    longest = max(width, height)
    side, level = (2 * start_side, 1) if start_side else (START_SIDE, 0)
    scales = []
    while side * 1.5 <= longest:
        scales.append(side)
        side *= 2
    scale_steps = tuple(max(final_steps, base.steps // STEP_DECAY ** (level + index)) for index in range(len(scales)))
    return base.replace(size=longest, aspect=width / height, scales=tuple(scales), scale_steps=scale_steps,
                        steps=final_steps if scales or start_side else base.steps, coarse_sketch=False)


@dataclass(frozen=True)
class Placement:
    """Where a design lands in a print: the print's size and the painted design's box in it, in pixels."""

    size: tuple[int, int]  # the print's (width, height)
    box: tuple[int, int, int, int]  # the design's (left, top, right, bottom) inside it

    @property
    def design(self) -> tuple[int, int]:
        """The painted design's (width, height)."""
        left, top, right, bottom = self.box
        return right - left, bottom - top

    @property
    def padded(self) -> bool:
        """Whether part of the print lies outside the design (and is left transparent)."""
        return self.design != self.size


def place_design(aspect: float, size: tuple[int, int], fit: str = "fit", top_aligned: bool = False) -> Placement:
    """Where a design of width / height `aspect` lands in a print of `size` (width, height).

    "fit": the whole design at the largest size inside the print, centred across and, with `top_aligned`
    (a tee's chest print starts under the collar), at the top, else centred; the rest of the print is left
    transparent. "fill" (or no aspect): the design is painted at the print's size, its photo cropped to the
    print's shape as `load_image` crops it (centred).
    """
    if fit not in FITS:
        raise ValueError(f"fit must be one of {', '.join(FITS)}, got {fit!r}")
    width, height = size
    if fit == "fill" or not aspect:
        return Placement(size, (0, 0, width, height))
    if aspect > width / height:  # wider than the print: its width is the print's
        inner = width, min(height, max(1, round(width / aspect)))
    else:
        inner = min(width, max(1, round(height * aspect))), height
    left = (width - inner[0]) // 2
    top = 0 if top_aligned else (height - inner[1]) // 2
    return Placement(size, (left, top, left + inner[0], top + inner[1]))


def pad_design(picture: torch.Tensor, alpha: torch.Tensor | None,
               placement: Placement) -> tuple[torch.Tensor, torch.Tensor]:
    """The design (1, 3, h, w) laid in its print: the print-size picture (white outside the design, what a
    viewer that ignores transparency shows) and its (1, 1, H, W) alpha: the design's own alpha (or 1)
    inside its box, times 0 outside."""
    width, height = placement.size
    left, top, right, bottom = placement.box
    if picture.shape[-2:] != (bottom - top, right - left):  # the loop paints the planned size; never crop
        picture = F.interpolate(picture, size=(bottom - top, right - left), mode="bilinear", antialias=True,
                                align_corners=False)
    canvas = picture.new_ones(1, 3, height, width)
    canvas[..., top:bottom, left:right] = picture
    inside = picture.new_zeros(1, 1, height, width)
    inside[..., top:bottom, left:right] = 1
    own = picture.new_ones(1, 1, height, width)
    if alpha is not None:
        own[..., top:bottom, left:right] = alpha
    return canvas, inside * own


def print_area(design: Image.Image, size: tuple[int, int], fit: str = "fit", top_aligned: bool = False,
               side: int = 320) -> Image.Image:
    """A small picture of a print before it is rendered: the print area outlined, the design where it lands
    (its transparent parts over a checkerboard) and, with "fill", the edges cropped off faded outside."""
    width, height = size
    if fit == "fill":  # the design scaled to cover the print, centred, as the photo is cropped
        scale = max(width / design.width, height / design.height)
        shown_width, shown_height = design.width * scale, design.height * scale
        box = ((width - shown_width) / 2, (height - shown_height) / 2,
               (width + shown_width) / 2, (height + shown_height) / 2)
    else:
        box = place_design(design.width / design.height, size, fit, top_aligned).box
    left, top = min(0, box[0]), min(0, box[1])
    scale = (side - 2 * AREA_MARGIN) / max(max(width, box[2]) - left, max(height, box[3]) - top)

    def at(x: float, y: float) -> tuple[int, int]:
        return round(AREA_MARGIN + (x - left) * scale), round(AREA_MARGIN + (y - top) * scale)

    (x0, y0), (x1, y1) = at(0, 0), at(width, height)
    (dx0, dy0), (dx1, dy1) = at(*box[:2]), at(*box[2:])
    canvas = Image.new("RGBA", tuple(end + AREA_MARGIN for end in at(max(width, box[2]), max(height, box[3]))),
                       (*PAGE, 255))
    canvas.paste(checkerboard((x1 - x0, y1 - y0)), (x0, y0))
    canvas.alpha_composite(design.convert("RGBA").resize((max(1, dx1 - dx0), max(1, dy1 - dy0)),
                                                         Image.Resampling.LANCZOS), (dx0, dy0))
    if fit == "fill":  # what falls outside the print is cut off: faded, so the print area reads at a glance
        veil = Image.new("RGBA", canvas.size, (*PAGE, 190))
        veil.paste((0, 0, 0, 0), (x0, y0, x1, y1))
        canvas.alpha_composite(veil)
    ImageDraw.Draw(canvas).rectangle((x0 - 1, y0 - 1, x1, y1), outline=OUTLINE, width=2)
    return canvas.convert("RGB")


def checkerboard(size: tuple[int, int], cell: int = CHECKER_CELL) -> Image.Image:
    """A light checkerboard of `size` (width, height), where a picture is transparent."""
    y, x = np.mgrid[0:size[1], 0:size[0]] // cell
    return Image.fromarray(np.asarray(CHECKER, np.uint8)[(x + y) % 2], "RGB")


@dataclass(frozen=True)
class PrintFiles:
    """Where the print file and its mock-ups were written."""

    design: Path
    tee: Path | None = None
    mug: Path | None = None


def export_design(picture: torch.Tensor, path: str | os.PathLike, content: ImageLike | None = None, *,
                  dpi: int = PRINT_DPI, bits: int = 8, transparent: bool = False, colours: int = 0,
                  mockups: bool = False, placement: Placement | None = None,
                  alpha: torch.Tensor | None = None) -> PrintFiles:
    """Write the finished design as a print file, optionally quantised, transparent, with mock-ups; with a
    `placement` (`place_design`) whose design is smaller than its print, the file is the print's size with
    the design in its place and the rest transparent. `alpha`, the design's own transparency (a Step's, where
    its regions left parts out, which includes the photo's), is kept in the file (RGBA)."""
    picture = picture if picture.ndim == 4 else picture.unsqueeze(0)
    if colours:
        picture = quantize(picture, colours)
    alpha = None if alpha is None else alpha.reshape(1, 1, *alpha.shape[-2:]).float()
    if transparent and alpha is None:
        if content is None or (alpha := content_alpha(content)) is None:
            raise ValueError("a transparent background needs a photo with transparency (a PNG with an alpha "
                             "channel); this one has none")
        alpha = _fit_alpha(alpha, picture)
    if placement is not None and placement.padded:
        picture, alpha = pad_design(picture, alpha, placement)
    design = save_print(picture, path, dpi, bits=bits, alpha=alpha)
    if not mockups:
        return PrintFiles(design)
    preview = to_pil(picture, alpha)
    tee = design.with_name(f"{design.stem}_tee.png")
    mug = design.with_name(f"{design.stem}_mug.png")
    tee_mockup(preview).save(tee)
    mug_mockup(preview).save(mug)
    return PrintFiles(design, tee, mug)


def design_mask(alpha: torch.Tensor, size: tuple[int, int]) -> Image.Image:
    """The photo's (1, 1, H, W) alpha cropped as the photo is (centred, to the design's aspect) and resized to
    the design's `size` (width, height), as an "L" picture."""
    mask = Image.fromarray((alpha[0, 0].numpy() * 255).round().astype(np.uint8), "L")
    return crop_to_aspect(mask, size[0] / size[1]).resize(size, Image.Resampling.BILINEAR)


def _fit_alpha(alpha: torch.Tensor, picture: torch.Tensor) -> torch.Tensor:
    """The photo's alpha fitted to the design (`design_mask`) as a (1, 1, h, w) tensor."""
    height, width = picture.shape[-2:]
    mask = design_mask(alpha, (width, height))
    return torch.from_numpy(np.asarray(mask, dtype=np.float32) / 255).view(1, 1, height, width)
