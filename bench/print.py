"""Time, peak memory and tile size of a print-size render, one size per process.

    python -m bench.print tee --steps 100 --final-steps 4 -o /tmp/tee.png
    python -m bench.print 1024x1024 --steps 100

Paints coarse to fine with the CLI's print plan and prints one markdown row: the size, the scales,
the tile chosen at the final scale, the wall time (per scale and in all) and the process's peak
resident memory (which includes Python, torch and the network).
"""

from __future__ import annotations

import argparse
import resource
import time

import torch

from nst_core import load_backbone, preset, save_image, stylize
from nst_core.printing import FINAL_STEPS, print_config


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("size", help="tee, sticker, mug, poster or WxH")
    parser.add_argument("--content", default="assets/astronaut.png")
    parser.add_argument("--style", default="assets/starry_night.jpg")
    parser.add_argument("--steps", type=int, default=100, help="iterations at the coarsest scale")
    parser.add_argument("--final-steps", type=int, default=FINAL_STEPS)
    parser.add_argument("--memory-gb", type=float, default=14.0)
    parser.add_argument("-o", "--output", default=None, help="save the design here")
    args = parser.parse_args()

    backbone = load_backbone()
    config = print_config(args.size, preset("default", steps=args.steps, memory_gb=args.memory_gb),
                          args.final_steps)
    started = time.perf_counter()
    scale_times, tiles, last = [], [], None
    for step in stylize(args.content, args.style, config, backbone=backbone, device="cpu"):
        if last is not None and step.image.shape != last.image.shape:
            scale_times.append(last.elapsed)
            tiles.append(last.tile)
        last = step
    scale_times.append(last.elapsed)
    tiles.append(last.tile)
    total = time.perf_counter() - started
    if args.output:
        save_image(last.image, args.output)
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    height, width = last.image.shape[-2:]
    per_scale = [later - earlier for earlier, later in zip([0.0, *scale_times], scale_times)]
    sides = (*config.scales, config.size)
    steps = (*config.scale_steps, config.steps)
    plan = ", ".join(f"{side}px x{count}: {seconds:.0f}s (tile {tile or 'none'})"
                     for side, count, seconds, tile in zip(sides, steps, per_scale, tiles))
    print(f"backbone: {backbone.description}; torch threads {torch.get_num_threads()}")
    print(f"| {width}x{height} | {last.tile or 'none'} | {total / 60:.1f} min | {peak_gb:.2f} GB | {plan} |")


if __name__ == "__main__":
    main()
