"""A room's worth of load: visitors join within a minute, draft their looks and paint at the room's size; some
share, the facilitator stars five and prints one sticker. Through the launched studio, with gradio_client.

    python -m bench.room [--visitors 30] [--within 60] [--size 128] [--steps 30] [--share 10]

Reports the time until every visitor has their looks and until every visitor has a design, how far the
line's promised waits were from the truth, the wall's delay after a share, the sticker's estimate against
its time, and the server's peak memory.
"""

from __future__ import annotations

import argparse
import random
import resource
import statistics
import threading
import time
from pathlib import Path

from gradio_client import Client, handle_file

from bench.app_frames import launch
from bench.line import duration

ASSETS = Path(__file__).resolve().parent.parent / "assets"
PHOTOS = ("chelsea.png", "astronaut.png", "coffee.png", "panel/grace_hopper.jpg", "panel/dahlia.jpg")
PAINTINGS = ("starry_night.jpg", "the_scream.jpg", "wave.jpg", "udnie.jpg", "shipwreck.jpg")


def visit(url: str, index: int, delay: float, began: float, record: dict) -> None:
    """One volunteer: joins after `delay`, drafts the looks of their photo, then paints one painting."""
    time.sleep(delay)
    client = Client(url, verbose=False)
    photo, painting = ASSETS / PHOTOS[index % len(PHOTOS)], ASSETS / PAINTINGS[index % len(PAINTINGS)]
    record["joined"] = time.perf_counter() - began
    client.predict(handle_file(str(photo)), None, api_name="/try_paintings")
    record["looks"] = time.perf_counter() - began
    pressed = time.perf_counter()
    job = client.submit(content=handle_file(str(photo)), style=handle_file(str(painting)), api_name="/paint")
    told = False
    for picture, status, *_ in job:
        if isinstance(status, str) and not told:
            told = True
            record["promised"] = duration(status, "DURATION until your turn") if "waiting" in status else 0.0
        if isinstance(picture, str) and "began" not in record:
            record["began"] = time.perf_counter() - pressed
        if isinstance(picture, str):
            record["picture"] = picture
    record["design"] = time.perf_counter() - began
    record["photo"], record["painting"] = str(photo), str(painting)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--visitors", type=int, default=30)
    parser.add_argument("--within", type=float, default=60.0, help="seconds in which the visitors join")
    parser.add_argument("--size", type=int, default=128, help="the room's size, set by the facilitator")
    parser.add_argument("--steps", type=int, default=30, help="the room's steps")
    parser.add_argument("--share", type=int, default=10)
    args = parser.parse_args()

    import app
    from studio import wall
    from studio.controls import apply_preset
    from studio.design import Design
    from studio.server import engine

    print(engine().words)
    url = launch(app.demo)
    facilitator = Client(url, verbose=False)
    key = wall.key()
    facilitator.predict(key, args.size, args.steps, api_name="/room_size")
    random.seed(0)
    delays = sorted(random.uniform(0, args.within) for _ in range(args.visitors))
    records = [{} for _ in range(args.visitors)]
    began = time.perf_counter()
    visitors = [threading.Thread(target=visit, args=(url, index, delay, began, record))
                for index, (delay, record) in enumerate(zip(delays, records))]
    for visitor in visitors:
        visitor.start()
    for visitor in visitors:
        visitor.join()
    painted = [record for record in records if "picture" in record]
    print(f"{args.visitors} visitors joined within {args.within:.0f} s; room size {args.size} px, {args.steps} steps")
    print(f"every visitor had their looks after {max(r['looks'] for r in records):.0f} s "
          f"(median {statistics.median(r['looks'] - r['joined'] for r in records):.1f} s after joining); "
          f"every visitor had a design after {max(r['design'] for r in records):.0f} s; "
          f"designs: {len(painted)} of {args.visitors}")
    waits = [(r["promised"], r["began"]) for r in painted if r.get("promised") and r["began"] > 5]
    if waits:
        ratios = [promised / waited for promised, waited in waits]
        print(f"promised waits over the truth, for the {len(waits)} who waited: median {statistics.median(ratios):.2f}, "
              f"from {min(ratios):.2f} to {max(ratios):.2f}")

    room = wall._room()
    settings = apply_preset("default")
    delays = []
    for index, record in enumerate(painted[:args.share]):  # as Share to the wall does, then a wall's next look
        design = Design(record["photo"], record["painting"], None, None, "photo", 0.5, tuple(settings))
        seen = wall.wall()[1]
        shared = time.perf_counter()
        wall.share(f"Volunteer {index + 1}", design, record["picture"], f"{index:032d}")
        html, seen = wall.wall(seen)
        delays.append(time.perf_counter() - shared)
    print(f"wall: a share is drawn by the wall's next look in {1000 * statistics.median(delays):.0f} ms (median; "
          f"worst {1000 * max(delays):.0f} ms), and walls look every {wall.WALL_SECONDS:.0f} s")
    for design in room.wall()[:5]:
        facilitator.predict(key, design.id, api_name="/room_star")
    newest = room.wall()[0]
    for design in room.wall():
        if design.starred and design.id != newest.id:
            facilitator.predict(key, design.id, api_name="/room_unstar")
    line = facilitator.predict(key, "sticker", api_name="/room_print")
    print_id = line.split("print **")[1].split("**")[0]
    printed = time.perf_counter()
    *_, (preview, status, *rest) = list(facilitator.submit(print_id, api_name="/fetch_print"))
    print(f"sticker print of a starred design: {status.splitlines()[0][:160]} "
          f"({time.perf_counter() - printed:.0f} s after it was sent)")
    print(f"server process peak memory: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MB")
    facilitator.predict(key, 0, 0, api_name="/room_size")
    app.demo.close()


if __name__ == "__main__":
    main()
