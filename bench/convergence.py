"""Iterations to quality from other starting pictures and L-BFGS settings: why our defaults are what they are.

    python -m bench.convergence --size 256

The target is bench.speed's: within 2 % of the textbook loop's objective after 1000 iterations. Each
variant then runs torch's L-BFGS on the engine's objective (one evaluation per iteration, pixels
clamped after each) from its own starting picture, until the objective, checked every 10
iterations, reaches the target. A variant that starts from a half-size sketch counts the sketch's
iterations as a quarter each, which is what they cost.
"""

from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F

from nst_core import load_backbone, load_image, preset
from nst_core.stylize import compute_targets, objective

from .speed import QUALITY_MARGIN, Evaluator, textbook

SKETCH_STEPS = 20  # the studio's quick sketch: two preview intervals at half size


def lbfgs(net, start, targets, config, history):
    """The picture being painted from `start`, and one iteration of torch's L-BFGS on it (pixels clamped)."""
    image = start.clone().clamp(0, 1).requires_grad_(True)
    solver = torch.optim.LBFGS([image], lr=1.0, max_iter=1, history_size=history,
                               tolerance_grad=0.0, tolerance_change=0.0)

    def closure():
        solver.zero_grad(set_to_none=True)
        loss = objective(net, image, targets, config)["total"]
        loss.backward()
        return loss

    def step():
        solver.step(closure)
        with torch.no_grad():
            image.clamp_(0, 1)

    return image, step


def descend(net, start, targets, config, history, evaluator, target, limit=1500, every=10):
    """(iterations, seconds) until `evaluator` is at or under `target`, or None within `limit`."""
    image, step = lbfgs(net, start, targets, config, history)
    started, paused = time.perf_counter(), 0.0
    for iteration in range(1, limit + 1):
        step()
        if iteration % every == 0:
            checking = time.perf_counter()
            reached = evaluator(image.detach()) <= target
            paused += time.perf_counter() - checking
            if reached:
                return iteration, time.perf_counter() - started - paused
    return None


def sketch(net, args, config, history):
    """The quick sketch: SKETCH_STEPS iterations at half size from the photo; and that photo."""
    small = config.replace(size=config.size // 2)
    photo, painting = (load_image(path, small.size) for path in (args.content, args.style))
    picture, step = lbfgs(net, photo, compute_targets(net, photo, painting, small), small, history)
    for _ in range(SKETCH_STEPS):
        step()
    return picture.detach(), photo


def enlarge(picture, like):
    return F.interpolate(picture, size=like.shape[-2:], mode="bicubic", align_corners=False)


def recoloured(photo, painting):
    """The photo with each channel's mean and spread made the painting's."""
    mean, spread = photo.mean((2, 3), keepdim=True), photo.std((2, 3), keepdim=True)
    return ((photo - mean) / spread * painting.std((2, 3), keepdim=True)
            + painting.mean((2, 3), keepdim=True)).clamp(0, 1)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--content", default="assets/chelsea.png")
    parser.add_argument("--style", default="assets/starry_night.jpg")
    parser.add_argument("--size", type=int, default=256)
    args = parser.parse_args()

    net = load_backbone().net
    config = preset("default", size=args.size)
    photo, painting = (load_image(path, args.size) for path in (args.content, args.style))
    evaluator = Evaluator(net, photo, painting, config)
    reference = textbook(net, photo, painting, config, 1000, 10, evaluator, torch.device("cpu"))
    target = reference.points[-1][2] * QUALITY_MARGIN
    hit = reference.time_to(target)
    reached = f"after {hit[0]} iterations" if hit else "never"
    print(f"{args.size} px: textbook objective after 1000 iterations {reference.points[-1][2]:.4f}, "
          f"target {target:.4f}, reached by the textbook loop {reached}\n", flush=True)

    small, small_photo = sketch(net, args, config, history=50)
    detail = photo - enlarge(F.interpolate(photo, size=small_photo.shape[-2:], mode="bicubic",
                                           align_corners=False, antialias=True), photo)
    variants = {  # name: (starting picture, L-BFGS history, sketch iterations before it)
        "photo, history 50 (ours)": (photo, 50, 0),
        "photo, history 100 (torch's default)": (photo, 100, 0),
        "photo, history 300": (photo, 300, 0),
        "sketch, then the photo (ours, quick first look)": (photo, 50, SKETCH_STEPS),
        "sketch, then the sketch enlarged": (enlarge(small, photo), 50, SKETCH_STEPS),
        "sketch, then the sketch enlarged with the photo's fine detail": (enlarge(small, photo) + detail, 50,
                                                                          SKETCH_STEPS),
        "the photo recoloured to the painting's channel means and spreads": (recoloured(photo, painting), 50, 0),
    }
    print("| start | objective at start | iterations to quality (sketch at ¼ each) | seconds at full size |")
    print("|---|---|---|---|")
    for name, (start, history, sketched) in variants.items():
        reached = descend(net, start, evaluator.targets, config, history, evaluator, target)
        cost = f"{reached[0] + sketched / 4:g}" if reached else "not within 1500"
        seconds = f"{reached[1]:.0f}" if reached else "-"
        print(f"| {name} | {evaluator(start):.3f} | {cost} | {seconds} |", flush=True)


if __name__ == "__main__":
    main()
