"""The person waiting, measured: the drafts, the default picture and a small print through the launched studio.

    python -m bench.journey

Launches app.py on loopback with this machine's defaults (as `python app.py` would); asks for the
drafts gallery of a photo (five example paintings and an upload) as the page does when a photo is
chosen; paints the default picture with gradio_client, leaving size and steps to the server as the
page does, and reports the estimate shown before Paint against the truth, the time to the first frame
(the draft) and to the first painted one, the longest gap between frames, the whole wait and how far
the "time left" was off from 20 % of the run on; then a small print refined from that picture, with
its estimate, its wait, and how close it is to the approved picture (mean difference, SSIM).
"""

from __future__ import annotations

import argparse
import math
import os
import re
import time
from pathlib import Path

import numpy as np
from gradio_client import Client, handle_file
from PIL import Image

ASSETS = Path(__file__).resolve().parent.parent / "assets"
PHOTO, PAINTING = ASSETS / "chelsea.png", ASSETS / "starry_night.jpg"
UPLOAD = ASSETS / "tee_mockup.png"  # a picture no example is: the gallery's sixth, with a style vector of its own


def seconds_in(text: str) -> float | None:
    """The "about 1 min 20 s" of a status line, in seconds."""
    match = re.search(r"about (?:(\d+) h)? ?(?:(\d+) min)? ?(?:(\d+) s)? left", text)
    if not match or not any(match.groups()):
        return None
    hours, minutes, seconds = (int(group or 0) for group in match.groups())
    return 3600 * hours + 60 * minutes + seconds


def follow(job, started: float) -> tuple[list[float], list[tuple[float, float]], list]:
    """Frame arrival times, (time, seconds-left shown) pairs, and the last update of a streaming job."""
    frames, lefts, last, previous = [], [], None, None
    for update in job:
        now = time.perf_counter() - started
        if isinstance(update[0], str) and update[0] != previous:  # a new picture (not an update that skips it)
            frames.append(now)
            previous = update[0]
        if isinstance(update[1], str) and (left := seconds_in(update[1])) is not None:
            lefts.append((now, left))
        last = update
    return frames, lefts, last


def report(name: str, estimate: float, frames: list[float], lefts: list[tuple[float, float]], total: float) -> None:
    gaps = np.diff([0.0, *frames])
    worst = int(np.argmax(gaps))
    off = [abs(now + left - total) / total for now, left in lefts if now >= 0.2 * total]
    print(f"{name}: estimate before {estimate:.0f} s, took {total:.1f} s ({estimate / total:.2f}x); "
          f"first frame {frames[0]:.2f} s, the next {frames[1] if len(frames) > 1 else math.nan:.2f} s; longest gap {gaps.max():.2f} s (ending at {frames[worst]:.1f} s); "
          f"frames {len(frames)}; "
          f"time left off by at most {100 * max(off, default=0):.0f} % from 20 % of the run on")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--print-size", default=None, help="WxH (default: twice the painted picture's size)")
    parser.add_argument("--final-steps", type=int, default=10)
    parser.add_argument("--ray", default=None, metavar="auto|ADDRESS", help="paint on a Ray cluster's workers")
    args = parser.parse_args()

    import app
    from bench.app_frames import launch
    from studio.server import live_config
    from studio.server import engine

    server = engine()
    print(server.words)
    if args.ray:
        from studio.executors import RayCluster

        from studio import room

        cluster = room.CLUSTER = RayCluster(args.ray, weights=os.environ.get("NST_WEIGHTS"))
        room.GATE.configure(slots=cluster.workers, line=room.GATE.line)
        cluster.calibrate(server)
        print(f"painting on a Ray cluster: {cluster.workers} workers")
    client = Client(launch(app.demo), verbose=False)
    default = server.default
    photo_size = Image.open(PHOTO).size
    estimate = server.countdown(live_config(default, True), photo_size).total
    print(f"default picture: {default.size} px, {default.steps} steps, start {default.init}, {default.precision}")

    for photo in (PHOTO, ASSETS / "astronaut.png", ASSETS / "coffee.png"):
        started = time.perf_counter()
        gallery = client.predict(handle_file(str(photo)), handle_file(str(UPLOAD)),
                                 api_name="/drafts")  # the page's gallery: undocumented, called by position
        print(f"drafts gallery of {photo.name}: {len(gallery)} drafts in {time.perf_counter() - started:.2f} s")

    started = time.perf_counter()
    job = client.submit(content=handle_file(str(PHOTO)), style=handle_file(str(PAINTING)), api_name="/paint")
    frames, lefts, last = follow(job, started)
    report("paint", estimate, frames, lefts, time.perf_counter() - started)
    approved = last[0]
    width, height = Image.open(approved).size
    print_size = args.print_size or f"{2 * width}x{2 * height}"

    from nst_core.printing import print_config

    config = print_config(print_size, default, args.final_steps, start_side=max(width, height))
    estimate = server.countdown(config, photo_size).total
    started = time.perf_counter()
    job = client.submit(content=handle_file(str(PHOTO)), style=handle_file(str(PAINTING)), size=default.size,
                        steps=default.steps, approved=handle_file(approved), print_name="custom",
                        custom_size=print_size, final_steps=args.final_steps, api_name="/print")
    frames, lefts, last = follow(job, started)
    report(f"print {print_size}", estimate, frames, lefts, time.perf_counter() - started)
    download = last[4]["value"] if isinstance(last[4], dict) else last[4]
    download = download["path"] if isinstance(download, dict) else download
    from nst_core.images import ssim

    with Image.open(approved) as reference, Image.open(download) as printed:
        small = printed.convert("RGB").resize(reference.size, Image.Resampling.LANCZOS)
        a, b = (np.asarray(picture, dtype=np.float32) / 255 for picture in (reference.convert("RGB"), small))
    print(f"print shrunk to the approved size: mean difference {255 * np.abs(a - b).mean():.1f} levels, "
          f"SSIM {ssim(a, b):.3f}")
    app.demo.close()


if __name__ == "__main__":
    main()
