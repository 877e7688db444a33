"""The page's settings: the CONTROLS table (each setting described once), its components, and the page's
values turned into an engine config, with messages for the person instead of tracebacks."""

from __future__ import annotations

import functools
import inspect
import logging
import math
import typing
from collections.abc import Callable
from dataclasses import dataclass

import gradio as gr

from nst_core import PRESETS, ImageError, StyleConfig
from nst_core.images import check_paintable, open_image
from nst_core.config import COLOUR_WORDS, COLOURS, POOLINGS
from nst_core.export import PRINT_PRESETS
from nst_core.printing import FINAL_STEPS

from .server import engine

DEFAULTS = PRESETS["default"]
LR_FOR = {"lbfgs": DEFAULTS.lr, "adam": PRESETS["adam"].lr}
MAX_LIVE_SIZE = 1024  # pixels on the longest side for painting in the browser
PRESET_WORDS = {"default": "finished picture", "preview": "quick look", "adam": "smooth brushwork (Adam)",
                "seed": "the original 2016 recipe (slow)"}
POOLING_WORDS = {"max": "crisp (max pooling)", "avg": "soft (average pooling)"}
COLOUR_TERMS = {"luminance": "luminance only", "histogram": "histogram matching", "keep": "colour transfer"}
SHAPES = {"photo": ("the photo's", 0.0)} | {name: (f"{name} {w}×{h}", w / h) for name, (w, h) in PRINT_PRESETS.items()}
log = logging.getLogger("tee-style-studio")


def _naming(component: type, control, payload):
    """`component`'s own preprocessing, with an out-of-range message (from an API call) that names the control."""
    try:
        return component.preprocess(control, payload)
    except gr.Error as error:
        raise refusal(f"{control.label}: {error.message}") from None


class Slider(gr.Slider):
    """A slider whose out-of-range message names it (the page cannot send one; an API call can)."""

    is_template = True  # drawn by the browser as the ordinary Slider

    def preprocess(self, payload):
        return _naming(gr.Slider, self, payload)


class Number(gr.Number):
    """A number box whose out-of-range message names it."""

    is_template = True

    def preprocess(self, payload):
        return _naming(gr.Number, self, payload)


class PictureUpload(gr.Image):
    """An image upload handed over as the uploaded file, unopened: nst_core reads any mode, applies EXIF,
    refuses bombs, and says in plain words what is wrong with a bad file."""

    is_template = True  # drawn by the browser as the ordinary Image component

    def preprocess(self, payload):
        if payload is None or not (payload.path or payload.url):  # an empty box (e.g. a picture still to come)
            return None
        if payload.path and not (payload.url or "").startswith("data:"):
            return payload.path
        return super().preprocess(payload)


def _log10(value: float) -> float:
    return round(math.log10(value), 2)


@dataclass(frozen=True)
class Control:
    """One setting on the page: its API name, the config field it sets, and its component."""

    name: str
    field: str
    make: Callable[[StyleConfig], gr.components.Component]  # the component, showing a config's value
    to_config: Callable = float  # the page's value as the field's
    from_config: Callable = lambda value: value  # the field's value as the page's

    def words(self) -> str:
        """The setting on one line for an API call or an assistant: the page's label and help, its range or choices."""
        component = self.make(DEFAULTS)  # built unrendered, only to read what the page says of it
        parts = [component.label, component.info]
        if isinstance(component, gr.Slider):
            parts.append(f"{component.minimum:g} to {component.maximum:g}")
        if isinstance(component, gr.Radio):
            parts.append(", ".join(f"{value} = {label}" for label, value in component.choices))
        return "; ".join(part for part in parts if part)


# Every setting, once: the page's sliders, the presets and the engine's config all come from this table.
CONTROLS = (
    Control("alpha", "content_weight", lambda c: Slider(
        0, 10, c.content_weight, step=0.05, label="Keep the photo",
        info="how much of the photo's shapes stay: more keeps them clearer (content weight)")),
    Control("tone", "tone_weight", lambda c: Slider(
        0, 10, c.tone_weight, step=0.1, label="Keep the photo's light and dark",
        info="holds the photo's bright and dark areas where they are, so a night stays a night; 0 lets the "
             "painting's light take over (tone weight)")),
    Control("log_beta", "style_weight", lambda c: Slider(
        3, 9, _log10(c.style_weight), step=0.1, label="Paint strength",
        info="how strongly the painting's manner is laid on: 6 is balanced, each one more paints ten times "
             "harder (style weight, as a power of ten)"),
        to_config=lambda value: 10.0 ** float(value), from_config=_log10),
    Control("lr", "lr", lambda c: Slider(
        0.001, 2, c.lr, step=0.001, label="Step size",
        info="how much the picture may change at each step: too much blotches it, too little paints slowly; "
             "set for you when you choose how it paints (learning rate)")),
    Control("steps", "steps", lambda c: Slider(10, 3000, c.steps, step=10, label="Steps",
                                                info="more steps: a more finished picture, a longer wait"),
            to_config=int),
    Control("size", "size", lambda c: Slider(64, MAX_LIVE_SIZE, c.size, step=16,
                                              label="Size (pixels on the longest side)"),
            to_config=int),
    Control("optimizer", "optimizer", lambda c: gr.Radio(
        [("fast, crisp detail (L-BFGS)", "lbfgs"), ("smooth brushwork, slower (Adam)", "adam")],
        value=c.optimizer, label="How it paints", info="the two ways of improving the picture step by step "
                                                      "(the optimiser)"), to_config=str),
    Control("init", "init", lambda c: gr.Radio(
        [("a draft in the painting's manner", "draft"), ("the photo", "content"), ("noise", "noise")],
        value=c.init, label="Start from", info="the draft is the first picture you see, in a blink"), to_config=str),
    Control("tv", "tv_weight", lambda c: Slider(0, 100, c.tv_weight, step=0.5, label="Smoothing",
                                                 info="evens out speckle and grain (total variation)")),
    Control("seed", "seed", lambda c: Number(c.seed, precision=0, minimum=0, label="Noise pattern (seed)",
                                             info="another number, another start, when starting from noise"),
            to_config=int),
    Control("preview_every", "preview_every", lambda c: Slider(
        1, 100, c.preview_every, step=1, label="Show the picture every … steps"), to_config=int),
    Control("preview_seconds", "preview_seconds", lambda c: Slider(
        0, 30, c.preview_seconds, step=0.5, label="…and at least every … seconds", info="0: by steps only")),
    Control("style_scale", "style_scale", lambda c: Slider(
        0.25, 2, c.style_scale, step=0.05, label="Brush size", info="larger: bigger brush strokes")),
    Control("pooling", "pooling", lambda c: gr.Radio(
        [(POOLING_WORDS[name], name) for name in POOLINGS], value=c.pooling, label="Texture",
        info="how the network sums up what it sees (its pooling)"), to_config=str),
    Control("colour", "colour", lambda c: gr.Radio(
        [(COLOUR_WORDS[name] + (f" ({COLOUR_TERMS[name]})" if name in COLOUR_TERMS else ""), name) for name in COLOURS], value=c.colour, label="Colours"), to_config=str),
)
NAMES = tuple(control.name for control in CONTROLS)
# Inputs that are not a preset's recipe, with the values an API call that leaves them out gets.
EXTRAS = {"blend": 0.5, "second_style": None, "quick_start": True, "shape": "photo",
          "regions": None}  # a region image in the colour code of nst_core/regions.py; None: the whole photo painted
PRINT_INPUTS = {"print_name": "sticker",  # the smallest: minutes, not an hour, when a call leaves it out
                 "custom_size": "2000x2000", "final_steps": FINAL_STEPS, "colours": 0,
                "transparent": False, "sixteen_bits": False, "approved": None, "fit": "fit"}
OPTIONAL = EXTRAS | PRINT_INPUTS
# How an API call or an MCP client passes a picture (gradio downloads a URL only from a public address).
PICTURE = "an image, as an http(s) URL on a public address or as a data URI (data:image/png;base64,...)"
# The inputs that are not controls, for API calls and assistants (see `taking`).
INPUT_WORDS = {
    "content": f"the photo to paint: {PICTURE}",
    "style": f"the painting whose manner is laid on the photo: {PICTURE}",
    "blend": "share of the second painting, 0 to 1",
    "second_style": f"a second painting to blend in, or none: {PICTURE}",
    "quick_start": "when starting from the photo or noise: a half-size sketch first",
    "shape": "the design's shape: " + ", ".join(f"{name} = {words}" for name, (words, _) in SHAPES.items()),
    "regions": "leave out to paint the whole photo (a region image in the colour code of nst_core/regions.py)",
    "print_name": "print size: " + ", ".join(f"{name} {w}×{h}" for name, (w, h) in PRINT_PRESETS.items())
                  + ", or custom",
    "custom_size": "the print's pixels as WxH when print_name is custom, such as 3000x4000",
    "final_steps": "steps at print size, refining the approved picture",
    "colours": "ink colours, 0 for full colour",
    "transparent": "keep the photo's transparent background (a sticker)",
    "sixteen_bits": "a 16-bit TIFF instead of an 8-bit PNG, for print shops that ask",
    "approved": f"the picture to refine at print size (the one paint gave back), or none to paint from the photo: "
                f"{PICTURE}",
    "fit": "when the design's shape differs from the print's: fit (all of it inside, the rest transparent) or "
           "fill (its edges cropped)",
}


@functools.cache
def _input_words() -> dict[str, str]:
    """Every API input in words, once: describing a control builds its component."""
    return INPUT_WORDS | {control.name: control.words() for control in CONTROLS}


def taking(*names: str):
    """Give a generator handler `(*values, request)` the named parameters `names`: gradio names the API's
    parameters after its signature, and the handler reads them as one tuple, its own parameters after. Each is
    described in an "Args:" line of the docstring, where gradio reads it for the API page and the MCP tools."""
    words = _input_words()

    def wrap(handler):
        hints = typing.get_type_hints(handler)  # gradio finds gr.Request by its class, not its name
        own = [parameter.replace(annotation=hints.get(parameter.name, parameter.annotation),
                                 kind=inspect.Parameter.POSITIONAL_OR_KEYWORD)
               for parameter in inspect.signature(handler).parameters.values()
               if parameter.kind is not inspect.Parameter.VAR_POSITIONAL]
        named = [inspect.Parameter(name, inspect.Parameter.POSITIONAL_OR_KEYWORD,
                                   default=OPTIONAL.get(name, inspect.Parameter.empty)) for name in names]

        @functools.wraps(handler)
        def call(*arguments):
            values, rest = arguments[:len(names)], arguments[len(names):]
            yield from handler(*values, **{parameter.name: value for parameter, value in zip(own, rest)})

        call.__signature__ = inspect.Signature(named + own)
        call.__doc__ = f"{inspect.cleandoc(handler.__doc__ or '')}\n\nArgs:\n" + "\n".join(
            f"    {name}: {words[name]}" for name in names)
        return call
    return wrap


def make_config(settings: dict, shape: str = "photo", styles: int = 1, blend: float = 0.5) -> StyleConfig:
    """The page's settings as an engine config; a bad value becomes a message on the page."""
    try:
        if int(settings["size"]) > MAX_LIVE_SIZE:
            raise ValueError(f"size must be at most {MAX_LIVE_SIZE} px for painting in the browser "
                             f"(print sizes are in the Print section), got {settings['size']}")
        fields = {control.field: control.to_config(settings[control.name]) for control in CONTROLS}
        return engine().default.replace(
            **fields, aspect=SHAPES[shape or "photo"][1],
            style_blend=(1.0 - float(blend), float(blend)) if styles == 2 else ())
    except (TypeError, ValueError, OverflowError, KeyError) as error:
        raise refusal(f"Please check the settings: {error}") from None


def apply_preset(name: str) -> list:
    """The controls set to a preset's values, fitted to this machine (the default preset's size and steps, and
    every preset's frame cadence); the studio's start (a draft) for all but the seed's own recipe."""
    default = engine().default
    config = default if name == "default" else PRESETS[name].replace(preview_seconds=default.preview_seconds)
    if name not in ("default", "seed"):
        config = config.replace(init=default.init)
    return [control.from_config(getattr(config, control.field)) for control in CONTROLS]


def refusal(message: str) -> gr.Error:
    """A message for the person, and one line in the server's log: a bad upload or setting is not a server
    error, so no traceback."""
    log.info("refused: %s", message)
    return gr.Error(message, print_exception=False)


def checked_upload(path: str | None, what: str = "photo"):
    """A new upload, if it can be painted; else a message in plain words, and the box emptied (not a broken
    picture left in it)."""
    if not path:
        return gr.skip()
    try:
        check_paintable(open_image(path), f"the {what}")
    except ImageError as error:
        gr.Warning(f"This {what} cannot be used: {str(error).replace(str(path), f'the {what}')}")
        return None
    return gr.skip()


def _readable(error: Exception, *uploads) -> gr.Error:
    """The engine's message for the page, the uploads' server paths replaced by what they are."""
    message = str(error)
    for path, name in zip(uploads, ("the photo", "the painting", "the second painting", "the approved picture",
                                    "the region image")):
        if path:
            message = message.replace(str(path), name)
    return refusal(message)


def _inputs(values: dict) -> tuple[str, list[str], StyleConfig]:
    content, style, second = values["content"], values["style"], values.get("second_style")
    if not content or not style:
        raise refusal("Please give both a photo and a painting (upload them or pick from the examples).")
    styles = [style, second] if second else [style]
    config = make_config(values, values.get("shape"), len(styles), values.get("blend", 0.5))
    return content, styles, config
