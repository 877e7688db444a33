"""Print-size designs: the coarse-to-fine plan up to a print size, and the files a print shop needs."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from .colour import quantize
from .config import PRESETS, StyleConfig
from .export import PRINT_DPI, content_alpha, print_size, save_print
from .images import ImageLike, crop_to_aspect, to_pil
from .mockup import mug_mockup, tee_mockup

START_SIDE = 512  # the coarsest scale: where the composition is found, cheaply
FINAL_STEPS = 10  # iterations at print size, which only sharpen what the smaller scales painted
STEP_DECAY = 3  # each doubling of the side gets a third of the iterations of the scale before


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
class PrintFiles:
    """Where the print file and its mock-ups were written."""

    design: Path
    tee: Path | None = None
    mug: Path | None = None


def export_design(picture: torch.Tensor, path: str | os.PathLike, content: ImageLike | None = None, *,
                  dpi: int = PRINT_DPI, bits: int = 8, transparent: bool = False, colours: int = 0,
                  mockups: bool = False) -> PrintFiles:
    """Write the finished design as a print file, optionally quantised, transparent, with mock-ups."""
    picture = picture if picture.ndim == 4 else picture.unsqueeze(0)
    if colours:
        picture = quantize(picture, colours)
    alpha = None
    if transparent:
        if content is None or (alpha := content_alpha(content)) is None:
            raise ValueError("a transparent background needs a photo with transparency (a PNG with an alpha "
                             "channel); this one has none")
        alpha = _fit_alpha(alpha, picture)
    design = save_print(picture, path, dpi, bits=bits, alpha=alpha)
    if not mockups:
        return PrintFiles(design)
    preview = to_pil(picture)
    if alpha is not None:
        preview.putalpha(to_pil(alpha[0].expand(3, -1, -1)).convert("L"))
    tee = design.with_name(f"{design.stem}_tee.png")
    mug = design.with_name(f"{design.stem}_mug.png")
    tee_mockup(preview).save(tee)
    mug_mockup(preview).save(mug)
    return PrintFiles(design, tee, mug)


def _fit_alpha(alpha: torch.Tensor, picture: torch.Tensor) -> torch.Tensor:
    """The photo's alpha cropped as the photo was (centred, to the design's aspect) and resized to it."""
    height, width = picture.shape[-2:]
    mask = Image.fromarray((alpha[0, 0].numpy() * 255).round().astype(np.uint8), "L")
    mask = crop_to_aspect(mask, width / height).resize((width, height), Image.Resampling.BILINEAR)
    return torch.from_numpy(np.asarray(mask, dtype=np.float32) / 255).view(1, 1, height, width)
