"""Workshop mode's scheduler: people's runs that arrive close together, painted as one batch.

The batched loop itself is the engine's (`nst_core.stylize.stylize_batch`); this module only
gathers jobs with one key into batches, one batch at a time, and hands each job its own steps.
"""

from __future__ import annotations

import queue
import threading
import time
from dataclasses import dataclass, field
from typing import Callable, Iterator

import torch

from nst_core.backbone import Backbone, FeatureNet
from nst_core.config import StyleConfig
from nst_core.devices import resolve_device
from nst_core.images import ImageLike, load_image
from nst_core.stylize import Step, stylize_batch


@dataclass(eq=False)  # a job is itself, whatever its fields
class _Job:
    """One person's run waiting for, or painting in, a batch."""

    content: torch.Tensor  # the photo at the run's size, (1, 3, H, W) on the CPU
    style: ImageLike
    config: StyleConfig
    reports: queue.SimpleQueue = field(default_factory=queue.SimpleQueue)
    cancelled: threading.Event = field(default_factory=threading.Event)

    @property
    def key(self) -> tuple:
        """Jobs batch together when their settings and photo shapes are equal."""
        return self.config, tuple(self.content.shape)


_END = object()  # the job's run is over


class Workshop:
    """Runs people's jobs in batches: those with one key that arrive within `gather` seconds paint together.

    One batch paints at a time. The oldest waiting job always goes into the next batch, with the
    jobs behind it that share its key (first come, first served; nobody is overtaken by a later
    arrival of another kind). A batch is painted by `run` (contents, styles, config), the engine's
    `stylize_batch` on `device` unless told otherwise: on ZeroGPU, one GPU call for the batch.
    """

    def __init__(self, backbone: Backbone | FeatureNet, device: torch.device | str = "auto", max_batch: int = 8,
                 gather: float = 0.5, run: Callable[..., Iterator[list]] | None = None):
        self.backbone, self.device = backbone, resolve_device(device)
        self.run = run or self._here
        self.max_batch, self.gather = max_batch, gather
        self.batches: list[int] = []  # the size of every batch painted, for the curious and the tests
        self._waiting: list[_Job] = []
        self._arrived = threading.Condition()
        threading.Thread(target=self._serve, name="nst-workshop", daemon=True).start()

    def stylize(self, content: ImageLike, style: ImageLike, config: StyleConfig) -> Iterator[Step]:
        """This job's steps, as `stylize` would yield them, once its batch paints. Closing it leaves the batch."""
        job = _Job(load_image(content, config.size, "cpu", aspect=config.aspect), style, config)
        with self._arrived:
            self._waiting.append(job)
            self._arrived.notify()
        try:
            while (report := job.reports.get()) is not _END:
                if isinstance(report, Exception):
                    raise report
                yield report
        finally:
            job.cancelled.set()

    def _next_batch(self) -> list[_Job]:
        with self._arrived:
            while not self._waiting:
                self._arrived.wait()
            deadline = time.monotonic() + self.gather  # let the others who pressed Paint just now join
            while len(self._waiting) < self.max_batch and (left := deadline - time.monotonic()) > 0:
                self._arrived.wait(left)
            key = self._waiting[0].key
            batch = [job for job in self._waiting if job.key == key and not job.cancelled.is_set()][:self.max_batch]
            chosen = set(map(id, batch))
            self._waiting = [job for job in self._waiting if id(job) not in chosen and not job.cancelled.is_set()]
            return batch

    def _serve(self) -> None:
        while True:
            batch = self._next_batch()
            if batch:
                self.batches.append(len(batch))
                self._paint(batch)  # never raises: errors go to the batch's jobs

    def _here(self, contents: list, styles: list, config: StyleConfig) -> Iterator[list]:
        return stylize_batch(contents, styles, config, backbone=self.backbone, device=self.device)

    def _paint(self, batch: list[_Job]) -> None:
        run = self.run([job.content for job in batch], [job.style for job in batch], batch[0].config)
        try:
            for reports in run:
                for job, report in zip(batch, reports):
                    if report is not None:
                        job.reports.put(report)
                if all(job.cancelled.is_set() for job in batch):
                    break  # everyone left: stop painting for nobody
        except Exception as error:  # a bad painting or setting: every job of the batch hears of it
            for job in batch:
                job.reports.put(error)
        finally:
            run.close()
            for job in batch:
                job.reports.put(_END)
