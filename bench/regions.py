"""What regions cost: seconds per iteration without regions, with one painted region, and with two paintings.

    python -m bench.regions [--size 256] [--steps 20] [--rounds 3] [--tile 0]

Paints the astronaut in The Scream three ways, taking turns for `rounds` rounds (so a busy neighbour
slows all three alike): without regions; with assets/astronaut_regions.png (the face kept, the
background left out); and with two paintings, the left half in The Scream and the right in The Great
Wave. Prints the median seconds per iteration of each and their ratios to the run without regions.
With `--tile`, the same through the tiled objective, as a print's large scales run.
"""

from __future__ import annotations

import argparse
import statistics
from pathlib import Path

import numpy as np

from nst_core import StyleConfig, stylize
from studio.server import engine

ASSETS = Path(__file__).resolve().parent.parent / "assets"
PHOTO, SCREAM, WAVE = ASSETS / "astronaut.png", ASSETS / "the_scream.jpg", ASSETS / "wave.jpg"


def halves() -> np.ndarray:
    """A region image: the left half in the painting (white), the right in the second painting (red)."""
    code = np.full((64, 64, 4), 255, np.uint8)
    code[:, 32:, 1:3] = 0
    return code


def pace(config: StyleConfig, styles, regions) -> float:
    """Median seconds per iteration of one run (its set-up left out)."""
    times = [step.elapsed for step in stylize(PHOTO, styles, config, backbone=engine().backbone,
                                              device=engine().device, regions=regions)]
    return statistics.median(np.diff(times))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--steps", type=int, default=20)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--tile", type=int, default=0)
    args = parser.parse_args()
    config = engine().default.replace(size=args.size, steps=args.steps, preview_every=1, preview_seconds=0.0,
                                      init="content", tile=args.tile)
    ways = {"no regions": (SCREAM, None), "face kept, background left out": (SCREAM, ASSETS / "astronaut_regions.png"),
            "two paintings in two halves": ([SCREAM, WAVE], halves())}
    paces = {name: [] for name in ways}
    for _ in range(args.rounds):
        for name, (styles, regions) in ways.items():
            paces[name].append(pace(config, styles, regions))
    base = statistics.median(paces["no regions"])
    print(f"{engine().words}\n{args.size} px, {args.steps} iterations, {args.rounds} rounds in turns"
          + (f", tiles of {args.tile} px" if args.tile else ""))
    for name, runs in paces.items():
        seconds = statistics.median(runs)
        print(f"  {name:32s} {seconds:.3f} s per iteration  {seconds / base:.2f}x")


if __name__ == "__main__":
    main()
