"""Steps and time the default preset needs to reach the seed recipe's final objective.

    python -m bench.presets --size 128 --seed-steps 20000

Both runs use the same content/style pair, backbone and size, and report the same objective
(alpha*content + beta*style, evaluated by the engine at every preview).
"""

from __future__ import annotations

import argparse
import json
import time

import torch

from nst_core import load_backbone, preset, stylize


def trajectory(content, style, config, backbone):
    """(iteration, seconds, total objective) at every preview of one run."""
    points = []
    for step in stylize(content, style, config, backbone=backbone, device="cpu"):
        points.append((step.iteration, step.elapsed, step.losses.total))
    return points


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--content", default="assets/chelsea.png")
    parser.add_argument("--style", default="assets/starry_night.jpg")
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--seed-steps", type=int, default=20_000)
    parser.add_argument("--default-steps", type=int, default=None)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--json", default=None, help="also write the trajectories here")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)

    backbone = load_backbone()
    ours = preset("default", size=args.size, preview_every=5)
    if args.default_steps:
        ours = ours.replace(steps=args.default_steps)
    seed = preset("seed", size=args.size, steps=args.seed_steps, preview_every=50)
    started = time.perf_counter()
    seed_points = trajectory(args.content, args.style, seed, backbone)
    ours_points = trajectory(args.content, args.style, ours, backbone)
    target = seed_points[-1][2]
    reached = next(((i, t) for i, t, total in ours_points if total <= target), None)
    print(f"backbone: {backbone.description}")
    print(f"size {args.size}px, torch threads {torch.get_num_threads()}, wall {time.perf_counter() - started:.0f} s")
    print(f"seed recipe: {seed_points[-1][0]} Adam steps, {seed_points[-1][1]:.1f} s, objective {target:.4f}")
    print(f"default preset: {ours_points[-1][0]} L-BFGS steps, {ours_points[-1][1]:.1f} s, "
          f"objective {ours_points[-1][2]:.4f}")
    if reached:
        print(f"default reaches the seed's final objective at iteration {reached[0]} ({reached[1]:.1f} s): "
              f"{seed_points[-1][0] / reached[0]:.0f}x fewer steps, {seed_points[-1][1] / reached[1]:.0f}x less time")
    else:
        print("default preset did not reach the seed's final objective")
    if args.json:
        with open(args.json, "w") as file:
            json.dump({"seed": seed_points, "default": ours_points}, file)


if __name__ == "__main__":
    main()
