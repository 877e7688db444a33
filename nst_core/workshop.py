"""Workshop mode: several people's runs of one size and one set of settings as a single batched optimisation.

A GPU spends about as long on a batch of four pictures as on one, so a room sharing one server gets
more pictures per minute the more of them paint at once. The network sees the whole batch; every
picture keeps its own optimiser, targets and divergence guard, so each result is the one its own
run would have painted (tests/test_workshop.py checks that against `stylize`).

This is the engine's batched loop; the server's scheduler that gathers jobs into batches is
`studio/workshop.py`.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass, field
from typing import Iterator, Sequence

import torch

from .backbone import Backbone, FeatureNet
from .config import StyleConfig
from .devices import resolve_device
from .fastpaths import TunedNet
from .images import ImageLike, load_image
from .memory import GIB, available_bytes, lbfgs_history
from .stylize import (MAX_RECOVERIES, RECOVERY_LR_FACTOR, DivergenceError, Losses, Step, Targets, compute_targets,
                      divergence_error, diverged, initial_image, make_optimizer, objective_terms, painting_inputs,
                      recovery_note, shown)


@dataclass
class _Picture:
    """One person's picture in a batch: its pixels, optimiser and divergence bookkeeping."""

    image: torch.Tensor  # (1, 3, H, W) leaf being optimised
    optimizer: torch.optim.Optimizer
    lr: float
    last_good: torch.Tensor
    good_terms: dict | None = None
    best_total: float = math.inf
    start_total: float | None = None
    recoveries: int = 0
    note: str = ""
    error: DivergenceError | None = None  # set when this picture gave up; the others go on
    terms: dict = field(default_factory=dict)


Report = Step | DivergenceError | None


def stylize_batch(
    contents: Sequence[ImageLike],
    styles: Sequence[ImageLike],
    config: StyleConfig = StyleConfig(),
    *,
    backbone: Backbone | FeatureNet | None = None,
    device: torch.device | str | None = "auto",
) -> Iterator[list[Report]]:
    """Paint contents[i] in the manner of styles[i] for every i at once; yield one report per picture per preview.

    The photos must come out the same shape at `config.size` (`Workshop` groups them so). A report is
    the picture's Step; None while a picture that diverged before its first good preview starts over;
    a DivergenceError, from then on, for a picture that kept diverging (the rest carry on).
    """
    if len(contents) != len(styles) or not contents:
        raise ValueError(f"give one painting per photo, got {len(contents)} photos and {len(styles)} paintings")
    if config.scales or config.tile:
        raise ValueError("a workshop batch paints at one size, untiled: leave scales and tile unset")
    started = time.perf_counter()
    device = resolve_device(device)
    if backbone is None:
        from .backbone import load_backbone

        backbone = load_backbone()
    net = TunedNet((backbone.net if isinstance(backbone, Backbone) else backbone).to(device), config, device)
    photos = [load_image(content, config.size, device, aspect=config.aspect) for content in contents]
    if len({photo.shape for photo in photos}) > 1:
        raise ValueError("the photos of a batch must have one shape: " + ", ".join(
            f"{photo.shape[-1]}x{photo.shape[-2]}" for photo in photos))
    height, width = photos[0].shape[-2:]
    starts, all_targets = [], []
    for photo, style in zip(photos, styles):
        content_image, style_images = painting_inputs(photo, [style], config, device)
        all_targets.append(compute_targets(net, content_image, style_images, config))
        starts.append(initial_image(content_image, config).clamp(0, 1))
    targets = Targets(torch.cat([t.content for t in all_targets]),
                      {name: torch.cat([t.grams[name] for t in all_targets]) for name in config.style_layers})
    del all_targets

    budget = int(config.memory_gb * GIB) or available_bytes(device)
    history = lbfgs_history(height, width, budget // len(photos))
    pictures = []
    for start in starts:
        image = start.requires_grad_(True)
        pictures.append(_Picture(image, make_optimizer(image, config, config.lr, history), config.lr,
                                 image.detach().clone()))

    try:
        for iteration in range(1, config.steps + 1):
            _iterate(net, pictures, targets, config)
            if iteration % config.preview_every and iteration != config.steps:
                continue
            reports = []
            for index, picture in enumerate(pictures):
                if picture.error is None:
                    _check(picture, iteration, config, history)
                if picture.error is not None or picture.good_terms is None:
                    reports.append(picture.error)  # None: nothing to show yet (it went back to its start)
                    continue
                reports.append(Step(
                    iteration=iteration, total=config.steps, elapsed=time.perf_counter() - started,
                    losses=Losses(**picture.good_terms),
                    image=shown(picture.last_good, photos[index], config).squeeze(0).to("cpu", copy=True),
                    note=picture.note,
                ))
                picture.note = ""
            yield reports
            if all(picture.error is not None for picture in pictures):
                return
    finally:
        del pictures, targets, photos


def _iterate(net: TunedNet, pictures: list[_Picture], targets: Targets, config: StyleConfig) -> None:
    """One iteration for every picture still painting: the network once for all, then each optimiser's step."""
    live = [index for index, picture in enumerate(pictures) if picture.error is None]
    for index in live:
        pictures[index].image.grad = None
    batch = torch.cat([pictures[index].image for index in live])
    own = Targets(targets.content[live], {name: gram[live] for name, gram in targets.grams.items()})
    terms = objective_terms(net, batch, own, config)
    terms["total"].sum().backward()  # pictures are independent: each gets the gradient of its own total
    for position, index in enumerate(live):
        picture = pictures[index]
        picture.terms = {name: float(value[position].detach()) for name, value in terms.items()}
        if picture.start_total is None:
            picture.start_total = picture.terms["total"]
        total = terms["total"][position].detach()
        picture.optimizer.step(lambda total=total: total)  # the gradient is in place already
        with torch.no_grad():
            picture.image.clamp_(0, 1)


def _check(picture: _Picture, iteration: int, config: StyleConfig, history: int) -> None:
    """At a preview: keep the picture as the last good one, or go back to it with a smaller step."""
    total = picture.terms["total"]
    picture.best_total = min(picture.best_total, picture.start_total)
    if not diverged(total, picture.best_total, picture.image):
        picture.best_total = min(picture.best_total, total)
        picture.last_good, picture.good_terms = picture.image.detach().clone(), picture.terms
        return
    picture.recoveries += 1
    if picture.recoveries > MAX_RECOVERIES or picture.good_terms is None and iteration == config.steps:
        picture.error = divergence_error(picture.recoveries, picture.lr, config)
        return
    picture.lr *= RECOVERY_LR_FACTOR
    with torch.no_grad():
        picture.image.copy_(picture.last_good)
    picture.optimizer = make_optimizer(picture.image, config, picture.lr, history)
    picture.note = recovery_note(iteration, picture.lr)
