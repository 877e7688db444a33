"""How long a run takes on this server: a cost model measured on the device, and the time left of a run.

An iteration costs `overhead + per_megapixel * megapixels` seconds (measured linear on the CPU: 7.5,
6.8 and 7.4 s per megapixel-iteration at 256, 384 and 512 px, docs/performance.md). A tiled scale
passes every tile twice and recomputes its margins, about twice the untiled cost per megapixel
(docs/print.md). Each scale also pays about one iteration to load the pictures and compute its
targets. The two coefficients are measured at start-up (`calibrate`) and every finished stretch
of a run corrects them (`learn`), so the estimates follow the machine as it is today.
"""

from __future__ import annotations

import math
import statistics
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numpy as np
import torch
from PIL import Image

from nst_core.config import StyleConfig
from nst_core.images import fitted_size
from nst_core.memory import available_bytes, choose_tile
from nst_core.stylize import Step, stylize
from nst_core.tiling import margin_for

TILED_FACTOR = 2.0  # a tiled iteration against an untiled one of the same size (docs/print.md: 13.5-15.6 vs 6-8)
SETUP_ITERATIONS = 1.0  # loading, resizing and the targets of a scale, in iterations of that scale
LEARNING_RATE = 0.3  # how far one measured run moves the model towards what it saw
LEARN_FROM = 0.03  # megapixels (about 200x150): below, fixed costs dominate and a pace says little of larger ones


@dataclass(frozen=True)
class Scale:
    """One scale of a run as the cost model sees it."""

    height: int
    width: int
    steps: int
    tiled: bool = False

    @property
    def megapixels(self) -> float:
        return self.height * self.width / 1e6


def plan(config: StyleConfig, photo_size: tuple[int, int], arch: str = "vgg19",
         budget: int | None = None) -> list[Scale]:
    """The scales a run of `config` paints on a photo of `photo_size` (width, height), as the engine sizes them."""
    budget = budget or available_bytes(torch.device("cpu"))
    margin = margin_for(arch, config.layers)
    deepest = max(config.layers)  # "reluK_N" names sort by depth
    scales = []
    for side, steps in zip((*config.scales, config.size), (*config.scale_steps, config.steps)):
        width, height = fitted_size(photo_size, side, config.aspect)
        tiled = bool(config.tile or choose_tile(height, width, margin, arch, deepest, config.optimizer, budget))
        scales.append(Scale(height, width, steps, tiled))
    return scales


class CostModel:
    """Seconds per iteration on one device: `overhead + per_megapixel * megapixels` (twice that when tiled)."""

    def __init__(self, overhead: float, per_megapixel: float):
        self.overhead, self.per_megapixel = overhead, per_megapixel
        self._lock = threading.Lock()

    def iteration(self, scale: Scale) -> float:
        """Seconds one iteration of `scale` takes."""
        seconds = self.overhead + self.per_megapixel * scale.megapixels
        return seconds * (TILED_FACTOR if scale.tiled else 1.0)

    def run(self, scales: list[Scale]) -> float:
        """Seconds a whole run takes, its set-up included."""
        return sum((scale.steps + SETUP_ITERATIONS) * self.iteration(scale) for scale in scales)

    def learn(self, scale: Scale, seconds_per_iteration: float) -> None:
        """Move the model part of the way towards a measured pace (both coefficients in proportion)."""
        predicted = self.iteration(scale)
        if scale.megapixels < LEARN_FROM or not (math.isfinite(seconds_per_iteration) and seconds_per_iteration > 0):
            return
        factor = (seconds_per_iteration / predicted) ** LEARNING_RATE
        with self._lock:
            self.overhead *= factor
            self.per_megapixel *= factor

    @classmethod
    def calibrate(cls, backbone, device: torch.device, config: StyleConfig,
                  sides: tuple[int, int] = (128, 256), steps: int = 5,
                  paint: Callable[[Image.Image, StyleConfig], Iterator[Step]] | None = None) -> CostModel:
        """Measure the iteration time at two small sizes with `config`'s settings and fit the line through them.

        `paint(photo, config)` runs where the runs will (a cluster's worker); by default, `stylize` here."""
        photo = _calibration_photo()
        paint = paint or (lambda picture, probe: stylize(picture, picture, probe, backbone=backbone, device=device))
        points = []
        for side in sides:
            probe = config.replace(size=side, steps=steps, preview_every=1, preview_seconds=0.0, scales=(),
                                   scale_steps=(), coarse_sketch=False, aspect=0.0)
            times = [step.elapsed for step in paint(photo, probe)]
            pace = statistics.median(np.diff(times)) if len(times) > 1 else times[0]
            points.append((plan(probe, photo.size)[0].megapixels, pace))
        (small, fast), (large, slow) = points
        per_megapixel = max(1e-6, (slow - fast) / (large - small))
        return cls(overhead=max(0.0, fast - per_megapixel * small), per_megapixel=per_megapixel)


def _calibration_photo():
    """A smooth synthetic picture: the cost of an iteration does not depend on what is painted."""
    y, x = np.mgrid[0:256, 0:256] / 255.0
    array = np.stack([x, y, 0.5 + 0.5 * np.sin(6 * x * y)], -1)
    return Image.fromarray((array * 255).astype(np.uint8))


class Countdown:
    """The time left of one run as its steps come in: the rest of this scale at its measured pace, the
    scales after it by the model, corrected by how far the model was off here. Every scale's measured
    pace is handed to the model (`CostModel.learn`), so the next run's estimate is truer."""

    def __init__(self, model: CostModel, scales: list[Scale]):
        self.model, self.scales = model, scales
        self.ends = list(np.cumsum([scale.steps for scale in scales]))
        self._anchor: tuple[int, int, float] | None = None  # (scale, iteration, elapsed) of its first step seen
        self._pace: float | None = None  # measured seconds per iteration at the current scale
        self._ratio = 1.0  # measured pace / model's prediction, at the latest scale measured
        self.total = model.run(scales)  # the estimate before the run, in seconds

    def _scale_of(self, iteration: int) -> int:
        return next((index for index, end in enumerate(self.ends) if iteration <= end), len(self.ends) - 1)

    def update(self, step: Step) -> float:
        """Seconds left after `step`."""
        index = self._scale_of(step.iteration)
        if self._anchor is None or self._anchor[0] != index:
            if self._anchor is not None and self._pace:
                self.model.learn(self.scales[self._anchor[0]], self._pace)
            self._anchor, self._pace = (index, step.iteration, step.elapsed), None
        elif step.iteration > self._anchor[1]:
            self._pace = (step.elapsed - self._anchor[2]) / (step.iteration - self._anchor[1])
            self._ratio = self._pace / self.model.iteration(self.scales[index])
        if step.done:
            if self._pace:
                self.model.learn(self.scales[index], self._pace)
            return 0.0
        pace = self._pace or self._ratio * self.model.iteration(self.scales[index])
        later = sum((scale.steps + SETUP_ITERATIONS) * self.model.iteration(scale) for scale in self.scales[index + 1:])
        return (self.ends[index] - step.iteration) * pace + self._ratio * later


def in_words(seconds: float, about: bool = True) -> str:
    """A duration as a person says it: "about 40 s", "about 1 min 20 s", "about 2 h 5 min"."""
    seconds = max(0.0, seconds)
    if seconds < 60:
        words = f"{max(1, round(seconds / 5) * 5 if seconds > 10 else round(seconds))} s"
    elif seconds < 600:
        minutes, rest = divmod(round(seconds / 10) * 10, 60)
        words = f"{minutes} min" + (f" {rest} s" if rest else "")
    elif seconds < 3600:
        words = f"{round(seconds / 60)} min"
    else:
        hours, minutes = divmod(round(seconds / 60), 60)
        words = f"{hours} h" + (f" {minutes} min" if minutes else "")
    return f"about {words}" if about else words
