"""How much slower a live picture paints while a print renders in the same server process.

    python -m bench.sharing [--size 256] [--steps 40]

Paints one picture alone, then the same picture while a larger one (standing in for a print) paints in
another thread of this process, as the studio's print worker does, and prints each iteration's median
time both ways, with their ratio: the factor `studio.room.SHARED_SLOWDOWN` stands for.
"""

from __future__ import annotations

import argparse
import statistics
import threading
from pathlib import Path

import numpy as np

from nst_core import StyleConfig, stylize
from studio.server import engine

ASSETS = Path(__file__).resolve().parent.parent / "assets"


def pace(config: StyleConfig) -> float:
    """Median seconds per iteration of one run."""
    times = [step.elapsed for step in stylize(ASSETS / "chelsea.png", ASSETS / "wave.jpg", config,
                                              backbone=engine().backbone, device=engine().device)]
    return statistics.median(np.diff(times))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--steps", type=int, default=40)
    args = parser.parse_args()
    live = engine().default.replace(size=args.size, steps=args.steps, preview_every=1, preview_seconds=0.0,
                                    init="content")
    alone = pace(live)
    stop = threading.Event()

    def print_job():
        for _ in stylize(ASSETS / "astronaut.png", ASSETS / "udnie.jpg", live.replace(size=2 * args.size, steps=10_000),
                         backbone=engine().backbone, device=engine().device):
            if stop.is_set():
                break

    worker = threading.Thread(target=print_job)
    worker.start()
    try:
        shared = pace(live)
    finally:
        stop.set()
        worker.join()
    print(f"{engine().words}\n{args.size} px: {alone:.3f} s per iteration alone, {shared:.3f} s beside a "
          f"{2 * args.size} px run in another thread: {shared / alone:.2f}x slower")


if __name__ == "__main__":
    main()
