"""The Ray actor that paints on a cluster's worker: the backbone loaded once, runs streamed as Steps.

Imported by the worker processes (from studio/executors.py), so it holds nothing of the server. In
workshop mode it also holds a workshop scheduler, and the runs sent to it together paint as one batch.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator

import ray
import torch

from nst_core.backbone import load_backbone
from nst_core.config import StyleConfig
from nst_core.devices import resolve_device
from nst_core.stylize import Step, stylize
from studio.workshop import Workshop


# Threaded: `stop` and `finished` are heard while runs paint (the executor sets max_concurrency). Ray restarts
# a dead actor.
@ray.remote(max_restarts=-1)
class Painter:
    """One worker slot: paints its runs with the backbone it loaded at start, batched in workshop mode."""

    def __init__(self, weights: str | None, device: str, threads: int, workshop: int = 0):
        torch.set_num_threads(threads)  # its share of the machine, not all of it
        self.backbone = load_backbone(weights)
        self.device = resolve_device(device)
        self.backbone.net.to(self.device)
        self.workshop = Workshop(self.backbone, self.device, max_batch=workshop) if workshop else None
        self._stops: dict[str, threading.Event] = {}
        self._ended: dict[str, threading.Event] = {}

    def ready(self) -> str:
        return self.backbone.description

    def pid(self) -> int:
        return os.getpid()

    def batches(self) -> list[int]:
        """The size of every workshop batch painted here."""
        return list(self.workshop.batches) if self.workshop else []

    def paint(self, run: str, content, styles, config: StyleConfig, start=None, regions=None) -> Iterator[Step]:
        """The run's Steps (a streaming generator); it ends early at the first frame after `stop(run)`."""
        stop = self._stops.setdefault(run, threading.Event())
        ended = self._ended.setdefault(run, threading.Event())
        batched = (self.workshop is not None and len(styles) == 1 and start is None and regions is None
                   and not config.aspect)
        steps = (self.workshop.stylize(content, styles[0], config) if batched else
                 stylize(content, styles, config, backbone=self.backbone, device=self.device, start=start,
                         regions=regions))
        try:
            for step in steps:
                yield step
                if stop.is_set():
                    return
        finally:
            steps.close()
            ended.set()
            self._stops.pop(run, None)
            self._ended.pop(run, None)

    def stop(self, run: str) -> None:
        """Ask the run to end at its next frame (a run already over is left alone)."""
        if (stop := self._stops.get(run)) is not None:
            stop.set()

    def finished(self, run: str, timeout: float) -> bool:
        """Whether the run has ended here (waiting up to `timeout` seconds for it)."""
        ended = self._ended.get(run)
        return ended is None or ended.wait(timeout)
