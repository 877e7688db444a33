"""The draft as the loop's starting picture, against the photo and the quick first look, on held-out pairs.

    python -m bench.draft_start [--size 384] [--steps 150] [--out bench-draft-start]

Each pair is painted three ways by the engine as the studio runs it (the machine's precision, frames
every 5 iterations): from the photo, from the photo with the quick first look (a half-size sketch
first, its iterations a quarter each), and from the draft. The table gives the objective (content +
style, the full size's) at a few iterations, the iterations the draft start needs to reach where the
photo start ends, and when the first frame came. The finished pictures are written side by side to
`--out` to be looked at.
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

from PIL import Image

from nst_core import StyleConfig, load_backbone, stylize
from nst_core.config import coarse_start

ASSETS = Path(__file__).resolve().parent.parent / "assets"
# Pairs the draft start was not tuned on: the two paintings added with the drafts, and photos with
# paintings the studio's examples do not pair them with.
PAIRS = (("coffee.png", "wave.jpg"), ("astronaut.png", "udnie.jpg"), ("chelsea.png", "shipwreck.jpg"),
         ("coffee.png", "the_scream.jpg"), ("astronaut.png", "wave.jpg"))
CHECKPOINTS = (5, 10, 20, 50, 100, 150)


def run(photo: Path, painting: Path, config: StyleConfig, backbone):
    """[(iteration at full size, seconds, objective)] and the finished picture."""
    steps = list(stylize(photo, painting, config, backbone=backbone))
    sketch = sum(config.scale_steps)
    points = [(step.iteration - sketch, step.elapsed, step.losses.total) for step in steps
              if step.iteration > sketch and math.isfinite(step.losses.total)]
    return points, steps[0].elapsed, steps[-1].to_pil()


def at(points, iteration: int) -> float:
    return next((total for done, _, total in points if done >= iteration), math.nan)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=384)
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--pairs", type=int, nargs="+", default=range(len(PAIRS)), help="which pairs (0-based)")
    parser.add_argument("--no-quick-look", action="store_true", help="only the photo start and the draft start")
    parser.add_argument("--out", default="bench-draft-start")
    args = parser.parse_args()
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    backbone = load_backbone()
    base = StyleConfig(size=args.size, steps=args.steps, preview_every=5)
    variants = {"the photo": base, "the photo, quick first look": coarse_start(base.replace(preview_every=10)),
                "the draft": base.replace(init="draft")}
    if args.no_quick_look:
        del variants["the photo, quick first look"]
    checkpoints = [c for c in CHECKPOINTS if c <= args.steps]
    print(f"{backbone.description}; {args.size} px, {args.steps} iterations at full size\n")
    print("| pair | start | first frame (s) | " + " | ".join(f"objective at {c}" for c in checkpoints)
          + " | iterations to the photo start's end |")
    print("|---|---|---|" + "---|" * len(checkpoints) + "---|")
    for photo, painting in (PAIRS[index] for index in args.pairs):
        results = {name: run(ASSETS / photo, ASSETS / painting, config, backbone) for name, config in variants.items()}
        goal = results["the photo"][0][-1][2]
        for name, (points, first, _) in results.items():
            sketch = sum(variants[name].scale_steps)
            reached = next((done for done, _, total in points if total <= goal), None)
            reached = f"{reached + sketch / 4:g}" if reached is not None else f"not in {args.steps}"
            print(f"| {Path(photo).stem} × {Path(painting).stem} | {name} | {first:.2f} | "
                  + " | ".join(f"{at(points, c):.4f}" for c in checkpoints) + f" | {reached} |", flush=True)
        pictures = [Image.open(ASSETS / photo).convert("RGB").resize(results["the photo"][2].size)]
        pictures += [picture for _, _, picture in results.values()]
        sheet = Image.new("RGB", (sum(p.width for p in pictures), pictures[0].height), "white")
        for index, picture in enumerate(pictures):
            sheet.paste(picture, (index * pictures[0].width, 0))
        sheet.save(out / f"{Path(photo).stem}-{Path(painting).stem}.png")


if __name__ == "__main__":
    main()
