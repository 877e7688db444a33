"""The optimisation loop: a generator of immutable steps that every front end consumes."""

from __future__ import annotations

import math
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import torch
from PIL import Image

from . import allocator, colour, losses
from .backbone import Backbone, FeatureNet
from .config import StyleConfig
from .devices import resolve_device
from .fastpaths import STYLE_CACHE, TunedNet
from .graphs import Replay
from .images import (MIN_SIDE, ImageError, ImageLike, check_paintable, fitted_size, load_image, open_image,
                     source_name, to_pil)
from .memory import CLAIMS, GIB, choose_tile, kept_bytes, lbfgs_history, run_bytes
from .optim import make_optimizer
from .regions import Guide, Regions
from .tiling import Tile, layer_stride, margin_for, plan_tiles, tiled_backward, tiled_features, tiled_grams

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
    alpha: torch.Tensor | None = None  # (1, H, W) in [0, 1]: 0 where regions leave the design out; None: opaque

    @property
    def done(self) -> bool:
        return self.iteration >= self.total

    def to_pil(self):
        """The picture as an 8-bit PIL image: RGBA when regions leave some of it out."""
        return to_pil(self.image, self.alpha)


@dataclass(frozen=True)
class Targets:
    """What the picture is pulled towards: the content image's activations and the style's Gram matrices."""

    content: torch.Tensor  # (1, C, H, W) at config.content_layer
    grams: dict[str, torch.Tensor]  # layer -> (1, C, C), or with regions each region's painting's (1, R, C, C)
    guides: dict[str, torch.Tensor] | None = None  # with regions: style layer -> the regions' guidance (1, R, h, w)
    tone: torch.Tensor | None = None  # (1, 1, H, W) the content image's broad brightness, when config.tone_weight


def compute_targets(net: FeatureNet | TunedNet, content: torch.Tensor,
                    styles: torch.Tensor | Sequence[torch.Tensor],
                    config: StyleConfig, content_tiles: list[Tile] | None = None,
                    style_tiles: Sequence[list[Tile] | None] = (), guide: Guide | None = None) -> Targets:
    """Activations of the content image and Gram matrices of the style images, without gradients.

    Several styles blend as the weighted mean of their Gram matrices (config.style_blend). With a `guide`
    of regions, its painted regions each get their own targets: one region the blend, two regions a
    painting each (nst_core/regions.py). With tiles,
    everything is assembled piece by piece, so print-size pictures never pass the network whole.
    A run's TunedNet with `config.cache_targets` takes each style's Gram matrices from STYLE_CACHE.
    """
    styles = [styles] if isinstance(styles, torch.Tensor) else list(styles)
    content_features = tiled_features(net, content, config.content_layer, content_tiles or _whole(content),
                                      config.pooling)
    style_tiles = [*style_tiles, *[None] * len(styles)]
    tone = colour.broad_brightness(content) if config.tone_weight else None
    if guide is None:
        return Targets(content_features, _blended_grams(net, styles, style_tiles, config), tone=tone)
    if guide.styles.shape[1] == 1:
        regions = [_blended_grams(net, styles, style_tiles, config)]
    elif len(styles) == 2:
        regions = [_blended_grams(net, [style], [tiles], config.replace(style_blend=()))
                   for style, tiles in zip(styles, style_tiles)]
    else:
        raise ValueError("the regions use red, the second painting, so give two paintings (one for white, one for "
                         f"red), got {len(styles)}")
    grams = {name: torch.stack([region[name] for region in regions], 1) for name in regions[0]}  # (1, R, C, C)
    guides = {name: guide.at_layer(layer_stride(name)) for name in config.style_layers}
    return Targets(content_features, grams, guides, tone)


def _blended_grams(net: FeatureNet | TunedNet, styles: list[torch.Tensor], tiles: list[list[Tile] | None],
                   config: StyleConfig) -> dict[str, torch.Tensor]:
    """The styles' Gram matrices blended by config.style_blend: layer -> (1, C, C)."""
    grams = {}
    for style, weight, own in zip(styles, _blend_weights(config, len(styles)), tiles):
        def compute(style=style, own=own) -> dict[str, torch.Tensor]:
            return tiled_grams(net, style, config.style_layers, own or _whole(style), config.pooling)

        cached = config.cache_targets and isinstance(net, TunedNet)
        for name, gram in (STYLE_CACHE.grams(net, style, config, compute) if cached else compute()).items():
            grams[name] = grams.get(name, 0) + weight * gram
    return grams


def objective(net: FeatureNet | TunedNet, image: torch.Tensor, targets: Targets,
              config: StyleConfig) -> dict[str, torch.Tensor]:
    """The weighted terms alpha*content + beta*style + tv, and their total, as scalar tensors."""
    return {name: value.sum() for name, value in objective_terms(net, image, targets, config).items()}


def objective_terms(net: FeatureNet | TunedNet, image: torch.Tensor, targets: Targets,
                    config: StyleConfig) -> dict[str, torch.Tensor]:
    """The weighted terms and their total for each picture of a batch against its own targets: (B,) each."""
    features = net(image, config.layers, config.pooling)
    if targets.guides is None:
        grams = {name: losses.gram(features[name]) for name in config.style_layers}
    else:
        grams = {name: losses.guided_gram(features[name], targets.guides[name]) for name in config.style_layers}
    content = losses.content_loss(features[config.content_layer], targets.content)
    if targets.tone is not None:
        content = content + config.tone_weight * losses.tone_loss(image, targets.tone)
    terms = {
        "content": config.content_weight * content,
        "style": config.style_weight * losses.STYLE_UNIT * losses.style_loss(grams, targets.grams, config.layer_weights),
        "tv": config.tv_weight * losses.tv_loss(image),
    }
    terms["total"] = terms["content"] + terms["style"] + terms["tv"]
    return terms


def draft_starts(contents: list[Image.Image], styles: list[list[Image.Image]], config: StyleConfig,
                 regions: Sequence[Regions | None] = ()) -> tuple[list, list[torch.Tensor], str]:
    """Where a run with `init="draft"` starts: each photo drafted in its painting's manner (nst_core/draft.py),
    composited by its regions, the frames a person sees before the first iteration, and a note when the
    draft network is unavailable (then the run starts from the photos, shown as they are)."""
    from .draft import DraftUnavailable, draft

    try:
        frames = [draft(content, own, config) if own_regions is None else _drafted_regions(content, own, own_regions, config)
                  for content, own, own_regions in zip(contents, styles, [*regions, *[None] * len(contents)])]
    except ImageError:
        raise  # a picture the loop cannot paint either: its message says why
    except Exception as error:  # noqa: BLE001 - no network, or a draft it cannot make: the photo it is
        if not isinstance(error, DraftUnavailable):
            error = f"the draft failed: {error}"
        photos = [load_image(content, config.size, aspect=config.aspect)[0] for content in contents]
        return [None] * len(contents), photos, f"no draft ({error}): painting from the photo"
    # The loop paints a luminance picture in "luminance" mode; the frames carry the photo's colours already.
    starts = [colour.luminance_image(frame) if config.colour == "luminance" else frame for frame in frames]
    return starts, frames, ""


def _drafted_regions(content: Image.Image, styles: list[Image.Image], regions: Regions,
                     config: StyleConfig) -> torch.Tensor:
    """A draft laid out by regions: each painted region drafted in its own painting, the photo where kept."""
    from .draft import draft

    groups = [styles] if regions.painted == 1 else [[style] for style in styles[:2]]
    drafts = torch.stack([draft(content, group, config if len(groups) == 1 else config.replace(style_blend=()))
                          for group in groups])  # (R, 3, H, W)
    guide = regions.at(*drafts.shape[-2:], config.aspect)
    shares = guide.styles[0, :, None]  # (R, 1, H, W)
    painted = (shares * drafts).sum(0) / shares.sum(0).clamp_min(1e-6)
    painted = torch.where(shares.sum(0) > 1e-6, painted, drafts[0])  # under the photo or left out: any will do
    photo = load_image(content, max(drafts.shape[-2:]), aspect=config.aspect)
    photo = torch.nn.functional.interpolate(photo, size=drafts.shape[-2:], mode="bilinear", align_corners=False)
    return guide.composite(painted[None], photo)[0]


def initial_image(content: torch.Tensor, config: StyleConfig) -> torch.Tensor:
    """The starting picture: the content image, or uniform noise drawn from `config.seed` (a draft comes as
    the first scale's start picture, `draft_starts`; without one the photo)."""
    if config.init in ("content", "draft"):
        return content.detach().clone()
    generator = torch.Generator().manual_seed(config.seed)  # on the CPU, so every device draws the same noise
    return torch.rand(content.shape, generator=generator).to(content.device)


Report = Step | DivergenceError | None  # one picture's report at a preview of a batch


def stylize(
    content: ImageLike,
    style: ImageLike | Sequence[ImageLike],
    config: StyleConfig = StyleConfig(),
    *,
    backbone: Backbone | FeatureNet | None = None,
    device: torch.device | str | None = "auto",
    start: ImageLike | None = None,
    regions: ImageLike | None = None,
) -> Iterator[Step]:
    """Paint `content` in the manner of `style`, yielding a Step every `config.preview_every` iterations
    (and every `config.preview_seconds`, if set).

    `style` may be a list of images, blended by `config.style_blend`. With `config.scales` the picture
    is painted small first, then upsampled and refined at each larger size (coarse to fine), or, with
    `config.coarse_sketch`, the small sizes are only a quick first look, shown at full size; pictures
    too large for memory are optimised in tiles, exactly. `start`, a picture such as an approved
    design, is where the first scale starts instead of `config.init` (enlarged and cropped to fit).
    `regions`, an image in the colour code of nst_core/regions.py, says where each painting goes, where
    the photo is kept and what is left out (the steps then carry an alpha). The last step has `step.done` true and carries the result. Stopping the iteration (closing the
    generator) ends the run and frees its tensors. It is a batch of one (`stylize_batch`).
    """
    for (report,) in stylize_batch([content], [style], config, backbone=backbone, device=device, starts=[start],
                                   regions=[regions]):
        if isinstance(report, DivergenceError):
            raise report
        if report is not None:
            yield report


def stylize_batch(
    contents: Sequence[ImageLike],
    styles: Sequence[ImageLike | Sequence[ImageLike]],
    config: StyleConfig = StyleConfig(),
    *,
    backbone: Backbone | FeatureNet | None = None,
    device: torch.device | str | None = "auto",
    starts: Sequence[ImageLike | None] | None = None,
    regions: Sequence[ImageLike | None] | None = None,
) -> Iterator[list[Report]]:
    """Paint contents[i] in the manner of styles[i] for every i at once, as `stylize` paints each alone;
    yield one report per picture at each preview.

    The network sees the whole batch; each picture keeps its own targets, optimiser state, step size
    and divergence guard. The photos must come out one shape at each scale (the workshop groups them
    so). A report is the picture's Step; None while a picture has no finite objective yet (not even
    its starting picture's); a DivergenceError, from then on, for a picture that kept diverging (the
    rest carry on).
    """
    if len(contents) != len(styles) or not contents:
        raise ValueError(f"give one painting per photo, got {len(contents)} photos and {len(styles)} paintings")
    started = time.perf_counter()
    device = resolve_device(device)
    if backbone is None:
        from .backbone import load_backbone

        backbone = load_backbone()
    net = TunedNet((backbone.net if isinstance(backbone, Backbone) else backbone).to(device), config, device)
    budget = int(config.memory_gb * GIB)  # 0: what the device has left when each scale starts

    styles = [list(style) if isinstance(style, (list, tuple)) else [style] for style in styles]
    for own in styles:
        _blend_weights(config, len(own))  # a mismatch is an error before any work
    # Decoded once here; each scale only resizes them.
    decoded = [check_paintable(open_image(content), source_name(content, "the photo")) for content in contents]
    guides = [Regions.read(own, content, photo.size) for own, content, photo in
              zip(regions or [None] * len(contents), contents, decoded)]  # with the photo's own transparency
    if any(guides):  # a batch's pictures are painted alike: without regions of its own, a picture is painted whole
        guides = [own or Regions.everywhere(photo.size) for own, photo in zip(guides, decoded)]
    if len({None if own is None else own.painted for own in guides}) > 1:
        raise ValueError("a batch paints pictures with regions of one kind: paint these pictures one at a time")
    contents = decoded
    styles = [[check_paintable(open_image(image), source_name(image, "the painting")) for image in own] for own in styles]
    pictures = [None if start is None else open_image(start, flatten=False) for start in starts or [None] * len(contents)]
    hold = config.hold_memory and device.type == "cpu"
    if hold:
        allocator.hold()
    scale = None
    full_shape = fitted_size(contents[0].size, config.size, config.aspect)[::-1]  # (H, W) of the last scale
    done = 0
    try:
        if config.init == "draft" and all(picture is None for picture in pictures):
            pictures, frames, note = draft_starts(contents, styles, config, guides)
            yield [Step(iteration=0, total=config.total_steps, elapsed=time.perf_counter() - started,
                        losses=Losses(*[math.nan] * 4), image=frame, note=note, alpha=_alpha(own, frame.shape[-2:], config))
                   for frame, own in zip(frames, guides)]
        cadence = Cadence(config, asynchronous=device.type == "cuda")
        for size, steps in zip((*config.scales, config.size), (*config.scale_steps, config.steps)):
            sketching = config.coarse_sketch and size != config.size
            if sketching and min(fitted_size(contents[0].size, size, config.aspect)) < MIN_SIDE:
                done += steps  # a quick look too thin for the network (a strip): the size asked for goes first
                continue
            scale = _Scale(net, contents, styles, config, size, budget, device, guides)
            if sketching or scale.guide is None:  # a sketch's frames are shown at the final size
                alphas = [_alpha(own, full_shape, config) for own in guides]
            else:  # the scale's own guide has it at this size
                alphas = [_shown_alpha(alpha.cpu()) for alpha in scale.guide.alpha[:, 0]]
            for preview in scale.run(steps, pictures, cadence):
                views = preview.views
                if sketching:  # a sketch's frame is shown at the final size
                    views = torch.nn.functional.interpolate(views, size=full_shape, mode="bicubic", align_corners=False)
                views = views.clamp(0, 1).to("cpu", copy=True)
                elapsed = time.perf_counter() - started
                yield [report if not isinstance(report, tuple) else Step(
                    iteration=done + preview.iteration, total=config.total_steps, elapsed=elapsed,
                    losses=Losses(**report[0]), image=views[index].clone() if len(views) > 1 else views[0],
                    note=report[1], tile=scale.tile, alpha=alphas[index],
                ) for index, report in enumerate(preview.reports)]
                if all(isinstance(report, DivergenceError) for report in preview.reports):
                    return
            pictures = scale.last_good
            done += steps
    finally:
        if scale is not None:  # a scale that never ran gives its memory back too
            CLAIMS.release(scale.claim)
        if hold:
            del scale, pictures  # the last scale's tensors go before the heap is trimmed
            allocator.release()


def _alpha(regions: Regions | None, shape: tuple[int, int], config: StyleConfig) -> torch.Tensor | None:
    """The picture's alpha (1, H, W) at `shape` on the CPU, or None when nothing is left out."""
    return None if regions is None else _shown_alpha(regions.at(*shape, config.aspect).alpha[0, 0])


def _shown_alpha(alpha: torch.Tensor) -> torch.Tensor | None:
    """An (H, W) alpha as a Step carries it, (1, H, W); None when nothing an 8-bit file would show is transparent."""
    return None if alpha.min() >= 1 - 1 / 512 else alpha[None]


class Cadence:
    """When a run shows a frame: every `preview_every` iterations, and before `preview_seconds` have passed
    since the last one (if set). On the CPU the clock between two iterations is what an iteration takes. On a
    GPU the host only queues replays and runs ahead of the card, so the clock says nothing until a frame's
    read-back waits for the card: there the pace is measured from frame to frame (the first comes after one
    iteration), and a frame is due after as many iterations as fit in the seconds."""

    def __init__(self, config: StyleConfig, asynchronous: bool = False):
        self.every, self.seconds, self.asynchronous = config.preview_every, config.preview_seconds, asynchronous
        self.shown_at = self.ticked = time.perf_counter()
        self.since = 0  # iterations since the last frame
        self.pace = 0.0  # seconds an iteration took between the last two frames; 0 before the first

    def due(self, iteration: int, last: bool) -> bool:
        now = time.perf_counter()
        iteration_time, self.ticked = now - self.ticked, now
        self.since += 1
        due = last or iteration % self.every == 0
        if self.seconds and not due:  # one more would be late
            if self.asynchronous:  # the first frame comes at once: its read-back measures the pace
                due = not self.pace or (self.since + 1) * self.pace >= self.seconds
            else:
                due = now - self.shown_at + iteration_time >= self.seconds
        return due

    def shown(self) -> None:
        """The frame that was due has been read back (on a GPU: the card has finished its iterations)."""
        now = time.perf_counter()
        self.pace = (now - self.shown_at) / max(self.since, 1)
        self.shown_at, self.since = now, 0


@dataclass
class _Preview:
    """A preview of one scale: per picture (terms, note), None (nothing good yet) or its DivergenceError."""

    iteration: int
    views: torch.Tensor  # (B, 3, H, W) the last good pictures as shown, on the device
    reports: list[tuple[dict[str, float], str] | DivergenceError | None]


TERMS = ("content", "style", "tv", "total")


class _Scale:
    """One scale of a run for a batch: its photos, targets and tiles, and the optimisation at that size."""

    def __init__(self, net: TunedNet, contents: list[Image.Image], styles: list[list[Image.Image]],
                 config: StyleConfig, size: int, budget: int, device: torch.device,
                 regions: Sequence[Regions | None] = ()):
        self.net, self.config, self.device = net, config, device
        photos = [load_image(content, size, device, aspect=config.aspect) for content in contents]
        if len({photo.shape for photo in photos}) > 1:
            raise ValueError("the photos of a batch must have one shape: " + ", ".join(
                f"{photo.shape[-1]}x{photo.shape[-2]}" for photo in photos))
        self.photos = torch.cat(photos)
        self.height, self.width = self.photos.shape[-2:]
        margin = margin_for(net.arch, config.layers)
        deepest = max(config.layers)  # "reluK_N" names sort by depth

        def plan(memory: int) -> tuple[int, int]:  # the tile for the memory left, and what the batch needs with it
            self.budget = memory // len(photos)  # each picture's share
            self.tile = config.tile or choose_tile(self.height, self.width, margin, net.arch, deepest,
                                                   config.optimizer, self.budget)
            need = run_bytes(self.height, self.width, self.tile, margin, net.arch, deepest, config.optimizer,
                             self.budget)
            kept = kept_bytes(self.height, self.width, config.optimizer, self.budget)
            return len(photos) * need, len(photos) * kept

        self.claim = CLAIMS.claim(device, plan, budget)  # released when the scale ends (run), or fails to start
        try:
            self._prepare(photos, styles, regions, margin, deepest)
        except BaseException:
            CLAIMS.release(self.claim)
            raise

    def _prepare(self, photos: list[torch.Tensor], styles: list[list[Image.Image]],
                 regions: Sequence[Regions | None], margin: int, deepest: str) -> None:
        """The scale's tiles, targets and guides, planned within its claim."""
        net, config, device = self.net, self.config, self.device

        def tiles_for(image: torch.Tensor, optimizer: str) -> list[Tile] | None:
            side = config.tile or choose_tile(*image.shape[-2:], margin, net.arch, deepest, optimizer, self.budget)
            return plan_tiles(*image.shape[-2:], side, margin) if side else None

        self.tiles = plan_tiles(self.height, self.width, self.tile, margin) if self.tile else None
        if self.tiles and len(photos) > 1:
            raise ValueError(f"a batch paints whole pictures, but {self.width}x{self.height} needs tiles here: "
                             "paint these pictures one at a time")
        targets, self.content_images = [], []  # the pictures the content loss compares with
        guides = [None if own is None else own.at(self.height, self.width, config.aspect).to(device)
                  for own in [*regions, *[None] * len(photos)][:len(photos)]]
        for photo, own, guide in zip(photos, styles, guides):
            content_image, style_images = painting_inputs(photo, own, config, device)
            style_tiles = [tiles_for(style_image, "adam") for style_image in style_images]
            targets.append(compute_targets(net, content_image, style_images, config, self.tiles, style_tiles, guide))
            self.content_images.append(content_image)
        self.targets = Targets(torch.cat([t.content for t in targets]),
                               {name: torch.cat([t.grams[name] for t in targets]) for name in targets[0].grams},
                               None if guides[0] is None else
                               {name: torch.cat([t.guides[name] for t in targets]) for name in targets[0].guides},
                               None if targets[0].tone is None else torch.cat([t.tone for t in targets]))
        # Where the photo is kept, the picture the objective sees is the photo (nst_core/regions.py).
        self.guide = None if guides[0] is None else Guide.stack(guides)
        self.kept = torch.cat(self.content_images) if self.guide is not None else None
        self.last_good: torch.Tensor | None = None

    def run(self, steps: int, previous: list | torch.Tensor, cadence: Cadence) -> Iterator[_Preview]:
        """Optimise from `previous` (the scale before, (B, 3, h, w), or a picture or None per picture) for
        `steps` iterations, yielding a _Preview whenever `cadence` says. The divergence guard and the
        bookkeeping stay on the device between previews; a preview reads back a few numbers per picture."""
        config, batch = self.config, len(self.photos)
        image = self._start(previous).clamp(0, 1).requires_grad_(True)
        history = lbfgs_history(self.height, self.width, self.budget)
        graphed = self.device.type == "cuda" and not self.tiles  # the tiled objective loops over tiles in Python
        optimizer = make_optimizer(image, config.optimizer, image.new_full((batch,), config.lr), history, graphed)
        # The guard keeps only pictures whose objective it has seen: the terms of an iteration describe the
        # picture before its step, so that picture is kept beside them (keeping the picture after the step
        # kept one never evaluated, and a recovery went back to the very picture that had diverged).
        evaluated = torch.zeros_like(image, requires_grad=False)  # the picture the latest terms describe
        start_terms = image.new_full((4, batch), math.nan)  # the starting picture's terms, from the first iteration
        started = torch.zeros((), dtype=torch.bool, device=self.device)

        def iteration() -> torch.Tensor:
            image.grad = None
            terms = self._evaluate(image)  # (4, B), of the picture before this step
            with torch.no_grad():
                evaluated.copy_(image)
                start_terms.copy_(torch.where(started, start_terms, terms))
                started.fill_(True)
            optimizer.step(image, image.grad)
            with torch.no_grad():
                image.clamp_(0, 1)  # pixels stay in the printable range
            return terms

        iterate = Replay(iteration, self.device, enabled=graphed)
        self.last_good = image.detach().clone()  # the starting picture: good once its objective is seen finite
        good_terms = image.new_zeros(4, batch)
        best = image.new_full((batch,), math.inf)
        has_good = torch.zeros(batch, dtype=torch.bool, device=self.device)
        given_up = torch.zeros_like(has_good)
        recoveries = torch.zeros(batch, dtype=torch.long, device=self.device)
        errors: list[DivergenceError | None] = [None] * batch
        notes = [""] * batch
        try:
            for count in range(1, steps + 1):
                terms = iterate()
                self.claim.started = True  # what it holds is allocated now; its activations come and go
                last = count == steps
                if not cadence.due(count, last):
                    continue
                with torch.no_grad():
                    total = terms[3]
                    start = ~has_good & start_terms[3].isfinite()  # the starting picture is the first good one
                    good_terms = torch.where(start, start_terms, good_terms)
                    has_good |= start
                    best = torch.fmin(best, start_terms[3])
                    good = ~given_up & total.isfinite() & ~(total > DIVERGENCE_RATIO * best)
                    bad = ~given_up & (~good | ~image.isfinite().flatten(1).all(1))  # or its step broke it
                    best = torch.where(good, torch.minimum(best, total), best)
                    self.last_good = torch.where(good[:, None, None, None], evaluated, self.last_good)
                    good_terms = torch.where(good, terms, good_terms)
                    has_good |= good
                    recoveries += bad
                    giving_up = bad & ((recoveries > MAX_RECOVERIES) | (~has_good if last else False))
                    recovering = bad & ~giving_up
                    optimizer.reset(recovering, optimizer.lr * RECOVERY_LR_FACTOR)
                    image.copy_(torch.where(recovering[:, None, None, None], self.last_good, image))
                    given_up |= giving_up
                    views = shown(self.composite(self.last_good), self.photos, config)
                    flags = torch.stack((has_good, bad, giving_up, recoveries)).to(good_terms)
                    numbers = torch.cat((good_terms, flags, optimizer.lr[None])).cpu()  # the preview's one read-back
                cadence.shown()
                reports = []
                for index, (*values, good_yet, went_bad, gave_up, recovered, lr) in enumerate(numbers.T.tolist()):
                    if gave_up:
                        errors[index] = divergence_error(int(recovered), lr, config)
                    elif went_bad:
                        notes[index] = recovery_note(lr, last)  # told with the picture's next frame
                    if errors[index] is not None or not good_yet:
                        reports.append(errors[index])
                        continue
                    reports.append((dict(zip(TERMS, values)), notes[index]))
                    notes[index] = ""
                yield _Preview(count, views, reports)
        finally:
            # Drop the graph, and with the iteration the picture and optimiser state it holds, now, not when
            # the generator object is collected.
            del iterate, iteration
            CLAIMS.release(self.claim)

    def _start(self, previous: list | torch.Tensor) -> torch.Tensor:
        """Where the scale starts: the smaller picture (or a given one) enlarged, else `config.init`."""
        if isinstance(previous, torch.Tensor):
            return torch.nn.functional.interpolate(previous, size=(self.height, self.width), mode="bicubic",
                                                   align_corners=False)
        starts = []
        for index, picture in enumerate(previous):
            if picture is None:  # the first scale, from `config.init`
                starts.append(initial_image(self.content_images[index], self.config))
            else:  # cropped to this scale's shape, enlarged
                picture = load_image(picture, max(self.height, self.width), self.device,
                                     aspect=self.width / self.height)
                starts.append(torch.nn.functional.interpolate(picture, size=(self.height, self.width),
                                                              mode="bicubic", align_corners=False))
        return torch.cat(starts)

    def composite(self, image: torch.Tensor) -> torch.Tensor:
        """The picture as the objective sees it and as it is shown: with regions, the photo where it is kept."""
        return image if self.guide is None else self.guide.composite(image, self.kept)

    def _evaluate(self, image: torch.Tensor) -> torch.Tensor:
        """The objective's terms (4, B) for every picture, with their gradient put in image.grad."""
        if self.tiles:
            picture = image if self.guide is None else self.composite(image.detach()).requires_grad_(True)
            terms = tiled_backward(self.net, picture, self.targets.content, self.targets.grams, self.config,
                                   self.tiles, self.targets.guides, self.targets.tone)
            if self.guide is not None:  # through the composite: a kept pixel does not move
                image.grad = picture.grad * (1 - self.guide.keep)
        else:
            terms = objective_terms(self.net, self.composite(image), self.targets, self.config)
            terms["total"].sum().backward()  # pictures are independent: each gets the gradient of its own total
        return torch.stack([terms[name].detach().reshape(-1) for name in TERMS])


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


def divergence_error(recoveries: int, lr: float, config: StyleConfig) -> DivergenceError:
    """The message of a run given up: it tells the step sizes really tried (`lr`: the last of them)."""
    if recoveries > MAX_RECOVERIES:
        return DivergenceError(f"the optimisation diverged {recoveries} times, the last at lr {lr:g} (it started at "
                               f"{config.lr:g}, each retry {1 / RECOVERY_LR_FACTOR:g} times smaller): lower the "
                               "learning rate or the style weight")
    # No good picture at all by the end of a scale: the starting picture's objective was not finite either.
    return DivergenceError(f"the objective was never finite, from the starting picture on (lr {config.lr:g} down "
                           f"to {lr:g}): check the pictures and the weights, or lower the learning rate")


def recovery_note(lr: float, last: bool = False) -> str:
    if last:
        return "the loss diverged at the last step: the last good picture is kept"
    return f"the loss diverged: back to the last good picture, with a smaller step (lr {lr:g})"


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
