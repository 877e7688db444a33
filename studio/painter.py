"""The Ray actor that paints on a cluster's worker: the backbone loaded once, runs streamed as Steps.

Imported by the worker processes (from studio/executors.py), so it holds nothing of the server.
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


# Threaded (max_concurrency 3): `stop` and `idle` are heard while `paint` runs. Ray restarts a dead actor.
@ray.remote(max_restarts=-1, max_concurrency=3)
class Painter:
    """One worker slot: paints one run at a time with the backbone it loaded at start."""

    def __init__(self, weights: str | None, device: str, threads: int):
        torch.set_num_threads(threads)  # its share of the machine, not all of it
        self.backbone = load_backbone(weights)
        self.device = resolve_device(device)
        self.backbone.net.to(self.device)
        self._stops: dict[str, threading.Event] = {}
        self._painting = threading.Lock()

    def ready(self) -> str:
        return self.backbone.description

    def pid(self) -> int:
        return os.getpid()

    def paint(self, run: str, content, styles, config: StyleConfig, start=None) -> Iterator[Step]:
        """The run's Steps (a streaming generator); it ends early at the first frame after `stop(run)`."""
        stop = self._stops.setdefault(run, threading.Event())
        with self._painting:
            try:
                for step in stylize(content, styles, config, backbone=self.backbone, device=self.device,
                                    start=start):
                    yield step
                    if stop.is_set():
                        return
            finally:
                self._stops.pop(run, None)

    def stop(self, run: str) -> None:
        self._stops.setdefault(run, threading.Event()).set()

    def idle(self) -> None:
        """Returns once no run is painting here."""
        with self._painting:
            pass
