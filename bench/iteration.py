"""Median seconds per iteration of the engine at a few sizes, both optimisers, side by side in one run.

    python -m bench.iteration --sizes 256 512 --iterations 12
    python -m bench.iteration --sizes 384 --recipes --rounds 3

--recipes compares the default recipe (docs/quality.md: the tone term and smoothing) with the recipe before it
(both 0), L-BFGS, taking turns, the median of the rounds' medians.
"""

from __future__ import annotations

import argparse
import statistics

import torch

from nst_core import load_backbone, preset, stylize


def per_iteration(content: str, style: str, optimizer: str, size: int, iterations: int, backbone,
                  **changes) -> float:
    """Median gap between consecutive iterations, the first two (warm-up) left out."""
    name = "default" if optimizer == "lbfgs" else "adam"
    config = preset(name, size=size, steps=iterations, preview_every=1, **changes)
    times = [step.elapsed for step in stylize(content, style, config, backbone=backbone, device="cpu")]
    return statistics.median(later - earlier for earlier, later in zip(times[2:], times[3:]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--content", default="assets/chelsea.png")
    parser.add_argument("--style", default="assets/starry_night.jpg")
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512])
    parser.add_argument("--iterations", type=int, default=12)
    parser.add_argument("--recipes", action="store_true", help="the default recipe against the one before it")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    backbone = load_backbone()
    print(f"backbone: {backbone.description}; torch threads {torch.get_num_threads()}")
    if args.recipes:
        recipes = {"now (tone 2, smoothing 20)": {}, "before (tone 0, smoothing 0)": {"tone_weight": 0.0,
                                                                                     "tv_weight": 0.0}}
        print("| size | " + " | ".join(f"{name} s/iteration" for name in recipes) + " | ratio |")
        print("|---|---|---|---|")
        for size in args.sizes:
            paces = {name: [] for name in recipes}
            for _ in range(args.rounds):
                for name, changes in recipes.items():
                    paces[name].append(per_iteration(args.content, args.style, "lbfgs", size, args.iterations,
                                                     backbone, **changes))
            now, before = (statistics.median(pace) for pace in paces.values())
            print(f"| {size} | {now:.3f} | {before:.3f} | {now / before:.3f} |")
        return
    print("| size (longest side) | L-BFGS s/iteration | Adam s/iteration |")
    print("|---|---|---|")
    for size in args.sizes:
        lbfgs, adam = (per_iteration(args.content, args.style, name, size, args.iterations, backbone)
                       for name in ("lbfgs", "adam"))
        print(f"| {size} | {lbfgs:.3f} | {adam:.3f} |")


if __name__ == "__main__":
    main()
