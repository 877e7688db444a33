"""Where runs execute when not in this process: on the workers of a Ray cluster (app.py's `execute` chooses).

Either way a run is its Steps, an iterator that the page consumes and may close (Stop): here that is
`stylize` itself. `RayCluster` keeps one `Painter` actor per worker slot, each with
the backbone loaded once, and streams each run's Steps back from its actor as they are painted (a Ray
streaming generator); closing the iterator asks the actor to stop at its next frame. A worker that
dies mid-run is replaced (Ray restarts the actor) and the run starts again on another, with a note
for the person watching. Ray is imported only when a cluster is asked for.
"""

from __future__ import annotations

import logging
import queue
import threading
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import replace

import numpy as np
import torch

from nst_core.cluster import connect
from nst_core.config import StyleConfig
from nst_core.export import content_alpha
from nst_core.images import ImageLike, open_image
from nst_core.stylize import Step

log = logging.getLogger(__name__)

ATTEMPTS = 3  # a run starts at most this often when its workers keep dying
STOP_WAIT = 10.0  # seconds an actor may take to finish a stopped run before it takes the next one


class WorkerLost(RuntimeError):
    """Every attempt at a run lost its worker."""


class RayCluster:
    """Runs paint on a Ray cluster's `Painter` actors: one run per actor at a time, or in workshop mode up to
    `workshop` runs per actor, batched there."""

    def __init__(self, address: str = "auto", workers: int | None = None, weights: str | None = None,
                 device: str = "auto", threads: int = 1, workshop: int = 0):
        ray = connect(address)  # before anything imports ray
        from studio.painter import Painter

        self.weights = weights
        self.running: dict[str, object] = {}  # run id -> the actor painting it
        gpus = int(ray.cluster_resources().get("GPU", 0))
        cpus = int(ray.cluster_resources().get("CPU", 1))
        self.workers = workers or (gpus if gpus else max(1, cpus // threads))
        self.capacity = workshop or 1  # runs an actor paints at once: a workshop batch, else one
        options = {"num_gpus": 1} if gpus else {"num_cpus": threads}
        self.actors = [Painter.options(max_concurrency=self.capacity + 2, **options).remote(
            weights, device, threads, workshop) for _ in range(self.workers)]
        ray.get([actor.ready.remote() for actor in self.actors])  # the backbones loaded before the first visitor
        # One entry per free place; an actor's places queue together, so runs that start together share an
        # actor (and, in workshop mode, its batch).
        self._idle: queue.SimpleQueue = queue.SimpleQueue()
        for actor in self.actors:
            for _ in range(self.capacity):
                self._idle.put(actor)

    def stream(self, content: ImageLike, styles: Sequence[ImageLike], config: StyleConfig,
               start: ImageLike | None = None, regions: ImageLike | None = None) -> Iterator[Step]:
        """The run's Steps as its actor paints them; closing the iterator stops the remote run."""
        pictures = (_portable(content), [_portable(style) for style in styles],
                    None if start is None else _portable(start), None if regions is None else _portable(regions))
        note = ""
        for attempt in range(1, ATTEMPTS + 1):
            actor = self._idle.get()
            run = uuid.uuid4().hex
            self.running[run] = actor
            finished = False
            try:
                for step in self._steps(actor, run, pictures, config):
                    yield replace(step, note=" ".join(filter(None, [note, step.note])))
                    note = ""
                finished = True
                return
            except WorkerLost as error:
                log.warning("run %s lost its worker (attempt %d of %d): %s", run, attempt, ATTEMPTS, error)
                note = "the worker painting this picture stopped; it starts again on another worker"
            finally:
                del self.running[run]
                self._release(actor, run, finished)
        raise WorkerLost(f"the workers painting this picture stopped {ATTEMPTS} times: please try again later")

    def _steps(self, actor, run: str, pictures: tuple, config: StyleConfig) -> Iterator[Step]:
        import ray
        from ray.exceptions import ActorDiedError, ActorUnavailableError, RayActorError, WorkerCrashedError

        content, styles, start, regions = pictures
        stream = actor.paint.options(num_returns="streaming").remote(run, content, styles, config, start, regions)
        try:
            for ref in stream:
                yield ray.get(ref)
        except (ActorDiedError, ActorUnavailableError, RayActorError, WorkerCrashedError) as error:
            raise WorkerLost(str(error).splitlines()[0]) from error

    def _release(self, actor, run: str, finished: bool) -> None:
        """Back to the idle actors: at once after a finished run, else once it has heard the stop (or died)."""
        if finished:
            self._idle.put(actor)
            return

        def after_stop():
            import ray

            try:
                ray.get(actor.stop.remote(run), timeout=STOP_WAIT)
                ray.get(actor.finished.remote(run, STOP_WAIT), timeout=2 * STOP_WAIT)
            except Exception as error:  # noqa: BLE001 - a dead or slow actor is restarted by Ray; it comes back
                log.info("actor did not confirm the stop of %s: %s", run, error)
            self._idle.put(actor)

        threading.Thread(target=after_stop, name="nst-ray-stop", daemon=True).start()

    def calibrate(self, engine) -> None:
        """Point the server's cost model at the workers' pace (their share of a machine, not the server's)."""
        from nst_core.config import PRESETS
        from studio.costs import CostModel

        engine.costs = CostModel.calibrate(engine.backbone, engine.device, PRESETS["default"].replace(
            precision=engine.precision), paint=lambda photo, probe: self.stream(photo, [photo], probe))
        vars(engine).pop("default", None)  # the machine's default picture is chosen again, at the workers' pace

    def close(self) -> None:
        """End the painters (their CPUs or GPUs go back to the cluster)."""
        import ray

        for actor in self.actors:
            ray.kill(actor)

    def pids(self) -> list[int]:
        """The worker processes' ids, one per actor (for tests and for the curious)."""
        import ray

        return ray.get([actor.pid.remote() for actor in self.actors])


def _portable(picture: ImageLike) -> np.ndarray | torch.Tensor:
    """A picture as pixels, which travel to any worker (a path on this machine would not): RGB, or RGBA
    where it is transparent (a photo's transparency is left out of the design, a region image's says so)."""
    if isinstance(picture, torch.Tensor):
        return picture.detach().cpu()
    rgb = np.asarray(open_image(picture, flatten=False))
    alpha = content_alpha(picture)
    return rgb if alpha is None else np.dstack([rgb, (alpha[0, 0].numpy() * 255).round().astype(np.uint8)])
