"""Would you wear it? The studio's default design on a panel of photos and paintings, looked at and measured.

    python -m bench.quality [--size N --steps N] [--set field=value ...] [--pairs 0 3] [--out bench-quality]
    python -m bench.quality --compare bench-quality/before bench-quality/after --out bench-quality

Each pair of PANEL is painted as the page paints it: this machine's default size, steps and start
(`studio.server.engine().default`), or with --size and --steps the default preset at that size and
steps, without measuring the machine; --set changes any other field (`--set tone_weight=0 tv_weight=0` is
the recipe before docs/quality.md). Written to --out:
`sheet.png` (photo | painting | first frame | design, with the numbers under each row), `table.md`,
`results.json` and the designs. --compare lays two such runs' designs side by side, with both rows of numbers.

The measures, of a design against its photo and its painting:
- tone: correlation of the photo's and the design's brightness at 64 px on the long side (are the photo's light
  and dark still there?);
- edges: correlation of their edge strength (Sobel) at 128 px (are the shapes still there?);
- grain: the design's finest-scale energy (mean absolute Laplacian of brightness) over the painting's at the
  same pixel count (above 1, noisier than the painting it imitates);
- style: the engine's own style distance (the relative Gram error of relu1_1 … relu5_1, equal weights, max
  pooling), a fixed yardstick whatever the recipe;
- style (draft net): the distance of the draft network's style vector of the design from the painting's, over
  the photo's own distance from it: a second opinion from a network the loop does not optimise (0: the
  painting's style, 1: no nearer than the photo).
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageDraw, ImageFont

from nst_core import PRESETS, StyleConfig, stylize
from nst_core.config import STYLE_LAYERS
from nst_core.images import load_image, open_image
from nst_core.losses import gram, relative_error

ASSETS = Path(__file__).resolve().parent.parent / "assets"
# (photo, painting, what the pair stands for): what volunteers bring (assets/panel/SOURCES.md).
PANEL = (
    ("panel/rocket.jpg", "udnie.jpg", "a night scene under a bright painting"),
    ("panel/grace_hopper.jpg", "starry_night.jpg", "a portrait"),
    ("chelsea.png", "the_scream.jpg", "a pet"),
    ("panel/summer_palace.jpg", "wave.jpg", "a building"),
    ("panel/dune.jpg", "starry_night.jpg", "a landscape"),
    ("coffee.png", "udnie.jpg", "a small subject on a plain background"),
    ("panel/coins.jpg", "wave.jpg", "a busy scene (many small things, grey)"),
    ("panel/horse.png", "the_scream.jpg", "a logo-like graphic"),
    ("astronaut.png", "shipwreck.jpg", "a bright photo under a dark painting"),
    ("panel/storm.jpg", "starry_night.jpg", "a dark landscape under a bright painting"),
    ("panel/dahlia.jpg", "the_scream.jpg", "a small subject in the dark"),
)
MEASURES = ("tone", "edges", "grain", "style", "style_draft", "seconds", "first_frame")
ROW = 200  # pixels: the height of a picture on the sheet


def brightness(image: torch.Tensor) -> torch.Tensor:
    """(1, 3, H, W) in [0, 1] -> (1, 1, H, W), Rec. 601 luma."""
    weights = image.new_tensor([0.299, 0.587, 0.114]).view(1, 3, 1, 1)
    return (image * weights).sum(1, keepdim=True)


def at_side(image: torch.Tensor, side: int) -> torch.Tensor:
    """`image` with its longest side `side`, by area averaging (no aliasing when shrinking)."""
    height, width = image.shape[-2:]
    scale = side / max(height, width)
    return F.interpolate(image, size=(max(1, round(height * scale)), max(1, round(width * scale))), mode="area")


def correlation(a: torch.Tensor, b: torch.Tensor) -> float:
    a, b = a.flatten().double(), b.flatten().double()
    a, b = a - a.mean(), b - b.mean()
    return float((a @ b) / (a.norm() * b.norm()).clamp_min(1e-12))


def sobel(luma: torch.Tensor) -> torch.Tensor:
    """Edge strength of (1, 1, H, W)."""
    kx = luma.new_tensor([[-1, 0, 1], [-2, 0, 2], [-1, 0, 1]]).view(1, 1, 3, 3)
    padded = F.pad(luma, (1, 1, 1, 1), mode="replicate")
    return torch.hypot(F.conv2d(padded, kx), F.conv2d(padded, kx.transpose(-1, -2)))


def laplacian_energy(luma: torch.Tensor) -> float:
    """Mean absolute Laplacian of (1, 1, H, W): the picture's finest-scale energy."""
    kernel = luma.new_tensor([[0, 1, 0], [1, -4, 1], [0, 1, 0]]).view(1, 1, 3, 3)
    return float(F.conv2d(luma, kernel).abs().mean())


def tone(photo: torch.Tensor, design: torch.Tensor) -> float:
    return correlation(at_side(brightness(photo), 64), at_side(brightness(design), 64))


def edges(photo: torch.Tensor, design: torch.Tensor) -> float:
    return correlation(sobel(at_side(brightness(photo), 128)), sobel(at_side(brightness(design), 128)))


def grain(design: torch.Tensor, painting: torch.Tensor) -> float:
    """The design's finest-scale energy over the painting's, the painting resized to the design's pixel count."""
    height, width = painting.shape[-2:]
    scale = math.sqrt(design.shape[-2] * design.shape[-1] / (height * width))
    same = F.interpolate(painting, size=(round(height * scale), round(width * scale)), mode="area" if scale < 1
                         else "bicubic", align_corners=None if scale < 1 else False).clamp(0, 1)
    return laplacian_energy(brightness(design)) / max(laplacian_energy(brightness(same)), 1e-12)


def style_distance(net, design: torch.Tensor, painting: torch.Tensor) -> float:
    """The engine's style term as a fixed yardstick: mean over relu1_1 … relu5_1 of the relative Gram error."""
    painting = at_side(painting, max(design.shape[-2:])) if max(painting.shape[-2:]) > max(design.shape[-2:]) else \
        F.interpolate(painting, scale_factor=max(design.shape[-2:]) / max(painting.shape[-2:]), mode="bicubic",
                      align_corners=False).clamp(0, 1)
    with torch.no_grad():
        mine, theirs = net(design, STYLE_LAYERS), net(painting, STYLE_LAYERS)
        errors = [relative_error(gram(mine[name]), gram(theirs[name])) for name in STYLE_LAYERS]
        return float(sum(errors)) / len(STYLE_LAYERS)


def draft_style_distance(photo: Image.Image, painting: Image.Image, design: Image.Image) -> float:
    """How far the draft network's style vector of the design is from the painting's, over the photo's distance."""
    from nst_core.draft import drafter

    vector = {name: drafter().style_vector(image.convert("RGB")).ravel()
              for name, image in (("photo", photo), ("painting", painting), ("design", design))}
    return float(np.linalg.norm(vector["design"] - vector["painting"])
                 / max(np.linalg.norm(vector["photo"] - vector["painting"]), 1e-12))


def measure(net, photo_path: Path, painting_path: Path, design: Image.Image) -> dict[str, float]:
    """Every measure of one design (the photo cropped and resized to the design's shape)."""
    shown = load_image(design.convert("RGB"))
    photo = F.interpolate(load_image(photo_path, max(design.size)), size=shown.shape[-2:], mode="area")
    painting = load_image(painting_path)
    return {"tone": tone(photo, shown), "edges": edges(photo, shown), "grain": grain(shown, painting),
            "style": style_distance(net, shown, painting),
            "style_draft": draft_style_distance(open_image(photo_path), open_image(painting_path), design)}


def paint(photo: Path, painting: Path, config: StyleConfig, backbone) -> tuple[Image.Image, Image.Image, float, float]:
    """The first frame, the design, the seconds taken and when the first frame came."""
    first = last = None
    started = time.perf_counter()
    for step in stylize(photo, painting, config, backbone=backbone):
        if first is None:
            first, first_seconds = step, time.perf_counter() - started
        last = step
    return first.to_pil(), last.to_pil(), time.perf_counter() - started, first_seconds


def default_config() -> StyleConfig:
    """The page's default on this machine, as a run starts it."""
    from studio.server import engine, live_config

    return live_config(engine().default)


def parse_setting(text: str) -> tuple[str, object]:
    """'field=value' with the value typed like the config's default: tuples from commas."""
    name, _, value = text.partition("=")
    default = getattr(StyleConfig(), name)
    if isinstance(default, tuple):
        items = [item for item in value.split(",") if item]
        kind = type(default[0]) if default else (int if all(item.isdigit() for item in items) else float)
        return name, tuple(kind(item) for item in items)
    if isinstance(default, bool):
        return name, value.lower() in ("1", "true", "yes")
    return name, type(default)(value)


def run(args) -> None:
    from nst_core import load_backbone

    out = Path(args.out)
    (out / "designs").mkdir(parents=True, exist_ok=True)
    # Both size and steps given: the page's recipe without measuring this machine for its default.
    config = PRESETS["default"].replace(preview_seconds=1.5) if args.size and args.steps else default_config()
    changes = {name: value for name, value in (("size", args.size), ("steps", args.steps)) if value}
    config = config.replace(**changes | dict(parse_setting(text) for text in args.set))
    backbone = load_backbone()
    warm = config.replace(size=64, steps=2, scales=(), scale_steps=(), coarse_sketch=False)
    list(stylize(ASSETS / "coffee.png", ASSETS / "udnie.jpg", warm, backbone=backbone))  # load the draft network
    rows = []
    for index in args.pairs:
        photo_name, painting_name, what = PANEL[index]
        photo, painting = ASSETS / photo_name, ASSETS / painting_name
        first, design, seconds, first_seconds = paint(photo, painting, config, backbone)
        numbers = measure(backbone.net, photo, painting, design)
        numbers.update(seconds=seconds, first_frame=first_seconds)
        stem = f"{index:02d}-{Path(photo_name).stem}-{Path(painting_name).stem}"
        design.save(out / "designs" / f"{stem}.png")
        first.save(out / "designs" / f"{stem}-first.png")
        rows.append({"index": index, "photo": photo_name, "painting": painting_name, "what": what, "stem": stem,
                     **numbers})
        print(f"{stem}: " + ", ".join(f"{name} {numbers[name]:.3g}" for name in MEASURES), flush=True)
    record = {"config": {name: getattr(config, name) for name in config.__dataclass_fields__}, "rows": rows}
    (out / "results.json").write_text(json.dumps(record, indent=1, default=list))
    (out / "table.md").write_text(table(rows))
    contact_sheet(out, rows).save(out / "sheet.png")
    print(table(rows))


def table(rows: list[dict], label: str = "") -> str:
    """A Markdown table of the measures, with the panel's worst tone and grain and the medians."""
    head = "| pair | what | tone | edges | grain | style | style (draft net) | time | first frame |\n" \
           "|---|---|---|---|---|---|---|---|---|\n"
    lines = [f"| {Path(row['photo']).stem} × {Path(row['painting']).stem}{label} | {row['what']} | {row['tone']:.2f} | "
             f"{row['edges']:.2f} | {row['grain']:.2f} | {row['style']:.3f} | {row['style_draft']:.2f} | "
             f"{row['seconds']:.0f} s | {row['first_frame']:.2f} s |" for row in rows]
    summary = {name: [row[name] for row in rows] for name in MEASURES}
    lines.append(f"| **panel** | worst tone, edges and grain; median of the rest | **{min(summary['tone']):.2f}** | "
                 f"**{min(summary['edges']):.2f}** | **{max(summary['grain']):.2f}** | "
                 f"{np.median(summary['style']):.3f} | {np.median(summary['style_draft']):.2f} | "
                 f"{np.median(summary['seconds']):.0f} s | {np.median(summary['first_frame']):.2f} s |")
    return head + "\n".join(lines) + "\n"


def _font(size: int):
    try:
        return ImageFont.truetype("DejaVuSans.ttf", size)
    except OSError:
        return ImageFont.load_default()


def _thumb(image: Image.Image, height: int = ROW) -> Image.Image:
    image = image.convert("RGB")
    return image.resize((max(1, round(image.width * height / image.height)), height), Image.LANCZOS)


def _numbers(row: dict) -> str:
    return (f"tone {row['tone']:.2f}  edges {row['edges']:.2f}  grain {row['grain']:.2f}  style {row['style']:.3f}  "
            f"draft-net style {row['style_draft']:.2f}  {row['seconds']:.0f} s")


def contact_sheet(out: Path, rows: list[dict], others: list[tuple[str, Path, list[dict]]] = ()) -> Image.Image:
    """photo | painting | first frame | design per pair, or with `others` ((label, folder, rows) each), the
    designs of several runs side by side; under each row, what the pair stands for and each run's numbers."""
    font, small = _font(18), _font(14)
    runs = others or [("design", out, rows)]
    lines = []
    for row in rows:
        pictures = [(_thumb(open_image(ASSETS / row["photo"])), "photo"),
                    (_thumb(open_image(ASSETS / row["painting"])), Path(row["painting"]).stem.replace("_", " "))]
        if not others:
            pictures.append((_thumb(Image.open(out / "designs" / f"{row['stem']}-first.png")), "first frame"))
        numbers = [f"#{row['index']} {row['what']}"]
        for label, folder, run_rows in runs:
            own = next(r for r in run_rows if r["stem"] == row["stem"])
            pictures.append((_thumb(Image.open(folder / "designs" / f"{row['stem']}.png")), label))
            numbers.append(f"{label}: {_numbers(own)}")
        lines.append((pictures, numbers))
    width = max(sum(picture.width + 12 for picture, _ in pictures) for pictures, _ in lines) + 12
    line_height = ROW + 30 + 22 * max(len(numbers) for _, numbers in lines) + 16
    sheet = Image.new("RGB", (max(width, 900), line_height * len(lines) + 12), "white")
    draw = ImageDraw.Draw(sheet)
    for number, (pictures, numbers) in enumerate(lines):
        top, x = 12 + number * line_height, 12
        for picture, label in pictures:
            sheet.paste(picture, (x, top))
            draw.text((x, top + ROW + 4), label, font=small, fill=(90, 90, 90))
            x += picture.width + 12
        for offset, text in enumerate(numbers):
            draw.text((12, top + ROW + 26 + offset * 22), text, font=font, fill=(20, 20, 20))
    return sheet


def compare(folders: list[str], out: Path) -> None:
    """The designs of several runs side by side, with their numbers, and one table of all."""
    runs = [(Path(folder).name, Path(folder), json.loads((Path(folder) / "results.json").read_text())["rows"])
            for folder in folders]
    out.mkdir(parents=True, exist_ok=True)
    common = [row for row in runs[0][2] if all(any(r["stem"] == row["stem"] for r in rows) for _, _, rows in runs)]
    contact_sheet(out, common, runs).save(out / "compare.png")
    text = "\n".join(f"**{label}**\n\n" + table([r for r in rows if any(c["stem"] == r["stem"] for c in common)])
                     for label, _, rows in runs)
    (out / "compare.md").write_text(text)
    print(text)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=None, help="longest side (default: the page's on this machine)")
    parser.add_argument("--steps", type=int, default=None, help="iterations (default: the page's on this machine)")
    parser.add_argument("--set", nargs="*", default=[], metavar="FIELD=VALUE", help="other config fields to change")
    parser.add_argument("--pairs", type=int, nargs="+", default=range(len(PANEL)), help="which pairs (0-based)")
    parser.add_argument("--compare", nargs="+", default=None, metavar="FOLDER", help="lay these runs side by side")
    parser.add_argument("--redraw", default=None, metavar="FOLDER", help="draw a run's sheet and table again")
    parser.add_argument("--out", default="bench-quality")
    args = parser.parse_args()
    if args.compare:
        compare(args.compare, Path(args.out))
    elif args.redraw:
        rows = json.loads((Path(args.redraw) / "results.json").read_text())["rows"]
        (Path(args.redraw) / "table.md").write_text(table(rows))
        contact_sheet(Path(args.redraw), rows).save(Path(args.redraw) / "sheet.png")
    else:
        run(args)


if __name__ == "__main__":
    main()
