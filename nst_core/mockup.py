"""Tee and mug mock-ups drawn from scratch, with the design printed where a print shop would put it."""

from __future__ import annotations

from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw, ImageFilter

from .export import PRINT_DPI, PRINT_PRESETS

Point = tuple[float, float]  # in fractions of the square canvas, so a drawing works at any size
Stroke = tuple[list[Point], float]  # a polyline and its width
BACKGROUND = (226, 229, 234)  # a cool studio grey that a white tee and a white mug both stand out from
CERAMIC = (250, 250, 248)
SUPERSAMPLE = 3  # shapes are drawn this many times larger and shrunk, which anti-aliases their edges

# Where the design lands on the tee.
TEE_BODY = (0.245, 0.755)  # left and right edges of the shirt's body, under the arms
PRINT_AREA_WIDTH = 0.55  # of the body's width: a full-size adult front print
PRINT_AREA_TOP = 0.26  # two inches under the collar, where the chest starts
PRINT_AREA_ASPECT = PRINT_PRESETS["tee"][0] / PRINT_PRESETS["tee"][1]  # the tee preset's width / height

# An 11 oz mug, in inches; the "mug" preset's wrap is centred on the side facing us.
MUG_DIAMETER, MUG_HEIGHT = 3.25, 3.8
MUG_WRAP = tuple(side / PRINT_DPI for side in PRINT_PRESETS["mug"])  # (9, 3.7) in
MUG_CENTRE, MUG_TOP, MUG_RADIUS = 0.44, 0.22, 0.23  # left of the middle, leaving room for the handle
MUG_BOTTOM = MUG_TOP + 2 * MUG_RADIUS * MUG_HEIGHT / MUG_DIAMETER
MUG_TILT = 0.17 * MUG_RADIUS  # half the rim ellipse's height: we look down on the mug a little


def tee_print_box(size: int) -> tuple[int, int, int, int]:
    """The tee's print area (x0, y0, x1, y1) in pixels on a size x size mock-up."""
    left, right = TEE_BODY
    width = (right - left) * PRINT_AREA_WIDTH * size
    x0, y0 = round(size / 2 - width / 2), round(PRINT_AREA_TOP * size)
    return x0, y0, x0 + round(width), y0 + round(width / PRINT_AREA_ASPECT)


def tee_mockup(design: Image.Image, shirt_colour: tuple[int, int, int] = (235, 235, 235),
               size: int = 900) -> Image.Image:
    """A T-shirt laid flat, seen from the front, with the design printed on the chest."""
    right = _tee_right_half()
    outline = right + _mirror(right[::-1])
    shirt = _polygon(size, outline)
    canvas = _backdrop(size, shadow=_blur(_polygon(size, _lowered(outline, 0.012)), size / 70), depth=0.16)
    # Light from the upper left; the cloth darkens where it rounds off at the edges.
    y, x = (np.mgrid[0:size, 0:size].astype(np.float32) + 0.5) / size  # canvas coordinates of pixel centres
    light = 1.04 - 0.06 * y - 0.05 * (x - 0.4) - 0.08 * ((x - 0.5) / 0.45) ** 2
    light *= 1 - 0.35 * (1 - _blur(shirt, size / 60))
    fabric = np.asarray(shirt_colour, np.float32)
    _over(canvas, fabric * light[..., None], shirt)
    back, front = _neck(0.115, 0.135), _neck(0.115, 0.21)
    _over(canvas, fabric * 0.72, _polygon(size, back + front[::-1]))  # the inside of the back
    _over(canvas, fabric * 0.86, _strokes(size, [(_lowered(back, 0.004), 0.008)]))  # the back of the collar
    _over(canvas, fabric * 0.9, _strokes(size, [(front, 0.02)]))  # the rib collar
    _over(canvas, fabric * 0.97, _strokes(size, [(_lowered(front, 0.009), 0.009)]))  # ... and its stitching
    _over(canvas, fabric * 0.8, _strokes(size, _seams()) * shirt)
    # Ink soaks into the cloth: it takes the cloth's light and shade and a hint of its colour.
    x0, y0, x1, y1 = tee_print_box(size)
    rgba = _fitted(design, (x1 - x0, y1 - y0), top_aligned=True)
    shade = light[y0:y1, x0:x1, None] * (0.8 + 0.2 * fabric / 255)
    _over(canvas[y0:y1, x0:x1], rgba[..., :3] * shade, rgba[..., 3])
    return _picture(canvas)


def mug_mockup(design: Image.Image, size: int = 900) -> Image.Image:
    """A white 11 oz mug seen a little from above, with the front of the wrap design printed on it."""
    centre, top, bottom, radius, tilt = MUG_CENTRE, MUG_TOP, MUG_BOTTOM, MUG_RADIUS, MUG_TILT
    floor = (centre - 1.1 * radius, bottom - 0.2 * tilt, centre + 1.5 * radius, bottom + 1.8 * tilt)
    canvas = _backdrop(size, shadow=_blur(_ellipse(size, floor), size / 60), depth=0.22)
    ceramic = np.asarray(CERAMIC, np.float32)
    y, x = (np.mgrid[0:size, 0:size].astype(np.float32) + 0.5) / size
    handle = (centre + 0.6 * radius, top + 0.16 * (bottom - top), centre + 1.48 * radius, top + 0.76 * (bottom - top))
    handle_light = 0.95 - 0.2 * np.clip((x - handle[0]) / (handle[2] - handle[0]), 0, 1) ** 2
    _over(canvas, ceramic * handle_light[..., None], _ellipse(size, handle, ring=0.2 * radius))
    # Across the cylinder the surface turns away from us: x = centre + radius * sin(theta).
    sine = (x - centre) / radius
    cosine = np.sqrt(np.clip(1 - sine ** 2, 0, 1))
    light = (0.72 + 0.28 * np.sqrt(cosine))[..., None]
    body = np.maximum(_polygon(size, [(centre - radius, top), (centre + radius, top), (centre + radius, bottom),
                                      (centre - radius, bottom)]),
                      _ellipse(size, (centre - radius, bottom - tilt, centre + radius, bottom + tilt)))
    colour, coverage = _wrap(design, sine, cosine, y)
    _over(canvas, (ceramic + (colour - ceramic) * coverage[..., None]) * light, body)  # printed ceramic
    gloss = 0.35 * np.exp(-(((sine + 0.45) / 0.09) ** 2)) * body  # a soft window reflection left of centre
    canvas += (255 - canvas) * gloss[..., None]
    inner = (centre - 0.93 * radius, top - 0.86 * tilt, centre + 0.93 * radius, top + 0.86 * tilt)
    _over(canvas, ceramic * 0.98, _ellipse(size, (centre - radius, top - tilt, centre + radius, top + tilt)))
    depth = np.clip((y - inner[1]) / (inner[3] - inner[1]), 0, 1)  # the front wall shades the inside
    _over(canvas, ceramic * (0.84 - 0.24 * depth)[..., None], _ellipse(size, inner))
    return _picture(canvas)


def _tee_right_half() -> list[Point]:
    """The right half of the shirt's outline, from the back of the collar round to the middle of the hem."""
    return [
        *_curve((0.5, 0.135), (0.59, 0.135), (0.6, 0.115)),  # back neckline
        *_curve((0.6, 0.115), (0.69, 0.135), (0.775, 0.16)),  # shoulder
        *_curve((0.775, 0.16), (0.87, 0.19), (0.96, 0.385)),  # top of the sleeve
        (0.85, 0.445),  # sleeve hem
        *_curve((0.85, 0.445), (0.78, 0.375), (0.755, 0.355)),  # underarm
        *_curve((0.755, 0.355), (0.745, 0.62), (0.762, 0.885)),  # side seam
        *_curve((0.762, 0.885), (0.63, 0.895), (0.5, 0.895)),  # hem
    ]


def _neck(shoulder: float, dip: float) -> list[Point]:
    """A neckline from the left shoulder to the right one, `dip` deep at the middle."""
    right = _curve((0.5, dip), (0.59, dip), (0.6, shoulder))
    return _mirror(right[::-1]) + right


def _seams() -> list[Stroke]:
    """Stitch lines: where the sleeves are set in, the sleeve hems and the bottom hem."""
    armhole, cuff = _curve((0.775, 0.165), (0.742, 0.26), (0.755, 0.352)), [(0.949, 0.37), (0.841, 0.43)]
    hem = _curve((0.243, 0.865), (0.5, 0.878), (0.757, 0.865))
    return [(armhole, 0.003), (_mirror(armhole), 0.003), (cuff, 0.002), (_mirror(cuff), 0.002), (hem, 0.002)]


def _wrap(design: Image.Image, sine: np.ndarray, cosine: np.ndarray,
          y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The wrap design laid round the mug's front: its colour (H, W, 3) and coverage (H, W)."""
    wrap_width, wrap_height = MUG_WRAP
    sheet = _fitted(design, (round(wrap_width * 100), round(wrap_height * 100)))  # 100 px an inch: plenty on screen
    # A point theta round the mug and h down it shows at x = r sin(theta), y = h + tilt cos(theta).
    around = np.arcsin(np.clip(sine, -1, 1)) * (MUG_DIAMETER / 2) / wrap_width  # in wrap widths from the middle
    down = (y - MUG_TOP - MUG_TILT * cosine) / (MUG_BOTTOM - MUG_TOP) * MUG_HEIGHT  # inches under the rim
    down = (down - (MUG_HEIGHT - wrap_height) / 2) / wrap_height  # in wrap heights: the print is centred
    grid = torch.from_numpy(np.stack([2 * around, 2 * down - 1], -1)).float()[None]  # grid_sample's [-1, 1]
    # Sample premultiplied colour, so transparent pixels (black, alpha 0) leave no dark fringe.
    premultiplied = torch.from_numpy(np.dstack([sheet[..., :3] * sheet[..., 3:], sheet[..., 3:]]))
    sampled = F.grid_sample(premultiplied.permute(2, 0, 1)[None], grid, align_corners=False)[0]  # zero outside
    rgb, alpha = sampled[:3].permute(1, 2, 0).numpy(), sampled[3].numpy()
    return rgb / np.maximum(alpha, 1e-6)[..., None], alpha


def _fitted(design: Image.Image, size: tuple[int, int], top_aligned: bool = False) -> np.ndarray:
    """The design scaled to fit inside `size`, centred on a transparent (h, w, 4) array: RGB 0..255, alpha 0..1."""
    rgba = design.convert("RGBA")  # keeps an alpha channel or a transparent palette entry
    scale = min(size[0] / rgba.width, size[1] / rgba.height)
    fitted = rgba.resize((max(1, round(rgba.width * scale)), max(1, round(rgba.height * scale))),
                         Image.Resampling.LANCZOS)
    sheet = Image.new("RGBA", size, (0, 0, 0, 0))
    sheet.paste(fitted, ((size[0] - fitted.width) // 2, 0 if top_aligned else (size[1] - fitted.height) // 2))
    array = np.asarray(sheet, np.float32)
    return np.dstack([array[..., :3], array[..., 3:] / 255])


def _backdrop(size: int, shadow: np.ndarray, depth: float) -> np.ndarray:
    """The studio background (size, size, 3), darkened by up to `depth` under the object's shadow."""
    return np.asarray(BACKGROUND, np.float32) * (1 - depth * shadow[..., None])


def _over(canvas: np.ndarray, colour: np.ndarray, coverage: np.ndarray) -> None:
    """Paint `colour` (one colour or an image) over the canvas in place, as much as `coverage` (0..1) says."""
    canvas += (colour - canvas) * coverage[..., None]


def _picture(canvas: np.ndarray) -> Image.Image:
    return Image.fromarray(canvas.clip(0, 255).round().astype(np.uint8), "RGB")


def _mask(size: int, draw: Callable[[ImageDraw.ImageDraw, float], None]) -> np.ndarray:
    """An anti-aliased coverage mask (size, size) in [0, 1]: `draw` paints on a canvas of side s, supersampled."""
    s = size * SUPERSAMPLE
    big = Image.new("L", (s, s), 0)
    draw(ImageDraw.Draw(big), s)
    return np.asarray(big.resize((size, size), Image.Resampling.BOX), np.float32) / 255


def _polygon(size: int, points: list[Point]) -> np.ndarray:
    return _mask(size, lambda draw, s: draw.polygon([(x * s, y * s) for x, y in points], fill=255))


def _ellipse(size: int, box: tuple[float, float, float, float], ring: float | None = None) -> np.ndarray:
    """A filled ellipse in the box (x0, y0, x1, y1), or a ring `ring` wide."""
    return _mask(size, lambda draw, s: draw.ellipse([v * s for v in box], fill=None if ring else 255,
                                                    outline=255 if ring else None, width=round((ring or 0) * s)))


def _strokes(size: int, strokes: list[Stroke]) -> np.ndarray:
    def draw_all(draw: ImageDraw.ImageDraw, s: float) -> None:
        for points, width in strokes:
            draw.line([(x * s, y * s) for x, y in points], fill=255, width=max(1, round(width * s)), joint="curve")
    return _mask(size, draw_all)


def _blur(mask: np.ndarray, radius: float) -> np.ndarray:
    image = Image.fromarray((mask * 255).round().astype(np.uint8)).filter(ImageFilter.GaussianBlur(radius))
    return np.asarray(image, np.float32) / 255


def _curve(start: Point, control: Point, end: Point, steps: int = 24) -> list[Point]:
    """Points along a quadratic Bézier curve."""
    return [tuple((1 - t) ** 2 * a + 2 * (1 - t) * t * b + t * t * c for a, b, c in zip(start, control, end))
            for t in (i / steps for i in range(steps + 1))]


def _mirror(points: list[Point]) -> list[Point]:
    """The points reflected in the canvas's vertical centre line."""
    return [(1 - x, y) for x, y in points]


def _lowered(points: list[Point], dy: float) -> list[Point]:
    return [(x, y + dy) for x, y in points]
