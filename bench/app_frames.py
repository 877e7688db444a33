"""Time from Run to the first streamed frame, and between frames, through the launched studio.

    python -m bench.app_frames --size 256 --runs 3

Launches app.py on loopback, submits runs with gradio_client as a browser would, and reports the
median time to the first frame and the median gap between frames.
"""

from __future__ import annotations

import argparse
import socket
import statistics
import time
from pathlib import Path

from gradio_client import Client, handle_file

ASSETS = Path(__file__).resolve().parent.parent / "assets"


def launch(demo) -> str:
    """`demo` served on a free loopback port, as `python app.py` would serve it; its URL."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    import app

    app.fit_to_machine(demo)
    demo.queue(default_concurrency_limit=1)
    _, url, _ = demo.launch(server_name="127.0.0.1", server_port=port, prevent_thread_lock=True, quiet=True)
    return url


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--preview-every", type=int, default=None, help="default: the engine's")
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    import app

    client = Client(launch(app.demo), verbose=False)
    settings = {"size": args.size, "steps": args.steps}
    if args.preview_every:
        settings["preview_every"] = args.preview_every

    firsts, gaps, counts = [], [], []
    for _ in range(args.runs):
        started = time.perf_counter()
        job = client.submit(content=handle_file(str(ASSETS / "chelsea.png")),
                            style=handle_file(str(ASSETS / "starry_night.jpg")), **settings, api_name="/paint")
        arrivals = []
        for _update in job:
            arrivals.append(time.perf_counter() - started)
        firsts.append(arrivals[0])
        gaps += [later - earlier for earlier, later in zip(arrivals, arrivals[1:])]
        counts.append(len(arrivals))
    app.demo.close()
    from studio.server import engine

    print(engine().words)
    print(f"size {args.size}px, {args.steps} steps, preview every "
          f"{settings.get('preview_every', engine().default.preview_every)}, {args.runs} runs")
    print(f"Run -> first frame: median {statistics.median(firsts):.2f} s (all: "
          + ", ".join(f"{t:.2f}" for t in firsts) + ")")
    print(f"between frames: median {statistics.median(gaps):.2f} s; frames per run: {counts}")


if __name__ == "__main__":
    main()
