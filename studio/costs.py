"""How long a run takes on this server: a cost model measured on the device, and the time left of a run.

An iteration costs `overhead + per_megapixel * megapixels` seconds (measured linear on the CPU: 7.5,
6.8 and 7.4 s per megapixel-iteration at 256, 384 and 512 px, docs/performance.md). A tiled scale
passes every tile twice and recomputes its margins, about twice the untiled cost per megapixel
(docs/print.md). Each scale also pays about one iteration to load the pictures and compute its
targets. The two coefficients are measured at start-up (`calibrate`) and every finished stretch
of a run corrects them (`learn`), so the estimates follow the machine as it is today.
"""

from __future__ import annotations

import dataclasses
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
CALIBRATION_ROUNDS = 3  # short runs per size at start-up; the median run counts
PRIOR_ITERATIONS = 1.0  # at a scale just begun, the pace carried over from the scale before counts as this many
PACE_HALF_LIFE = 30.0  # iterations: a scale's older measurements fade, so a pace that changes (a neighbour) is followed


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
                  sides: tuple[int, int] = (128, 256), steps: int = 5, rounds: int = CALIBRATION_ROUNDS,
                  paint: Callable[[Image.Image, StyleConfig], Iterator[Step]] | None = None) -> CostModel:
        """Measure the iteration time at two small sizes with `config`'s settings and fit the line through them.

        The sizes take turns, `rounds` short runs each; a size's pace is the median over its runs of each
        run's median iteration, so a neighbour busy during one run (or one iteration) cannot move the model.
        `paint(photo, config)` runs where the runs will (a cluster's worker); by default, `stylize` here."""
        photo = calibration_photo()
        paint = paint or (lambda picture, probe: stylize(picture, picture, probe, backbone=backbone, device=device))
        probes = [config.replace(size=side, steps=steps, preview_every=1, preview_seconds=0.0, scales=(),
                                 scale_steps=(), coarse_sketch=False, aspect=0.0, init="content")
                  for side in sides]  # iterations only: a draft start's first frame is no iteration
        paces: list[list[float]] = [[] for _ in probes]
        for _ in range(rounds):
            for probe, measured in zip(probes, paces):
                times = [step.elapsed for step in paint(photo, probe)]
                measured.append(statistics.median(np.diff(times)) if len(times) > 1 else times[0])
        (small, fast), (large, slow) = [(plan(probe, photo.size)[0].megapixels, statistics.median(measured))
                                        for probe, measured in zip(probes, paces)]
        per_megapixel = max(1e-6, (slow - fast) / (large - small))
        return cls(overhead=max(0.0, fast - per_megapixel * small), per_megapixel=per_megapixel)


def calibration_photo():
    """A smooth synthetic picture: the cost of an iteration does not depend on what is painted."""
    y, x = np.mgrid[0:256, 0:256] / 255.0
    array = np.stack([x, y, 0.5 + 0.5 * np.sin(6 * x * y)], -1)
    return Image.fromarray((array * 255).astype(np.uint8))


class Countdown:
    """The time left of one run as its steps come in: the rest of this scale at its measured pace, the
    scales after it by the model, corrected by how far the model was off here. Every scale's measured
    pace is handed to the model (`CostModel.learn`), so the next run's estimate is truer."""

    def __init__(self, model: CostModel, scales: list[Scale], sketch: bool = False):
        # sketch: the scales before the last are a quick look; the scales are a copy, told their tiling as it happens
        self.model, self.scales, self.sketch = model, list(scales), sketch
        self.ends = list(np.cumsum([scale.steps for scale in scales]))
        # Each scale's seconds per iteration as the model said at the start: the ratios measured against them
        # stay true while `learn` moves the model during the run (measured against the moved model, a scale's
        # slowness would count twice for the scales after it).
        self._predicted = [model.iteration(scale) for scale in scales]
        self._index: int | None = None  # the scale of the latest step
        self._seen = (0, 0.0)  # (iteration, elapsed) of the latest step: the run starts at (0, 0)
        self._seconds = self._iterations = 0.0  # measured at the current scale, older observations fading
        self._ratio = 1.0  # measured pace / predicted pace, at the latest scale measured
        self.total = model.run(scales)  # the estimate before the run, in seconds

    def _scale_of(self, iteration: int) -> int:
        return next((index for index, end in enumerate(self.ends) if iteration <= end), len(self.ends) - 1)

    def update(self, step: Step) -> float:
        """Seconds left after `step`: the rest of its scale at the pace measured there, the scales after it
        as predicted, times the ratio of measured to predicted pace.

        The time since the step before is shared among the scales it spans in proportion to their predicted
        work, so a scale's set-up and first iterations count towards its pace from its first step on
        (measuring only from a scale's first step left its pace unknown there, and then took it from one
        short interval). Until a scale has run a few iterations, the pace carried over from the scale
        before weighs in too (PRIOR_ITERATIONS)."""
        index = self._scale_of(step.iteration)
        if self._index is not None and index != self._index:  # the scale before is over: the model learns its pace
            self.model.learn(self.scales[self._index], self._pace(self._index))
            self._seconds = self._iterations = 0.0
        self._index = index
        self._tiling(index, step.tile)
        begun = self.ends[index] - self.scales[index].steps
        seen, elapsed = self._seen
        work = self._work(step.iteration) - self._work(seen)
        here = min(work, self._work(step.iteration) - self._work(begun))  # the part of it at this scale
        if step.iteration > seen and work > 0:
            iterations = here / self._predicted[index]
            fade = 0.5 ** (iterations / PACE_HALF_LIFE)
            self._seconds = self._seconds * fade + (step.elapsed - elapsed) * here / work
            self._iterations = self._iterations * fade + iterations
            self._seen = step.iteration, step.elapsed
        pace = self._pace(index)
        self._ratio = pace / self._predicted[index]
        if step.done:
            self.model.learn(self.scales[index], pace)
            return 0.0
        later = sum((scale.steps + SETUP_ITERATIONS) * predicted
                    for scale, predicted in zip(self.scales[index + 1:], self._predicted[index + 1:]))
        return (self.ends[index] - step.iteration) * pace + self._ratio * later

    def _pace(self, index: int) -> float:
        """Seconds per iteration at scale `index`: what was measured there, with the pace carried over from
        the scale before counted as PRIOR_ITERATIONS iterations of it."""
        prior = self._ratio * self._predicted[index]
        return (self._seconds + PRIOR_ITERATIONS * prior) / (self._iterations + PRIOR_ITERATIONS)

    def _work(self, iteration: int) -> float:
        """Predicted seconds from the start of the run to the end of `iteration`, the set-ups of its scale and
        those before included."""
        if iteration <= 0:
            return 0.0
        index = self._scale_of(iteration)
        begun = self.ends[index] - self.scales[index].steps
        before = sum((scale.steps + SETUP_ITERATIONS) * predicted
                     for scale, predicted in zip(self.scales[:index], self._predicted[:index]))
        return before + (SETUP_ITERATIONS + iteration - begun) * self._predicted[index]

    def _tiling(self, index: int, tile: int) -> None:
        """Take the engine's word on whether scale `index` is tiled (the plan guessed from the memory free
        before the run); a scale tiled here means the larger ones after it are too."""
        tiled, size = bool(tile), self.scales[index].megapixels
        for later in range(index, len(self.scales)):
            scale = self.scales[later]
            if scale.tiled != tiled and (later == index or (tiled and scale.megapixels >= size)):
                self.scales[later] = dataclasses.replace(scale, tiled=tiled)
                self._predicted[later] *= TILED_FACTOR if tiled else 1 / TILED_FACTOR

    def percent(self, step: Step) -> int:
        """How much of the run's work is done after `step`, in per cent: the cost model's seconds, so a
        print's last scale weighs what it costs, not its share of the steps."""
        index = self._scale_of(step.iteration)
        costs = [(scale.steps + SETUP_ITERATIONS) * self.model.iteration(scale) for scale in self.scales]
        begun = self.ends[index] - self.scales[index].steps
        done = sum(costs[:index]) + (SETUP_ITERATIONS + step.iteration - begun) * self.model.iteration(self.scales[index])
        return min(100, int(100 * done / sum(costs))) if step.iteration else 0

    def where(self, step: Step) -> str:
        """The step in words: of the size asked for ("step 40 of 150"), after a half-size quick look
        ("quick look"), or at a print's scale ("step 5 of 20 at 2048 px")."""
        index = self._scale_of(step.iteration)
        scale = self.scales[index]
        begun = self.ends[index] - scale.steps
        if len(self.scales) == 1 or (self.sketch and index == len(self.scales) - 1):
            return f"step {step.iteration - begun} of {scale.steps}"
        if self.sketch:
            return "a quick look at half size first"
        return f"step {step.iteration - begun} of {scale.steps} at {max(scale.width, scale.height)} px, " \
               f"size {index + 1} of {len(self.scales)}"


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
