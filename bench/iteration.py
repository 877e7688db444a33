"""Median seconds per iteration of the engine at a few sizes, both optimisers, side by side in one run.

    python -m bench.iteration --sizes 256 512 --iterations 12
"""

from __future__ import annotations

import argparse
import statistics

import torch

from nst_core import load_backbone, preset, stylize


def per_iteration(content: str, style: str, optimizer: str, size: int, iterations: int, backbone) -> float:
    """Median gap between consecutive iterations, the first two (warm-up) left out."""
    name = "default" if optimizer == "lbfgs" else "adam"
    config = preset(name, size=size, steps=iterations, preview_every=1)
    times = [step.elapsed for step in stylize(content, style, config, backbone=backbone, device="cpu")]
    return statistics.median(later - earlier for earlier, later in zip(times[2:], times[3:]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--content", default="assets/chelsea.png")
    parser.add_argument("--style", default="assets/starry_night.jpg")
    parser.add_argument("--sizes", type=int, nargs="+", default=[256, 512])
    parser.add_argument("--iterations", type=int, default=12)
    args = parser.parse_args()
    backbone = load_backbone()
    print(f"backbone: {backbone.description}; torch threads {torch.get_num_threads()}")
    print("| size (longest side) | L-BFGS s/iteration | Adam s/iteration |")
    print("|---|---|---|")
    for size in args.sizes:
        lbfgs, adam = (per_iteration(args.content, args.style, name, size, args.iterations, backbone)
                       for name in ("lbfgs", "adam"))
        print(f"| {size} | {lbfgs:.3f} | {adam:.3f} |")


if __name__ == "__main__":
    main()
