"""A design sheet: one PNG for a committee or a print shop, with the photo, the painting, the design, its tee
and mug mock-ups, and the settings in plain words with the command that paints it again."""

from __future__ import annotations

import math
import shlex
import textwrap
from pathlib import Path

from PIL import Image, ImageDraw, ImageFont

from .config import COLOUR_WORDS, StyleConfig
from .images import ImageLike, open_image
from .mockup import mug_mockup, tee_mockup
from .printing import checkerboard
from .regions import open_regions

WIDTH = 1800  # pixels: readable on a screen, printable on A4 landscape
MARGIN = 48
GAP = 24
ROW = 420  # the height of the photo, the painting and the design
COMMAND_WIDTH = 150  # characters in a line of the command that paints it again
INK, FAINT, EDGE, PAPER = (30, 30, 30), (110, 110, 110), (215, 215, 215), (255, 255, 255)
# The CLI flags that repaint a config, with the defaults that need no flag.
FLAGS = (("size", "-s"), ("steps", "-n"), ("optimizer", "--optimizer"), ("lr", "--lr"), ("content_weight", "-a"),
         ("tone_weight", "--tone"), ("style_weight", "-b"), ("tv_weight", "--tv"), ("init", "--init"), ("seed", "--seed"),
         ("style_scale", "--style-scale"), ("pooling", "--pooling"), ("colour", "--colour"))


def title(path: str | Path, untitled: str = "Untitled") -> str:
    """A painting's or photo's title from its file name: "the_starry_night.jpg" -> "The starry night"."""
    words = Path(str(path)).stem.replace("_", " ").replace("-", " ").strip()
    return (words[:1].upper() + words[1:]) if words else untitled


def settings_in_words(config: StyleConfig) -> list[str]:
    """The settings a person would need to paint the design again, each in plain words, technical name second
    (in ASCII: the sheet's built-in font has no Greek letters)."""
    method = "fast, crisp detail (L-BFGS)" if config.optimizer == "lbfgs" else "smooth brushwork (Adam)"
    start = {"draft": "a draft in the painting's manner", "content": "the photo", "noise": "noise"}[config.init]
    lines = [
        (f"Paint strength {math.log10(max(config.style_weight, 1e-12)):.1f} (style weight beta = "
         f"{_number(config.style_weight)})"),
        f"Keep the photo {config.content_weight:g} (content weight alpha); its light and dark "
        f"{config.tone_weight:g} (tone weight)",
        f"Brush size {config.style_scale:g}x (style scale)",
        f"Colours: {COLOUR_WORDS[config.colour]} ({config.colour})",
        f"Size {config.size} px on the longest side, {config.steps} steps, {method}, step size {config.lr:g}",
        f"Started from {start}; noise pattern (seed) {config.seed}",
        (f"Smoothing {config.tv_weight:g} (total variation); texture "
         f"{'crisp' if config.pooling == 'max' else 'soft'} ({config.pooling} pooling)"),
    ]
    if config.style_blend:
        lines.append("Blend of the paintings: " + " : ".join(f"{weight:g}" for weight in config.style_blend))
    return lines


def repaint_command(config: StyleConfig, photo: str, paintings: list[str], regions: str | None = None) -> str:
    """The CLI command that paints this design again (the files named as they were given)."""
    words = ["python", "-m", "nst_core", photo, *paintings, "-o", "design.png"]
    for field, flag in FLAGS:
        value = getattr(config, field)
        words += [flag, _number(value) if isinstance(value, float) else str(value)]
    if config.style_blend:
        words += ["--blend", *(f"{weight:g}" for weight in config.style_blend)]
    if regions:
        words += ["--regions", regions]
    return shlex.join(words)


def design_sheet(photo: ImageLike, paintings: list[tuple[ImageLike, str]], design: Image.Image,
                 config: StyleConfig, command: str = "", regions: ImageLike | None = None) -> Image.Image:
    """The sheet: a heading, the photo, the painting(s) with their titles, the regions if any, and the design
    (transparent parts of both over a checkerboard); the tee and mug mock-ups; the settings in words and, if
    given, the command."""
    heading = ImageFont.load_default(size=40)
    text = ImageFont.load_default(size=24)
    small = ImageFont.load_default(size=18)
    pictures = [(open_image(photo), "The photo")]
    pictures += [(open_image(painting), f"The painting: {name}") for painting, name in paintings]
    if regions is not None:
        name = Path(_name(regions, "regions.png")).name
        pictures.append((_on_checker(open_regions(regions)), f"The regions ({name})"))
    pictures.append((_on_checker(design), "The design"))
    mockups = [tee_mockup(design), mug_mockup(design)]
    lines = settings_in_words(config)
    top = MARGIN + 64
    row_two = top + ROW + 48
    mock_side = (WIDTH - 2 * MARGIN - GAP) // 2
    words_top = row_two + mock_side + GAP
    command_lines = textwrap.wrap(command, COMMAND_WIDTH, break_on_hyphens=False)
    height = words_top + 40 * len(lines) + (60 + 24 * len(command_lines) if command else 0) + MARGIN
    sheet = Image.new("RGB", (WIDTH, height), PAPER)
    draw = ImageDraw.Draw(sheet)
    draw.text((MARGIN, MARGIN), f"{title(_name(photo, 'photo'))} in the manner of "
                                f"{' and '.join(name for _, name in paintings)}", font=heading, fill=INK)
    widths = [picture.width * ROW / picture.height for picture, _ in pictures]
    scale = min(1.0, (WIDTH - 2 * MARGIN - GAP * (len(pictures) - 1)) / sum(widths))  # all in one row
    x = MARGIN
    for (picture, caption), width in zip(pictures, widths):
        size = (max(1, round(width * scale)), max(1, round(ROW * scale)))
        sheet.paste(picture.resize(size, Image.Resampling.LANCZOS), (x, top))
        draw.rectangle((x - 1, top - 1, x + size[0], top + size[1]), outline=EDGE)  # white parts stay in a frame
        draw.text((x, top + size[1] + 8), caption, font=small, fill=FAINT)
        x += size[0] + GAP
    for index, mockup in enumerate(mockups):
        sheet.paste(mockup.convert("RGB").resize((mock_side, mock_side), Image.Resampling.LANCZOS),
                    (MARGIN + index * (mock_side + GAP), row_two))
    y = words_top
    for line in lines:
        draw.text((MARGIN, y), line, font=text, fill=INK)
        y += 40
    if command:
        draw.text((MARGIN, y + 8), "To paint it again:", font=small, fill=FAINT)
        draw.multiline_text((MARGIN, y + 34), "\n".join(command_lines), font=small, fill=INK)
    return sheet


def _on_checker(design: Image.Image) -> Image.Image:
    """The design over a light checkerboard where it is transparent."""
    design = design.convert("RGBA")
    board = checkerboard(design.size, cell=max(4, design.width // 32)).convert("RGBA")
    board.alpha_composite(design)
    return board.convert("RGB")


def _number(value: float) -> str:
    """A number as a person writes it: 1e6, not 1e+06."""
    return f"{value:g}".replace("e+0", "e").replace("e+", "e").replace("e-0", "e-")


def _name(source: ImageLike, fallback: str) -> str:
    return str(source) if isinstance(source, (str, Path)) else fallback
