"""A small real catalogue, painted in one process and on a 2-worker local Ray cluster, in one run.

    python -m bench.catalogue --size 256 --steps 60

Four designs (two photos × two paintings from assets/); each way writes its own folder from scratch,
and the wall times (the catalogue command's own, the backbone load and cluster start-up included)
are printed side by side.
"""

from __future__ import annotations

import argparse
import itertools
import shutil
import sys
import tempfile
import time
from pathlib import Path

from nst_core import catalogue

ASSETS = Path(__file__).resolve().parent.parent / "assets"
PHOTOS = ("chelsea.png", "astronaut.png")
PAINTINGS = ("starry_night.jpg", "the_scream.jpg")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--steps", type=int, default=60)
    args = parser.parse_args()
    folder = Path(tempfile.mkdtemp(prefix="catalogue-"))
    pairs = folder / "pairs.csv"
    rows = [f"{ASSETS / photo},{ASSETS / painting},{args.size},{args.steps}"
            for photo, painting in itertools.product(PHOTOS, PAINTINGS)]
    pairs.write_text("photo,painting,size,steps\n" + "\n".join(rows) + "\n")
    times = {}
    for label, extra in (("one process", []), ("Ray, 2 workers on this machine", ["--ray", "auto"])):
        started = time.perf_counter()
        status = catalogue.main([str(pairs), "--out", str(folder / label.split(",")[0].replace(" ", "-")), *extra])
        times[label] = time.perf_counter() - started
        if status:
            sys.exit(f"the catalogue failed ({label})")
    for label, seconds in times.items():
        print(f"| {len(rows)} designs, {args.size} px, {args.steps} steps | {label} | {seconds:.1f} s |")
    shutil.rmtree(folder)


if __name__ == "__main__":
    main()
