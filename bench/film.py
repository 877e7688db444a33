"""What the film costs: keeping a run's frames (time per frame, memory), and making the film (time, size).

    python -m bench.film [--size 512] [--steps 30] [--previews 600] [--rounds 3]

Paints the cat in The Starry Night at `size` px with a picture every iteration, as the page receives them.
Then a reel is fed `previews` of those frames in turn (a long run's worth: the reel thins them) and the
film is written as MP4 (H.264), animated WebP and GIF, `rounds` times each, taking turns. Prints the
median milliseconds a frame costs to keep, the reel's memory (and the raw pixels' for comparison), and
the median seconds and megabytes of each film: the numbers behind making the film on demand.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from nst_core import StyleConfig, stylize
from nst_core.film import MOST, Reel, write_film
from studio.server import engine

ASSETS = Path(__file__).resolve().parent.parent / "assets"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=512)
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--previews", type=int, default=600, help="frames fed to the reel: a long run's")
    parser.add_argument("--rounds", type=int, default=3)
    args = parser.parse_args()
    config = StyleConfig(size=args.size, steps=args.steps, preview_every=1, init="draft")
    pictures = [step.to_pil() for step in stylize(ASSETS / "chelsea.png", ASSETS / "starry_night.jpg", config,
                                                  backbone=engine().backbone, device=engine().device)]
    width, height = pictures[0].size
    reel, costs = Reel(ASSETS / "chelsea.png"), []
    for k in range(args.previews):
        began = time.perf_counter()
        reel.add(pictures[k * len(pictures) // args.previews])  # the run's frames in order, each several times
        costs.append(time.perf_counter() - began)
    kept = len(reel.kept) + 1
    print(f"{len(pictures)} frames painted at {width}x{height}; {args.previews} fed to a reel of at most {MOST}")
    print(f"keeping a frame: {1000 * statistics.median(costs):.1f} ms median (resize to {reel.size[0]}x"
          f"{reel.size[1]} and JPEG)")
    print(f"the reel: {kept} frames kept, {reel.nbytes / 2**20:.1f} MiB ({reel.nbytes / kept / 1024:.0f} KiB a "
          f"frame); the same frames as raw {width}x{height} pixels: {kept * width * height * 3 / 2**20:.0f} MiB")
    times, megabytes = {suffix: [] for suffix in (".mp4", ".webp", ".gif")}, {}
    with tempfile.TemporaryDirectory() as folder:
        for _ in range(args.rounds):
            for suffix in times:
                began = time.perf_counter()
                path = write_film(reel, Path(folder) / f"film{suffix}")
                times[suffix].append(time.perf_counter() - began)
                megabytes[suffix] = path.stat().st_size / 1e6
    for suffix, seconds in times.items():
        print(f"{suffix[1:]:>4}: {statistics.median(seconds):.2f} s median of {args.rounds}, {megabytes[suffix]:.2f} MB")


if __name__ == "__main__":
    main()
