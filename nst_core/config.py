"""The style-transfer configuration: one frozen dataclass with every knob, and named presets."""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass

CONTENT_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu4_2", "relu5_1")
STYLE_LAYERS = ("relu1_1", "relu2_1", "relu3_1", "relu4_1", "relu5_1")
OPTIMIZERS = ("lbfgs", "adam")
INITS = ("content", "noise", "draft")
POOLINGS = ("max", "avg")
COLOURS = ("style", "luminance", "histogram", "keep")
COLOUR_WORDS = {"style": "the painting's", "luminance": "the photo's, painted in the painting's strokes",
                "histogram": "the painting's, shifted to the photo's palette",
                "keep": "the photo's, laid over the finished picture"}  # what each colour mode gives, in words
PRECISIONS = ("auto", "float32", "bf16")

MIN_SIZE = 32  # the deepest style layer (relu5_1) needs at least 2x2 positions
MAX_SIZE = 8192
MAX_STEPS = 100_000
MAX_LR = {"lbfgs": 10.0, "adam": 1.0}  # Adam's lr is in pixel units: 1 already jumps the full range


@dataclass(frozen=True)
class StyleConfig:
    """Every parameter of a Gatys style-transfer run, with its default."""

    size: int = 512  # longest side of the result, in pixels
    style_scale: float = 1.0  # style image's longest side relative to `size`: larger means bigger brush strokes
    steps: int = 300  # optimiser iterations
    optimizer: str = "lbfgs"  # "lbfgs" or "adam"
    lr: float = 1.0  # L-BFGS: step scale (1 is standard); Adam: step in pixel units (0.003 .. 0.05)
    content_weight: float = 1.0  # alpha
    tone_weight: float = 0.0  # the photo's broad light and dark, as part of the content term (alpha x this);
    # above 0 the draft start keeps them too (nst_core/colour.py, keep_broad_tones)
    style_weight: float = 1e6  # beta, in the seed recipe's units: alpha 1, beta 1e6 is a balanced picture
    tv_weight: float = 0.0  # total-variation smoothing; 0 turns it off
    init: str = "content"  # start from the content image ("content"), seeded noise ("noise"), or the photo drafted
    # in the painting's manner by a feed-forward network ("draft", nst_core/draft.py), shown as the first frame
    seed: int = 0  # seeds the noise init, so a run is reproducible
    preview_every: int = 10  # yield a step (with the current image) every this many iterations
    preview_seconds: float = 0.0  # and at least this often in seconds, whatever an iteration costs; 0: off
    content_layer: str = "relu4_2"
    style_layers: tuple[str, ...] = STYLE_LAYERS
    style_layer_weights: tuple[float, ...] = (1.0, 1.0, 1.0, 1.0, 1.0)  # relative; normalised to sum to 1
    pooling: str = "max"  # "max" as in VGG, or "avg", which Gatys et al. found gives smoother pictures
    scales: tuple[int, ...] = ()  # coarse-to-fine: longest sides to paint at first, smallest first, all < size
    scale_steps: tuple[int, ...] = ()  # iterations at each of `scales` (then `steps` at `size`)
    coarse_sketch: bool = False  # the scales are a quick sketch: their frames are shown at `size`
    tile: int = 0  # tile side in pixels for large pictures (a multiple of 16); 0: untiled if it fits in memory
    memory_gb: float = 0.0  # memory the run may use; 0: most of what the device has free
    colour: str = "style"  # "style": the painting's colours; "luminance": style on brightness only, the photo's
    # colours kept; "histogram": the painting recoloured to the photo's palette first; "keep": the photo's
    # colours laid over the result (Gatys et al. 2017)
    style_blend: tuple[float, ...] = ()  # weights of several style images (one each); () weighs them equally
    aspect: float = 0.0  # width / height to crop the photo to (centred) before painting, e.g. 5/6 for a tee
    # Fast paths (docs/performance.md measures each): they change the speed, not the picture's recipe.
    hold_memory: bool = True  # CPU: keep freed blocks for reuse during the run instead of unmapping them
    cache_targets: bool = True  # reuse a painting's Gram matrices across runs (same pixels, size and settings)
    precision: str = "auto"  # "bf16": the convolutions in bfloat16 (Grams and losses stay float32); "auto": bf16
    # on a CUDA card that has it, on a CPU where it measured faster (nst_core/precision.py), else "float32"
    channels_last: bool = False  # NHWC memory layout for the convolutions
    compile: bool = False  # torch.compile the feature network

    def __post_init__(self) -> None:
        # Lists from a CLI or JSON become tuples, so the frozen config stays hashable.
        object.__setattr__(self, "style_layers", tuple(self.style_layers))
        object.__setattr__(self, "style_layer_weights", tuple(float(w) for w in self.style_layer_weights))
        object.__setattr__(self, "scales", tuple(self.scales))
        object.__setattr__(self, "scale_steps", tuple(self.scale_steps))
        object.__setattr__(self, "style_blend", tuple(float(w) for w in self.style_blend))
        _check_int("size", self.size, MIN_SIZE, MAX_SIZE, "the longest side of the result in pixels")
        _check_int("steps", self.steps, 1, MAX_STEPS, "the number of iterations")
        _check_int("preview_every", self.preview_every, 1, MAX_STEPS, "iterations between previews")
        _check_int("seed", self.seed, 0, 2**63 - 1, "a non-negative whole number")
        _check_choice("optimizer", self.optimizer, OPTIMIZERS)
        _check_choice("init", self.init, INITS)
        _check_choice("pooling", self.pooling, POOLINGS)
        _check_choice("content_layer", self.content_layer, CONTENT_LAYERS)
        _check_float("preview_seconds", self.preview_seconds, 0.0, 3600.0)
        _check_float("style_scale", self.style_scale, 0.1, 4.0)
        _check_float("lr", self.lr, 0.0, MAX_LR[self.optimizer], low_open=True)
        _check_float("content_weight", self.content_weight, 0.0, 1e12)
        _check_float("tone_weight", self.tone_weight, 0.0, 1e6)
        _check_float("style_weight", self.style_weight, 0.0, 1e15)
        _check_float("tv_weight", self.tv_weight, 0.0, 1e9)
        if not self.style_layers:
            raise ValueError("style_layers is empty: name at least one of " + ", ".join(STYLE_LAYERS))
        for layer in self.style_layers:
            _check_choice("style_layers", layer, STYLE_LAYERS)
        if len(self.style_layer_weights) != len(self.style_layers):
            raise ValueError(
                f"style_layer_weights has {len(self.style_layer_weights)} values but style_layers has "
                f"{len(self.style_layers)}: give one weight per style layer"
            )
        for weight in self.style_layer_weights:
            _check_float("style_layer_weights", weight, 0.0, 1e6)
        if sum(self.style_layer_weights) <= 0:
            raise ValueError("style_layer_weights are all 0: give at least one layer a positive weight")
        for scale in self.scales:
            _check_int("scales", scale, MIN_SIZE, self.size - 1, "coarse sizes below `size`")
        if list(self.scales) != sorted(set(self.scales)):
            raise ValueError(f"scales must grow from the smallest, without repeats, got {self.scales}")
        if len(self.scale_steps) != len(self.scales):
            raise ValueError(f"scale_steps has {len(self.scale_steps)} values but scales has {len(self.scales)}: "
                             "give the iterations for each coarse size")
        for steps in self.scale_steps:
            _check_int("scale_steps", steps, 1, MAX_STEPS, "iterations at a coarse size")
        if self.tile:
            _check_int("tile", self.tile, 64, MAX_SIZE, "tile side in pixels, or 0 to choose")
            if self.tile % 16:
                raise ValueError(f"tile must be a multiple of 16 (the deepest layer's grid), got {self.tile}")
        _check_float("memory_gb", self.memory_gb, 0.0, 4096.0)
        _check_choice("colour", self.colour, COLOURS)
        _check_choice("precision", self.precision, PRECISIONS)
        for weight in self.style_blend:
            _check_float("style_blend", weight, 0.0, 1e6)
        if self.style_blend and sum(self.style_blend) <= 0:
            raise ValueError("style_blend weights are all 0: give at least one style a positive weight")
        if self.aspect:
            _check_float("aspect", self.aspect, 0.05, 20.0)
        if self.content_weight == 0 and self.style_weight == 0 and self.tv_weight == 0:
            raise ValueError("content_weight, style_weight and tv_weight are all 0: nothing to optimise")

    @property
    def layers(self) -> tuple[str, ...]:
        """Every layer the objective reads, the content layer first, each once."""
        return tuple(dict.fromkeys((self.content_layer, *self.style_layers)))

    @property
    def total_steps(self) -> int:
        """Iterations over all scales."""
        return sum(self.scale_steps) + self.steps

    @property
    def layer_weights(self) -> dict[str, float]:
        """Style layer weights normalised to sum to 1, by layer name."""
        total = sum(self.style_layer_weights)
        return {name: w / total for name, w in zip(self.style_layers, self.style_layer_weights)}

    def replace(self, **changes) -> StyleConfig:
        """A copy with some fields changed (validated again)."""
        return dataclasses.replace(self, **changes)


def _check_int(name: str, value, low: int, high: int, meaning: str) -> None:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{name} must be a whole number ({meaning}), got {value!r}")
    if not low <= value <= high:
        raise ValueError(f"{name} must be between {low} and {high} ({meaning}), got {value}")


def _check_float(name: str, value, low: float, high: float, low_open: bool = False) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ValueError(f"{name} must be a number, got {value!r}")
    if not math.isfinite(value):
        raise ValueError(f"{name} must be a finite number, got {value}")
    too_low = value <= low if low_open else value < low
    if too_low or value > high:
        bound = "above" if low_open else "at least"
        raise ValueError(f"{name} must be {bound} {low:g} and at most {high:g}, got {value:g}")


def _check_choice(name: str, value, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ValueError(f"{name} must be one of {', '.join(choices)}, got {value!r}")


# The studio's recipe (docs/quality.md, measured on a panel of photos and paintings): from the draft, the photo's
# broad light and dark held (a night stays a night) and a little smoothing against the loop's fine grain.
RECIPE = {"init": "draft", "tone_weight": 2.0, "tv_weight": 20.0}
PRESETS: dict[str, StyleConfig] = {
    # L-BFGS from the draft: the studio's design, the photo's subject and light and dark, clean strokes.
    "default": StyleConfig(**RECIPE),
    # A quick look while choosing images and weights: the same recipe in fewer steps, at a size that keeps the subject.
    "preview": StyleConfig(size=384, steps=60, preview_every=5, **RECIPE),
    # Adam with a step that reaches the result in hundreds rather than tens of thousands of iterations.
    "adam": StyleConfig(optimizer="adam", lr=0.02, steps=600, **RECIPE),
    # The seed's recipe, kept to reproduce it: Adam, lr 0.003, alpha 1, beta 1e6, content init, 20 000 steps.
    "seed": StyleConfig(optimizer="adam", lr=0.003, steps=20_000, preview_every=100),
}
PRESET_EFFECTS = {  # what each preset does to the picture, in words (the CLI's --help)
    "default": "the finished design: starts from a draft in the painting's manner, keeps the photo's subject and "
               "its light and dark, clean strokes (512 px, 300 steps)",
    "preview": "a quick look at the same recipe: 384 px, 60 steps, softer and less finished",
    "adam": "the same recipe painted by Adam: smoother brushwork, twice the steps",
    "seed": "the original 2016 recipe, to reproduce it: from the photo, nothing held but its shapes, 20 000 slow "
            "steps (hours on a CPU)",
}


def coarse_start(config: StyleConfig, previews: int = 2) -> StyleConfig:
    """`config` with a quick sketch first: its first `previews` preview intervals painted at half size.

    An iteration at half size costs a quarter, so the first painted preview arrives about four times
    sooner. Its frames are shown enlarged and the full size goes on from the enlarged sketch, so the
    picture never goes backwards: starting from the photo again instead steps back to an unpainted
    picture and takes about 14 s at 384 px to catch up, for a final objective 1 % lower
    (docs/performance.md). A config that is already coarse to fine,
    or too small to halve, or too short for a sketch, comes back unchanged.
    """
    sketch = min(previews * config.preview_every, config.steps // 3)
    if config.scales or config.size // 2 < MIN_SIZE or sketch < 1:
        return config
    return config.replace(scales=(config.size // 2,), scale_steps=(sketch,), coarse_sketch=True)


def preset(name: str, **changes) -> StyleConfig:
    """The named preset, with `changes` applied."""
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}: choose one of {', '.join(PRESETS)}")
    return PRESETS[name].replace(**changes)
