"""The optimisation loop: a generator of immutable steps that every front end consumes."""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Iterator, Sequence

import torch
from PIL import Image

from . import allocator, colour, losses
from .backbone import Backbone, FeatureNet
from .config import StyleConfig
from .devices import resolve_device
from .fastpaths import STYLE_CACHE, TunedNet
from .images import ImageLike, fitted_size, load_image, open_image, to_pil
from .memory import GIB, MAX_HISTORY, available_bytes, choose_tile, lbfgs_history
from .tiling import Tile, margin_for, plan_tiles, tiled_backward, tiled_features, tiled_grams

MAX_RECOVERIES = 3  # after this many divergences the run stops with an error
RECOVERY_LR_FACTOR = 0.1  # each recovery restarts from the last good image with this much smaller a step
# A preview whose loss is this many times the best seen (the starting picture's included) has diverged:
# a step so large that the picture turned to noise. Healthy runs stay under 1.1 (docs/presets.md).
DIVERGENCE_RATIO = 2.0


class DivergenceError(RuntimeError):
    """The optimisation kept producing non-finite losses even with smaller steps."""


@dataclass(frozen=True)
class Losses:
    """The objective's terms at one iteration, weighted as they enter the total."""

    content: float
    style: float
    tv: float
    total: float


@dataclass(frozen=True)
class Step:
    """One report from a run: where it is, what it costs, and the picture so far (a CPU copy)."""

    iteration: int
    total: int
    elapsed: float  # seconds since the run started, set-up included
    losses: Losses
    image: torch.Tensor  # (3, H, W) float32 in [0, 1], on the CPU, owned by this step
    note: str = ""  # something the user should know, e.g. that the run recovered from divergence
    tile: int = 0  # the tile side used at this scale, 0 when the picture was optimised whole

    @property
    def done(self) -> bool:
        return self.iteration >= self.total

    def to_pil(self):
        return to_pil(self.image)


@dataclass(frozen=True)
class Targets:
    """What the picture is pulled towards: the content image's activations and the style's Gram matrices."""

    content: torch.Tensor  # (1, C, H, W) at config.content_layer
    grams: dict[str, torch.Tensor]  # layer -> (1, C, C)


def compute_targets(net: FeatureNet | TunedNet, content: torch.Tensor,
                    styles: torch.Tensor | Sequence[torch.Tensor],
                    config: StyleConfig, content_tiles: list[Tile] | None = None,
                    style_tiles: Sequence[list[Tile] | None] = ()) -> Targets:
    """Activations of the content image and Gram matrices of the style images, without gradients.

    Several styles blend as the weighted mean of their Gram matrices (config.style_blend). With tiles,
    everything is assembled piece by piece, so print-size pictures never pass the network whole.
    A run's TunedNet with `config.cache_targets` takes each style's Gram matrices from STYLE_CACHE.
    """
    styles = [styles] if isinstance(styles, torch.Tensor) else list(styles)
    weights = _blend_weights(config, len(styles))
    content_features = tiled_features(net, content, config.content_layer, content_tiles or _whole(content),
                                      config.pooling)
    grams = {}
    for style, weight, tiles in zip(styles, weights, [*style_tiles, *[None] * len(styles)]):
        def compute(style=style, tiles=tiles) -> dict[str, torch.Tensor]:
            return tiled_grams(net, style, config.style_layers, tiles or _whole(style), config.pooling)

        cached = config.cache_targets and isinstance(net, TunedNet)
        for name, gram in (STYLE_CACHE.grams(net, style, config, compute) if cached else compute()).items():
            grams[name] = grams.get(name, 0) + weight * gram
    return Targets(content_features, grams)


def objective(net: FeatureNet | TunedNet, image: torch.Tensor, targets: Targets,
              config: StyleConfig) -> dict[str, torch.Tensor]:
    """The weighted terms alpha*content + beta*style + tv, and their total, as scalar tensors."""
    return {name: value.sum() for name, value in objective_terms(net, image, targets, config).items()}


def objective_terms(net: FeatureNet | TunedNet, image: torch.Tensor, targets: Targets,
                    config: StyleConfig) -> dict[str, torch.Tensor]:
    """The weighted terms and their total for each picture of a batch against its own targets: (B,) each."""
    features = net(image, config.layers, config.pooling)
    grams = {name: losses.gram(features[name]) for name in config.style_layers}
    terms = {
        "content": config.content_weight * losses.content_loss(features[config.content_layer], targets.content),
        "style": config.style_weight * losses.STYLE_UNIT * losses.style_loss(grams, targets.grams, config.layer_weights),
        "tv": config.tv_weight * losses.tv_loss(image),
    }
    terms["total"] = terms["content"] + terms["style"] + terms["tv"]
    return terms


def initial_image(content: torch.Tensor, config: StyleConfig) -> torch.Tensor:
    """The starting picture: the content image, or uniform noise drawn from `config.seed`."""
    if config.init == "content":
        return content.detach().clone()
    generator = torch.Generator().manual_seed(config.seed)  # on the CPU, so every device draws the same noise
    return torch.rand(content.shape, generator=generator).to(content.device)


def make_optimizer(image: torch.Tensor, config: StyleConfig, lr: float,
                   history: int = MAX_HISTORY) -> torch.optim.Optimizer:
    if config.optimizer == "adam":
        return torch.optim.Adam([image], lr=lr)
    # One iteration per step() call so the loop can preview and stop between any two; the history of
    # curvature pairs lives in the optimiser's state and carries over. Tolerances are off: the loop
    # decides when to stop.
    return torch.optim.LBFGS([image], lr=lr, max_iter=1, history_size=history,
                             tolerance_grad=0.0, tolerance_change=0.0)


def stylize(
    content: ImageLike,
    style: ImageLike | Sequence[ImageLike],
    config: StyleConfig = StyleConfig(),
    *,
    backbone: Backbone | FeatureNet | None = None,
    device: torch.device | str | None = "auto",
    start: ImageLike | None = None,
) -> Iterator[Step]:
    """Paint `content` in the manner of `style`, yielding a Step every `config.preview_every` iterations
    (and every `config.preview_seconds`, if set).

    `style` may be a list of images, blended by `config.style_blend`. With `config.scales` the picture
    is painted small first, then upsampled and refined at each larger size (coarse to fine), or, with
    `config.coarse_sketch`, the small sizes are only a quick first look, shown at full size; pictures
    too large for memory are optimised in tiles, exactly. `start`, a picture such as an approved
    design, is where the first scale starts instead of `config.init` (enlarged and cropped to fit).
    The last step has `step.done` true and carries the result. Stopping the iteration (closing the
    generator) ends the run and frees its tensors.
    """
    started = time.perf_counter()
    device = resolve_device(device)
    if backbone is None:
        from .backbone import load_backbone

        backbone = load_backbone()
    net = TunedNet((backbone.net if isinstance(backbone, Backbone) else backbone).to(device), config, device)
    budget = int(config.memory_gb * GIB) or available_bytes(device)

    styles = list(style) if isinstance(style, (list, tuple)) else [style]
    _blend_weights(config, len(styles))  # a mismatch is an error before any work
    # Decoded once here; each scale only resizes them.
    content, styles = open_image(content), [open_image(image) for image in styles]
    picture = open_image(start) if start is not None else None
    cadence = Cadence(config)
    hold = config.hold_memory and device.type == "cpu"
    if hold:
        allocator.hold()
    level = None
    full_shape = fitted_size(content.size, config.size, config.aspect)[::-1]  # (H, W) of the last scale
    done = 0
    try:
        for size, steps in zip((*config.scales, config.size), (*config.scale_steps, config.steps)):
            sketching = config.coarse_sketch and size != config.size
            level = _optimise(net, content, styles, config, size, steps, picture, budget, device, cadence)
            for iteration, terms, picture, view, note, tile in level:
                if sketching:  # a sketch's frame is shown at the final size
                    view = torch.nn.functional.interpolate(view, size=full_shape, mode="bicubic", align_corners=False)
                yield Step(
                    iteration=done + iteration,
                    total=config.total_steps,
                    elapsed=time.perf_counter() - started,
                    losses=Losses(**terms),
                    image=view.squeeze(0).clamp(0, 1).to("cpu", copy=True),
                    note=note,
                    tile=tile,
                )
            done += steps
    finally:
        if hold:
            del level, picture  # the last scale's tensors go before the heap is trimmed
            allocator.release()


class Cadence:
    """When a run shows a frame: every `preview_every` iterations, and before `preview_seconds` have passed
    since the last one (if set), judging by what the last iteration took."""

    def __init__(self, config: StyleConfig):
        self.every, self.seconds = config.preview_every, config.preview_seconds
        self.shown = self.ticked = time.perf_counter()

    def due(self, iteration: int, last: bool) -> bool:
        now = time.perf_counter()
        iteration_time, self.ticked = now - self.ticked, now
        due = last or iteration % self.every == 0
        if self.seconds and not due:
            due = now - self.shown + iteration_time >= self.seconds  # one more would be late
        if due:
            self.shown = now
        return due


def _optimise(net: TunedNet, content: Image.Image, styles: list[Image.Image], config: StyleConfig, size: int,
              steps: int, previous: torch.Tensor | Image.Image | None, budget: int, device: torch.device,
              cadence: Cadence):
    """One scale of the run: yields (iteration, terms, last good picture, picture to show, note, tile).

    `previous` is where it starts: the scale before (a tensor) or a given picture (cropped to this
    scale's shape), enlarged; None starts from `config.init`."""
    photo = load_image(content, size, device, aspect=config.aspect)
    height, width = photo.shape[-2:]
    content_image, style_images = painting_inputs(photo, styles, config, device)

    margin = margin_for(net.arch, config.layers)
    deepest = max(config.layers, key=lambda name: (int(name[4]), int(name[6])))

    def tiles_for(image: torch.Tensor, optimizer: str) -> tuple[int, list[Tile] | None]:
        side = config.tile or choose_tile(*image.shape[-2:], margin, net.arch, deepest, optimizer, budget)
        return side, (plan_tiles(*image.shape[-2:], side, margin) if side else None)

    tile, tiles = tiles_for(content_image, config.optimizer)
    style_tiles = [tiles_for(style_image, "adam")[1] for style_image in style_images]
    targets = compute_targets(net, content_image, style_images, config, tiles, style_tiles)
    del style_images

    if previous is None:
        start = initial_image(content_image, config)
    else:  # coarse to fine: the smaller picture, enlarged, is where this scale starts
        if isinstance(previous, Image.Image):
            previous = load_image(previous, max(height, width), device, aspect=width / height)
        start = torch.nn.functional.interpolate(previous, size=(height, width), mode="bicubic", align_corners=False)
    del content_image
    image = start.clamp(0, 1).requires_grad_(True)

    def evaluate() -> dict[str, torch.Tensor]:
        if tiles:
            return tiled_backward(net, image, targets.content, targets.grams, config, tiles)
        terms = objective(net, image, targets, config)
        terms["total"].backward()
        return {name: value.detach() for name, value in terms.items()}

    history = lbfgs_history(height, width, budget)
    lr = config.lr
    optimizer = make_optimizer(image, config, lr, history)
    last_good, good_terms = image.detach().clone(), None
    best_total = math.inf
    recoveries = 0
    note = ""
    latest_terms, start_total = {}, None

    def closure() -> torch.Tensor:
        nonlocal latest_terms, start_total
        optimizer.zero_grad(set_to_none=True)
        latest_terms = evaluate()
        if start_total is None:  # the first evaluation is of the starting picture
            start_total = latest_terms["total"]
        return latest_terms["total"]

    try:
        for iteration in range(1, steps + 1):
            optimizer.step(closure)
            with torch.no_grad():
                image.clamp_(0, 1)  # pixels stay in the printable range
            if not cadence.due(iteration, last=iteration == steps):
                continue
            terms = {name: float(value) for name, value in latest_terms.items()}
            best_total = min(best_total, float(start_total))
            if diverged(terms["total"], best_total, image):
                recoveries += 1
                if recoveries > MAX_RECOVERIES or (iteration == steps and good_terms is None):
                    raise divergence_error(recoveries, lr, config)
                lr *= RECOVERY_LR_FACTOR
                with torch.no_grad():
                    image.copy_(last_good)
                optimizer = make_optimizer(image, config, lr, history)
                note = recovery_note(iteration, lr)
                if iteration < steps:
                    continue
                terms = good_terms  # the scale ends here: report the last good picture
            else:
                best_total = min(best_total, terms["total"])
                last_good, good_terms = image.detach().clone(), terms
            yield iteration, terms, last_good, shown(last_good, photo, config), note, tile
            note = ""
    finally:
        # Drop the graph and optimiser state now, not when the generator object is collected.
        del optimizer, image, latest_terms, targets, photo


def painting_inputs(photo: torch.Tensor, styles: Sequence[ImageLike], config: StyleConfig,
                    device: torch.device) -> tuple[torch.Tensor, list[torch.Tensor]]:
    """The picture the content loss compares with and the style images, at the photo's scale, as the
    colour mode needs them."""
    style_side = round(max(photo.shape[-2:]) * config.style_scale)  # strokes keep their size relative to the picture
    style_images = [prepare_style(load_image(style, style_side, device), photo, config) for style in styles]
    return (colour.luminance_image(photo) if config.colour == "luminance" else photo), style_images


def shown(picture: torch.Tensor, photo: torch.Tensor, config: StyleConfig) -> torch.Tensor:
    """What the user sees: with a colour mode, the photo's colours put back."""
    return colour.luminance_only(picture, photo) if config.colour in ("luminance", "keep") else picture


def diverged(total: float, best_total: float, image: torch.Tensor) -> bool:
    """Non-finite, or blown past the best loss so far (a step so large that the picture turns to noise)."""
    if not math.isfinite(total) or not bool(torch.isfinite(image).all()):
        return True
    return total > DIVERGENCE_RATIO * best_total


def divergence_error(recoveries: int, lr: float, config: StyleConfig) -> DivergenceError:
    return DivergenceError(f"the optimisation diverged {recoveries} times even at lr {lr:g}: "
                           f"lower the learning rate (started at {config.lr:g}) or the style weight")


def recovery_note(iteration: int, lr: float) -> str:
    return f"the loss diverged at iteration {iteration}: back to the last good picture with lr {lr:g}"


def prepare_style(style: torch.Tensor, photo: torch.Tensor, config: StyleConfig) -> torch.Tensor:
    """The style image as the colour mode needs it (Gatys et al. 2017)."""
    if config.colour == "histogram":
        return colour.match_histogram(style, photo)
    if config.colour == "luminance":
        return colour.match_luminance(style, photo)
    return style


def _blend_weights(config: StyleConfig, count: int) -> list[float]:
    weights = config.style_blend or (1.0,) * count
    if len(weights) != count:
        raise ValueError(f"style_blend has {len(weights)} weights for {count} style images: give one per style")
    total = sum(weights)
    return [weight / total for weight in weights]


def _whole(image: torch.Tensor) -> list[Tile]:
    """A single tile covering the picture."""
    height, width = image.shape[-2:]
    return [Tile((0, height, 0, width), (0, height, 0, width))]
