"""The regions' handlers: the photo in the brush editor, and the strokes painted there turned into a region
image in the colour code that the API, the CLI and the catalogue take (nst_core/regions.py)."""

from __future__ import annotations

import uuid

import gradio as gr
import numpy as np
from PIL import Image

from nst_core import ImageError
from nst_core.images import open_image
from nst_core.regions import Regions

from .controls import _readable, refusal
from .room import RESULTS, prune_results

EDITOR_SIDE = 1024  # the photo is shown this large to paint on; the regions are fitted to the full photo
# The editor's brushes: what each paints, the colour it shows in the editor, and its colour in the code.
BRUSHES = (  # each colour seen on the photo and on the editor's white menu
    ("leave out", "#3b82f6", (0, 0, 0, 0)),
    ("keep the photo as it is", "#16a34a", (0, 0, 0, 255)),
    ("the second painting", "#e02424", (255, 0, 0, 255)),
    ("the painting", "#f59e0b", (255, 255, 255, 255)),
)
STROKE_OPACITY = 0.6  # the photo shows through the strokes, so a person sees what they paint over
# What painting with regions costs against without, by painted regions (bench.regions at 256 px, docs/regions.md).
COST = {1: 1.07, 2: 1.24}
LEGEND = ("Choose what to paint, then paint on the photo where the design should differ; unpainted parts are "
          "painted in the painting. The eraser takes strokes back. Left-out parts are transparent in the picture "
          "and the print file.")
CHOICES = [words for words, _, _ in BRUSHES]  # what a person chooses to paint, by name
# Each choice marked with its brush's colour on the page (a radio's labels are text, so by CSS).
CHOICE_CSS = " ".join(f"#brush-choice label:nth-of-type({index}) span::before {{ content: '■ '; color: {shown}; }}"
                      for index, (_, shown, _) in enumerate(BRUSHES, start=1))


def brush_for(choice: str) -> gr.ImageEditor:
    """The editor's brush for the named choice ("leave out", "keep the photo as it is"...): that brush's colour."""
    colour = next((shown for words, shown, _ in BRUSHES if words == choice), BRUSHES[0][1])
    return gr.ImageEditor(brush=editor_brush(colour))


def editor_brush(colour: str = BRUSHES[0][1]) -> gr.Brush:
    """The editor's brush: every brush's colour on its menu, `colour` in hand."""
    return gr.Brush(colors=[(shown, STROKE_OPACITY) for _, shown, _ in BRUSHES], default_color=(colour, STROKE_OPACITY),
                    color_mode="fixed")


def editor_photo(content: str | None) -> dict | None:
    """The editor's value for a new photo: the photo (at most EDITOR_SIDE) to paint on, no strokes yet."""
    if not content:
        return None
    try:
        photo = open_image(content)
    except ImageError:
        return None  # the Paint button says what is wrong with the photo
    photo.thumbnail((EDITOR_SIDE, EDITOR_SIDE))
    return {"background": photo, "layers": [], "composite": None}


def region_file(editor: dict | None) -> str | None:
    """The strokes painted in the editor as a region image in the colour code (a PNG), or None when nothing is
    painted: the whole photo is painted then, as without regions."""
    layers = [layer for layer in (editor or {}).get("layers") or [] if layer is not None]
    code = strokes_to_code([np.asarray(layer) for layer in layers])
    if code is None:
        return None
    prune_results()
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"tee-regions-{uuid.uuid4().hex[:8]}.png"
    Image.fromarray(code, "RGBA").save(path)
    return str(path)


def strokes_to_code(layers: list[np.ndarray]) -> np.ndarray | None:
    """Editor layers (H, W, 4), their strokes in the brushes' colours, as an (H, W, 4) RGBA image in the
    colour code: each stroked pixel takes the nearest brush's code, the rest the painting's white."""
    stroked = [layer for layer in layers if layer.ndim == 3 and layer.shape[-1] == 4 and layer[..., 3].max() > 0]
    if not stroked:
        return None
    height, width = stroked[0].shape[:2]
    code = np.empty((height, width, 4), np.uint8)
    code[:] = BRUSHES[-1][2]  # the painting
    shown = np.asarray([_rgb(colour) for _, colour, _ in BRUSHES], np.float32)  # (brushes, 3)
    codes = np.asarray([value for *_, value in BRUSHES], np.uint8)
    for layer in stroked:  # later layers over earlier ones, as the editor shows them
        painted = layer[..., 3] >= 64  # a stroke, not the faint edge of one
        colours = layer[painted][:, :3].astype(np.float32)  # (N, 3)
        nearest = np.abs(colours[:, None] - shown[None]).sum(-1).argmin(1)
        code[painted] = codes[nearest]
    return code


def _rgb(colour: str) -> tuple[int, int, int]:
    return tuple(int(colour[index:index + 2], 16) for index in (1, 3, 5))


def check_regions(regions: str | None, content: str, styles: list[str]) -> float:
    """How much longer the run takes with these regions (1 without); refused, before the run waits in line, a
    region image that cannot be used, or one that asks for a second painting when there is none."""
    if not regions:
        return 1.0
    try:
        found = Regions.read(regions, content, name="the region image")
    except ImageError as error:
        raise _readable(error, content, None, None, None, regions) from None
    if found is not None and found.painted == 2 and len(styles) < 2:
        raise refusal("Your regions use the second painting (red), but there is none: add a second painting "
                      "under \"Fine-tune the painting\", or paint those parts in another colour.")
    return 1.0 if found is None else COST[found.painted]
