"""Drafts per second at 256, 384 and 512 px, and what the studio's gallery of six costs.

    python -m bench.drafts [--repeats 7]

A draft is the style vector of the painting (remembered per painting after its first use) and one pass
of the transformer over the photo. Each row is the median of `repeats`, measured side by side in one run.
"""

from __future__ import annotations

import argparse
import statistics
import time
from pathlib import Path

from nst_core import StyleConfig, open_image
from nst_core.draft import drafter, draft

ASSETS = Path(__file__).resolve().parent.parent / "assets"
PAINTINGS = ("starry_night.jpg", "the_scream.jpg", "shipwreck.jpg", "wave.jpg", "udnie.jpg")


def seconds(work, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--photo", default=str(ASSETS / "astronaut.png"))
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()

    started = time.perf_counter()
    network = drafter()
    photo, paintings = open_image(args.photo), [open_image(ASSETS / name) for name in PAINTINGS]
    draft(photo, paintings[0], StyleConfig(size=64))  # loads both networks
    print(f"loading the draft network: {time.perf_counter() - started:.2f} s (once per process)\n")
    print("| size | style vector (a new painting) | draft, painting seen before | drafts per second |")
    print("|---|---|---|---|")
    for size in (256, 384, 512):
        config = StyleConfig(size=size)
        vector = seconds(lambda: network._vectors.clear() or network.style_vector(paintings[1]), args.repeats)
        known = seconds(lambda: draft(photo, paintings[1], config), args.repeats)
        print(f"| {size} px | {vector * 1000:.0f} ms | {known * 1000:.0f} ms | {1 / known:.1f} |", flush=True)
    gallery = StyleConfig(size=256)
    upload = open_image(ASSETS / "coffee.png")  # a painting the gallery has not seen: its vector is new
    network._vectors.clear()
    cold = seconds(lambda: [draft(photo, painting, gallery) for painting in paintings], 1)
    warm = seconds(lambda: [draft(photo, painting, gallery) for painting in [*paintings, upload]], args.repeats)
    print(f"\nthe gallery at 256 px: five example paintings never seen {cold:.2f} s; a new photo in the five "
          f"examples and an upload {warm:.2f} s (median)")


if __name__ == "__main__":
    main()
