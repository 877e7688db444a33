"""Where the server's runs go and what they leave: the fair line, the print jobs, the result files, and
the runs themselves, in this process (on ZeroGPU, inside the GPU worker) or on a Ray cluster."""

from __future__ import annotations

import os
import tempfile
import time
import uuid
from pathlib import Path

try:  # ZeroGPU (app.py imports it first, before anything touches CUDA)
    import spaces
except ImportError:  # off a Space, or a Space without ZeroGPU
    spaces = None

import gradio as gr

from nst_core import StyleConfig, stylize
from nst_core.images import open_image
from nst_core.stylize import stylize_batch

from .executors import RayCluster
from .gate import Gate
from .jobs import PrintJobs
from .server import engine
from .store import Room
from .workshop import Workshop
from .zerogpu import on_gpu

SHARED_SLOWDOWN = 1.65  # how much slower a run goes beside another on one device (bench.sharing: 1.64x on 2 cores)
RESULTS = Path(tempfile.gettempdir()) / "tee-style-studio"
# Seconds an upload or a result that was never shared stays (gradio's own cache keeps the same): $NST_KEEP_HOURS,
# or --keep-hours, the facilitator's choice; an hour by default.
RESULT_LIFETIME = float(os.environ.get("NST_KEEP_HOURS", "1")) * 3600
PRINTS = PrintJobs(RESULTS / "prints", lifetime=24 * 3600)  # print files stay a day after their job ended
WORKSHOP: Workshop | None = None  # set by --workshop: live runs of one size and settings share batches
CLUSTER: RayCluster | None = None  # set by --ray: runs paint on a Ray cluster's workers
JOIN: str | None = None  # the address volunteers join at, set by main() (else the facilitator's own)
ROOM: Room | None = None  # the room's shared designs and settings (studio/store.py), opened on first use
# The fair line for live runs: NST_CONCURRENCY runs at once (default 1; 2 when NST_DEVICE names a GPU).
GATE = Gate(slots=int(os.environ.get("NST_CONCURRENCY") or 1), line=int(os.environ.get("NST_QUEUE_SIZE", "30")))


def use_data(folder: Path, resume=None) -> None:
    """Keep the room (its shared designs, stars, settings) and the print jobs in `folder`, from start-up on;
    prints an earlier start left unfinished are painted again by `resume` (studio.printing.resume_print)."""
    global ROOM
    ROOM = Room(folder)
    PRINTS.open(folder / "prints", resume)
    GATE.pause(bool(ROOM.setting("paused", False)))  # a room paused before the restart stays paused


def room_settings(config: StyleConfig) -> StyleConfig:
    """A live run's config at the room's size and steps, when the facilitator set them."""
    size = ROOM.setting("size") if ROOM is not None else None
    return config.replace(size=size, steps=ROOM.setting("steps")) if size else config


def sharing(seconds: float, beside: list[float]) -> float:
    """Seconds a run that takes `seconds` alone takes beside runs that still need `beside` seconds (alone) on
    the same device: while two paint at once each goes SHARED_SLOWDOWN times slower, so the overlap costs
    min(seconds, other) * (SHARED_SLOWDOWN - 1) more (docs/performance.md measures it)."""
    return seconds + sum(min(seconds, other) for other in beside) * (SHARED_SLOWDOWN - 1)


def beside_a_paint() -> tuple[list[float], str]:
    """What paints beside a new live run on this device: the print rendering now (its seconds left), and why
    the run is slower, in words."""
    job = PRINTS.painting()
    if CLUSTER is not None or job is None:  # a cluster's workers paint apart
        return [], ""
    return [job.left if job.left is not None else job.estimate], "slower while a print renders on this server"


def beside_a_print() -> tuple[list[float], str]:
    """What paints beside a new print: the live runs painting or waiting (their seconds left), and why."""
    live = [] if CLUSTER is not None else GATE.work()
    return live, "slower while live pictures paint on this server" if live else ""


def live_steps(content: str, styles: list[str], config: StyleConfig, regions: str | None = None):
    """A live run's steps: batched with the room's other runs in workshop mode, else a run of its own."""
    if WORKSHOP is not None and len(styles) == 1 and not config.aspect and regions is None:
        return WORKSHOP.stylize(content, styles[0], config)
    return execute(content, styles, config, regions=regions)


def execute(content, styles, config: StyleConfig, start=None, regions=None):
    """A run's steps from where runs execute: the Ray cluster's workers with --ray, else this process."""
    if CLUSTER is not None:
        return CLUSTER.stream(content, styles, config, start, regions)
    return run_steps(content, styles, config, start, regions)


def run_steps(content, style, config: StyleConfig, start=None, regions=None):
    """The engine's steps, run where the device is (on ZeroGPU, inside the GPU call); CPU images out."""
    yield from stylize(content, style, config, backbone=engine().backbone, device=engine().device, start=start,
                       regions=regions)


def batch_steps(contents, styles, config: StyleConfig):
    """A workshop batch's reports, run where the device is (on ZeroGPU, inside one GPU call for the batch)."""
    yield from stylize_batch(contents, styles, config, backbone=engine().backbone, device=engine().device)


def gpu_seconds(content, style, config: StyleConfig, start=None, regions=None) -> int:
    """ZeroGPU time to ask for a run: the cost model's estimate, with room to spare."""
    return _asking(engine().countdown(config, open_image(content).size).total)


def batch_seconds(contents, styles, config: StyleConfig) -> int:
    """ZeroGPU time to ask for a workshop batch (its photos are tensors at the run's size): as long as its
    pictures take one after another, the most a batch can take (on a GPU it takes less: bench.loop)."""
    height, width = contents[0].shape[-2:]
    return _asking(len(contents) * engine().countdown(config, (width, height)).total)


def _asking(seconds: float) -> int:
    """Seconds to ask ZeroGPU for work the cost model puts at `seconds`: twice that and 15 s, at most the five
    minutes ZeroGPU lets a call ask for (its limit, not documented, may change; a longer run is cut off:
    long prints belong on a GPU server of one's own, README)."""
    return int(min(300, 15 + 2 * seconds))


GPU = spaces.GPU if spaces is not None else None  # the GPU call on ZeroGPU (it is the function itself elsewhere)
run_steps = on_gpu(run_steps, GPU, gpu_seconds)
batch_steps = on_gpu(batch_steps, GPU, batch_seconds)


def result_name(content: str, style: str, suffix: str = "") -> str:
    """A download's file name a person recognises: the photo's and the painting's names."""
    stems = [Path(str(path)).stem.replace(" ", "_")[:24] or "picture" for path in (content, style)]
    return f"{stems[0]}-in-the-style-of-{stems[1]}{suffix}.png"


def save_result(picture, name: str = "picture.png") -> gr.DownloadButton:
    """The picture as a full-resolution PNG behind a download button, under a name that says what it is."""
    prune_results()
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"tee-style-{uuid.uuid4().hex[:6]}-{name}"
    picture.save(path)
    return gr.DownloadButton(f"Download PNG ({picture.width}×{picture.height})", value=str(path), visible=True)


def prune_results() -> None:
    """Remove result files older than RESULT_LIFETIME, so a server that runs for weeks does not fill its disk."""
    cutoff = time.time() - float(os.environ.get("NST_KEEP_HOURS", "1")) * 3600
    for path in RESULTS.glob("tee-*"):
        try:
            if path.stat().st_mtime < cutoff:
                path.unlink()
        except FileNotFoundError:  # another run's prune got there first
            pass
