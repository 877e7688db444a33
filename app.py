"""Tee Style Studio: the Gradio page where a photo is painted in the style of a painting, live."""

from __future__ import annotations

import argparse
import contextlib
import functools
import inspect
import logging
import math
import os
import tempfile
import time
import typing
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

try:  # ZeroGPU: `spaces` must be imported before anything touches CUDA
    import spaces
except ImportError:  # off a Space, or a Space without ZeroGPU
    spaces = None

import gradio as gr
import pandas as pd
from PIL import Image

from nst_core import PRESETS, DivergenceError, ImageError, StyleConfig, stylize
from nst_core.config import COLOURS, POOLINGS, coarse_start
from nst_core.export import PRINT_PRESETS, print_size
from nst_core.images import open_image
from nst_core.memory import DoesNotFitError
from nst_core.printing import FINAL_STEPS, export_design, print_config
from studio.background import latest
from studio.costs import in_words, plan
from studio.executors import RayCluster
from studio.gate import Gate, GateError
from studio.jobs import Job, PrintJobs
from studio.server import TYPICAL_PHOTO, engine
from studio.workshop import Workshop

ASSETS = Path(__file__).resolve().parent / "assets"
PHOTOS = ("chelsea.png", "astronaut.png", "coffee.png")
PAINTINGS = ("starry_night.jpg", "the_scream.jpg", "shipwreck.jpg")
DEFAULTS = PRESETS["default"]
LR_FOR = {"lbfgs": DEFAULTS.lr, "adam": PRESETS["adam"].lr}
MAX_LIVE_SIZE = 1024  # pixels on the longest side for painting in the browser
PREVIEW_SIDE = 1024  # print-size frames are shown this large; the file itself keeps every pixel
HEARTBEAT = 0.5  # seconds between a live run's updates when no frame is new, so Stop is heard at once
SHAPES = {"photo": ("the photo's", 0.0)} | {name: (f"{name} {w}×{h}", w / h) for name, (w, h) in PRINT_PRESETS.items()}

RESULTS = Path(tempfile.gettempdir()) / "tee-style-studio"
RESULT_LIFETIME = 3600  # seconds a result file stays downloadable (gradio's own cache keeps the same hour)
PRINTS = PrintJobs(RESULTS / "prints", lifetime=24 * 3600)  # print files stay a day after their job ended
WORKSHOP: Workshop | None = None  # set by --workshop: live runs of one size and settings share batches
CLUSTER: RayCluster | None = None  # set by --ray: runs paint on a Ray cluster's workers
# The fair line for live runs: NST_CONCURRENCY runs at once (default 1; 2 when NST_DEVICE names a GPU).
GATE = Gate(slots=int(os.environ.get("NST_CONCURRENCY") or 1), line=int(os.environ.get("NST_QUEUE_SIZE", "30")))
TERMS = {"what": {"style": "painted (style loss)", "content": "faithful (content loss)"}}  # the plot's series
STOPPED = "**stopped**: the picture so far stays above, and its download below; press Paint to start again."
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
        if payload is not None and payload.path and not (payload.url or "").startswith("data:"):
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


# Every setting, once: the page's sliders, the presets and the engine's config all come from this table.
CONTROLS = (
    Control("alpha", "content_weight", lambda c: Slider(
        0, 10, c.content_weight, step=0.05, label="Keep the photo", info="how much of the photo stays (α)")),
    Control("log_beta", "style_weight", lambda c: Slider(
        3, 9, _log10(c.style_weight), step=0.1, label="Paint strength",
        info="6 is balanced; each step up paints ten times harder (log₁₀ β)"),
        to_config=lambda value: 10.0 ** float(value), from_config=_log10),
    Control("lr", "lr", lambda c: Slider(
        0.001, 2, c.lr, step=0.001, label="Step size", info="1 for the fast method; 0.003 to 0.05 for the smooth one")),
    Control("steps", "steps", lambda c: Slider(10, 3000, c.steps, step=10, label="Steps",
                                                info="more steps: a more finished picture, a longer wait"),
            to_config=int),
    Control("size", "size", lambda c: Slider(64, MAX_LIVE_SIZE, c.size, step=16, label="Size (longest side, px)"),
            to_config=int),
    Control("optimizer", "optimizer", lambda c: gr.Radio(
        [("fast (L-BFGS)", "lbfgs"), ("smooth (Adam)", "adam")], value=c.optimizer, label="Method"), to_config=str),
    Control("init", "init", lambda c: gr.Radio(
        [("the photo", "content"), ("noise", "noise")], value=c.init, label="Start from"), to_config=str),
    Control("tv", "tv_weight", lambda c: Slider(0, 100, c.tv_weight, step=0.5, label="Smoothing")),
    Control("seed", "seed", lambda c: Number(c.seed, precision=0, minimum=0, label="Seed (for a noise start)"),
            to_config=int),
    Control("preview_every", "preview_every", lambda c: Slider(
        1, 100, c.preview_every, step=1, label="Preview every N steps"), to_config=int),
    Control("preview_seconds", "preview_seconds", lambda c: Slider(
        0, 30, c.preview_seconds, step=0.5, label="…and at least every N seconds", info="0: by steps only")),
    Control("style_scale", "style_scale", lambda c: Slider(
        0.25, 2, c.style_scale, step=0.05, label="Brush size", info="larger: bigger brush strokes")),
    Control("pooling", "pooling", lambda c: gr.Radio(list(POOLINGS), value=c.pooling, label="Pooling"), to_config=str),
    Control("colour", "colour", lambda c: gr.Radio(
        list(COLOURS), value=c.colour, label="Colours",
        info="style: the painting's · luminance / keep: the photo's · histogram: the painting in the photo's palette"),
        to_config=str),
)
NAMES = tuple(control.name for control in CONTROLS)
# Inputs that are not a preset's recipe, with the values an API call that leaves them out gets.
EXTRAS = {"blend": 0.5, "second_style": None, "quick_start": True, "shape": "photo"}
PRINT_INPUTS = {"print_name": "tee", "custom_size": "2000x2000", "final_steps": FINAL_STEPS, "colours": 0,
                "transparent": False, "sixteen_bits": False, "approved": None}
OPTIONAL = EXTRAS | PRINT_INPUTS


def taking(*names: str):
    """Give a generator handler `(*values, request)` the named parameters `names`: gradio names the API's
    parameters after its signature, and the handler reads them as one tuple, its own parameters after."""
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
    every preset's frame cadence)."""
    default = engine().default
    config = default if name == "default" else PRESETS[name].replace(preview_seconds=default.preview_seconds)
    return [control.from_config(getattr(config, control.field)) for control in CONTROLS]


def refusal(message: str) -> gr.Error:
    """A message for the person, and one line in the server's log: a bad upload or setting is not a server
    error, so no traceback."""
    log.info("refused: %s", message)
    return gr.Error(message, print_exception=False)


def _readable(error: Exception, *uploads) -> gr.Error:
    """The engine's message for the page, the uploads' server paths replaced by what they are."""
    message = str(error)
    for path, name in zip(uploads, ("the photo", "the painting", "the second painting", "the approved picture")):
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


def live_steps(content: str, styles: list[str], config: StyleConfig, quick_start: bool):
    """A live run's steps: batched with the room's other runs in workshop mode, else a run of its own."""
    config = coarse_start(config) if quick_start else config
    if WORKSHOP is not None and len(styles) == 1 and not config.aspect:
        return WORKSHOP.stylize(content, styles[0], config)
    return execute(content, styles, config)


def execute(content, styles, config: StyleConfig, start=None):
    """A run's steps from where runs execute: the Ray cluster's workers with --ray, else this process."""
    if CLUSTER is not None:
        return CLUSTER.stream(content, styles, config, start)
    return run_steps(content, styles, config, start)


def run_steps(content, style, config: StyleConfig, start=None):
    """The engine's steps, run where the device is (on ZeroGPU, inside the GPU worker); CPU images out."""
    yield from stylize(content, style, config, backbone=engine().backbone, device=engine().device, start=start)


def gpu_seconds(content, style, config: StyleConfig, start=None) -> int:
    """ZeroGPU time to ask for: the cost model's estimate with room to spare."""
    return int(min(300, 15 + 2 * engine().countdown(config, open_image(content).size).total))


if spaces is not None:
    run_steps = spaces.GPU(duration=gpu_seconds)(run_steps)


@taking("content", "style", *NAMES, *EXTRAS)
def paint(*values, request: gr.Request = None):
    """Paint the photo in the style of the painting, streaming (picture, status, loss plot, download) updates.

    The run first takes its place in the fair line (GATE) and reports its place and wait until its
    turn. With `quick_start` the first previews are painted at half size, shown enlarged.
    """
    settings = dict(zip(("content", "style", *NAMES, *EXTRAS), values))
    content, styles, config = _inputs(settings)
    quick = settings["quick_start"] in (True, None)
    try:
        photo = open_image(content)  # decoded once: for the estimate and for the run
    except ImageError as error:
        raise _readable(error, content) from None
    countdown = engine().countdown(coarse_start(config) if quick else config, photo.size)
    person = getattr(request, "session_hash", None) or uuid.uuid4().hex
    try:
        ticket = GATE.join(person, seconds=countdown.total)
    except GateError as error:
        raise refusal(str(error)) from None
    history, shown, picture = [], None, None  # shown: the newest step, its time left and when it came
    try:
        while not GATE.wait(ticket, timeout=1.0):
            if ticket.stopped.is_set():
                yield gr.skip(), "**stopped** while waiting in line; press Paint to join again.", gr.skip(), gr.skip()
                return
            yield gr.skip(), in_line(ticket, countdown.total), gr.skip(), gr.skip()
        with contextlib.closing(latest(live_steps(photo, styles, config, quick), heartbeat=HEARTBEAT)) as frames:
            for step in frames:
                if ticket.stopped.is_set():
                    break
                if step is None:  # no new frame yet: the time left ticks on, and Stop is heard here
                    line = (status(shown[0], shown[1] - (time.monotonic() - shown[2]), countdown.total) if shown
                            else f"**starting**: the first picture comes in a moment; all of it takes "
                                 f"{in_words(countdown.total)}")
                    yield gr.skip(), line, gr.skip(), gr.skip()
                    continue
                left = countdown.update(step)
                shown = step, left, time.monotonic()
                GATE.report(ticket, left)
                history += [(step.iteration, name, getattr(step.losses, name)) for name in ("style", "content")]
                plot = pd.DataFrame(history, columns=["step", "what", "loss"]).replace(TERMS)
                picture = step.to_pil()
                download = save_result(picture, result_name(content, styles[0])) if step.done else \
                    gr.DownloadButton(visible=False)
                yield picture, status(step, left, countdown.total), plot, download
        if ticket.stopped.is_set() and not (shown and shown[0].done):  # the run has ended: the picture so far it is
            kept = save_result(picture, result_name(content, styles[0])) if picture else gr.skip()
            yield gr.skip(), STOPPED, gr.skip(), kept
    except (ImageError, DivergenceError) as error:
        raise _readable(error, content, styles[0], settings.get("second_style")) from None
    finally:
        GATE.leave(ticket)  # stopped, failed, disconnected or done: the next in line goes


def in_line(ticket, estimate: float) -> str:
    """The status line of a run waiting for its turn."""
    ahead, wait = GATE.place(ticket), GATE.estimate(ticket)
    place = "you are next" if ahead == 0 else f"{ahead} {'person' if ahead == 1 else 'people'} ahead of you"
    return (f"**waiting in line**: {place}, {in_words(wait)} until your turn; "
            f"then your picture takes {in_words(estimate)}")


def status(step, left: float, estimate: float) -> str:
    """The status line: how far, how long left, and how the estimate before the start compares."""
    if step.done:
        line = (f"**done** in {in_words(step.elapsed, about=False)} "
                f"(estimated {in_words(estimate, about=False)} before it started)")
    else:
        line = (f"**painting** · {100 * step.iteration // step.total} % · {in_words(left)} left "
                f"(step {step.iteration} of {step.total})")
    return line + (f"\n\nNote: {step.note}" if step.note else "")


def result_name(content: str, style: str, suffix: str = "") -> str:
    """A download's file name a person recognises: the photo's and the painting's names."""
    stems = [Path(str(path)).stem.replace(" ", "_")[:24] or "picture" for path in (content, style)]
    return f"{stems[0]}-in-the-style-of-{stems[1]}{suffix}.png"


def save_result(picture, name: str = "picture.png") -> gr.DownloadButton:
    """The picture as a full-resolution PNG behind a download button, under a name that says what it is."""
    prune_results()
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"tee-style-{uuid.uuid4().hex[:6]}-{name}"
    picture.save(path)
    return gr.DownloadButton(f"Download PNG ({picture.width}×{picture.height})", value=str(path), visible=True)


def prune_results() -> None:
    """Remove result files older than RESULT_LIFETIME, so a server that runs for weeks does not fill its disk."""
    cutoff = time.time() - RESULT_LIFETIME
    for path in RESULTS.glob("tee-*"):
        try:
            if path.stat().st_mtime < cutoff:
                path.unlink()
        except FileNotFoundError:  # another run's prune got there first
            pass


def stop(print_id: str = "", request: gr.Request = None) -> None:
    """Stop: this person's live run ends at its next update, keeping the picture so far (offered for
    download), and their print job ends too."""
    GATE.stop(getattr(request, "session_hash", None) or "")
    PRINTS.cancel(print_id)


def refuse_second_paint(request: gr.Request = None) -> None:
    """A second press of Paint while a run waits or paints: say why nothing new starts."""
    person = getattr(request, "session_hash", None)
    if person and GATE.holds(person):
        gr.Warning("Your picture is still painting (or waiting in line): it goes on. Press Stop first to "
                   "start another.")


def estimate_line(content, size, steps, quick_start, shape, optimizer) -> str:
    """Before Paint: how long the picture will take on this server."""
    try:
        config = engine().default.replace(size=int(size), steps=int(steps), optimizer=optimizer,
                                          aspect=SHAPES[shape or "photo"][1])
        seconds = engine().countdown(coarse_start(config) if quick_start else config,
                                     open_image(content).size if content else TYPICAL_PHOTO).total
    except (ValueError, TypeError, ImageError):
        return ""
    return f"Takes {in_words(seconds)} on this server ({int(size)} px, {int(steps)} steps)"


def _print_config(values: dict, base: StyleConfig) -> tuple[StyleConfig, object]:
    name = values["print_name"]
    size = values["custom_size"] if name == "custom" else name
    approved = open_image(values["approved"]) if values.get("approved") else None
    return print_config(size, base, int(values["final_steps"]), start_side=max(approved.size) if approved else 0), \
        approved


def print_estimate(content, print_name, custom_size, final_steps, approved, shape) -> str:
    """Before Render print: how long it will take, from the approved picture or from the photo."""
    try:
        values = {"print_name": print_name, "custom_size": custom_size, "final_steps": final_steps,
                  "approved": approved}
        config, _ = _print_config(values, engine().default.replace(aspect=SHAPES[shape or "photo"][1]))
        seconds = engine().countdown(config, open_image(content).size).total
    except (ValueError, TypeError, ImageError, KeyError):
        return ""
    start = "refining the picture above" if approved else "painting from the photo (no approved picture yet)"
    return f"Takes {in_words(seconds)} on this server, {start}"


@taking("content", "style", *NAMES, *EXTRAS, *PRINT_INPUTS)
def render_print(*values):
    """Render the approved picture at print size (coarse to fine from it, against the full-size photo) as a
    job that survives the page, then its print file and mock-ups; streams (preview, status, tee, mug,
    download, job id)."""
    settings = dict(zip(("content", "style", *NAMES, *EXTRAS, *PRINT_INPUTS), values))
    content, styles, base = _inputs(settings)
    try:
        config, approved = _print_config(settings, base)
        photo, *_ = (open_image(image) for image in (content, *styles))  # a bad file is refused now, not in an hour
    except (ImageError, DoesNotFitError, ValueError) as error:
        raise _readable(error, content, styles[0], settings.get("second_style"), settings.get("approved")) from None
    countdown = engine().countdown(config, photo.size)
    width, height = print_size(settings["custom_size"] if settings["print_name"] == "custom" else
                               settings["print_name"])

    def work(job: Job):
        result = None
        for result in execute(content, styles, config, start=approved):
            yield result, countdown.update(result)
        suffix = ".tif" if settings["sixteen_bits"] else ".png"
        files = export_design(result.image, job.folder / result_name(content, styles[0], f"-{width}x{height}")
                              .replace(".png", suffix), content, bits=16 if settings["sixteen_bits"] else 8,
                              transparent=bool(settings["transparent"]), colours=int(settings["colours"]),
                              mockups=True)
        job.files = {"design": files.design.name, "tee": files.tee.name, "mug": files.mug.name}

    job = PRINTS.start(f"{settings['print_name']} {width}×{height}", countdown.total, work)
    yield from watch(job)


def watch(job: Job):
    """A print job's updates for the page until it ends; leaving (a closed tab) leaves the job painting."""
    link = f"Print **{job.id}** · fetch it later with this id, or the link `/?print={job.id}`"
    shown = None
    while True:
        job.changed.wait(HEARTBEAT)
        job.changed.clear()
        if job.state == "stopped":
            yield gr.skip(), f"Print **{job.id}** · **stopped**", gr.skip(), gr.skip(), gr.skip(), job.id
            return
        if job.ended:
            break
        step = job.step
        if step is None:
            line = f"waiting for the print before it ({in_words(job.estimate)} once it starts)"
        else:
            line = status(step, job.left, job.estimate)
        preview = _shrunk(step.to_pil()) if step is not None and step is not shown else gr.skip()  # new frames only
        shown = step
        yield preview, f"{link}\n\n{line}", gr.skip(), gr.skip(), gr.skip(), job.id
    yield from fetch_print(job.id)


def fetch_print(print_id: str):
    """A print job's files, or where it stands: (preview, status, tee, mug, download, job id)."""
    job = PRINTS.get(print_id)
    if job is None:
        raise refusal(f"No print with the id {str(print_id)[:16]!r}: prints are kept for a day after they end.")
    if not job.ended:
        yield from watch(job)
        return
    if job.state != "done":
        words = {"failed": "could not be made", "stopped": "was stopped", "lost": "was lost"}[job.state]
        raise refusal(f"Print {job.id} ({job.title}) {words}{': ' + job.message if job.message else '.'}")
    design = job.path("design")
    preview = Image.open(design)
    preview.thumbnail((PREVIEW_SIDE, PREVIEW_SIDE))
    download = gr.DownloadButton(f"Download the print file ({job.title}, {design.suffix[1:].upper()})",
                                 value=str(design), visible=True)
    yield preview.convert("RGB"), f"Print **{job.id}** · **done**: {job.title}", str(job.path("tee")), \
        str(job.path("mug")), download, job.id


def _shrunk(picture):
    """A print-size frame scaled down for the browser."""
    picture.thumbnail((PREVIEW_SIDE, PREVIEW_SIDE))
    return picture


def open_print(print_id: str):
    """The print a link names (`/?print=ID`), if any."""
    if print_id:
        yield from fetch_print(print_id)


def open_page(request: gr.Request):
    """On opening the page: this machine's default settings, and a print job named in the link (`?print=ID`)."""
    wanted = (getattr(request, "query_params", None) or {}).get("print", "")
    return [*apply_preset("default"), engine().words, wanted]


def build_demo() -> gr.Blocks:
    """The page: the photo, the painting, Paint and the picture at first sight; settings and print below."""
    shown = DEFAULTS.replace(preview_seconds=1.5)
    with gr.Blocks(title="Tee Style Studio", delete_cache=(3600, 3600)) as demo:
        gr.Markdown("## Tee Style Studio · paint a photo in the style of a painting, for tees, mugs and "
                    "stickers", elem_id="title")
        with gr.Row(equal_height=False):
            with gr.Column(scale=5):
                with gr.Row():
                    content = PictureUpload(str(ASSETS / PHOTOS[0]), type="filepath", label="Photo",
                                            sources=["upload", "clipboard"], height=190, elem_id="content")
                    style = PictureUpload(str(ASSETS / PAINTINGS[0]), type="filepath", label="Painting",
                                          sources=["upload", "clipboard"], height=190, elem_id="style")
                with gr.Row():
                    photos = gr.Gallery([str(ASSETS / name) for name in PHOTOS], label="Example photos",
                                        columns=3, height=76, allow_preview=False, buttons=[], elem_id="photos")
                    paintings = gr.Gallery([str(ASSETS / name) for name in PAINTINGS], label="Example paintings",
                                           columns=3, height=76, allow_preview=False, buttons=[],
                                           elem_id="paintings")
                shape = gr.Radio([(words, name) for name, (words, _) in SHAPES.items()], value="photo",
                                 label="Shape of the design", elem_id="shape")
                with gr.Row():
                    run = gr.Button("Paint", variant="primary", elem_id="run", scale=2)
                    stop_button = gr.Button("Stop", variant="stop", elem_id="stop", scale=1)
                estimate = gr.Markdown("", elem_id="estimate")
                with gr.Accordion("Settings", open=False, elem_id="settings"):
                    preset = gr.Radio(list(PRESETS), value="default", label="Preset",
                                      info="default: finished picture · preview: quick look · "
                                           "seed: the original recipe")
                    components = {control.name: control.make(shown) for control in CONTROLS}
                    second_style = PictureUpload(None, type="filepath", label="Second painting (optional)",
                                                 sources=["upload", "clipboard"], height=140, elem_id="style2")
                    blend = Slider(0, 1, 0.5, step=0.05, label="Blend (share of the second painting)")
                    quick_start = gr.Checkbox(True, label="Quick first look",
                                              info="a half-size sketch first: a picture in a second or two")
                with gr.Accordion("About this server", open=False, elem_id="about-section"):
                    about_line = gr.Markdown("", elem_id="about")
            with gr.Column(scale=6):
                # A small picture fills its box (the file keeps its pixels); gradio 6 takes page CSS only in launch().
                gr.HTML("<style>#result img { width: 100%; height: 100%; object-fit: contain; }</style>",
                        padding=False, elem_id="fit")
                picture = gr.Image(label="Your design", type="pil", format="png", interactive=False,
                                   buttons=["fullscreen"], height=430, elem_id="result")
                progress_line = gr.Markdown("Press **Paint** to start.", elem_id="status")
                download = gr.DownloadButton("Download PNG", visible=False, elem_id="download")
                with gr.Accordion("How it is going", open=False, elem_id="details"):
                    plot = gr.LinePlot(x="step", y="loss", color="what", height=200,
                                       color_map=dict(zip(TERMS["what"].values(), ("#1f77b4", "#ff7f0e"))),
                                       label="Lower is better · blue: how far from the painting's style · "
                                             "orange: how far from the photo",
                                       elem_id="plot")
                with gr.Accordion("Print: the design above at print size", open=False,
                                  elem_id="print") as print_section:
                    gr.Markdown("Refines the picture above at print size (no seams), then writes a 300 dpi "
                                "file and shows it on a tee and a mug. It goes on if you close the page: "
                                "keep its id to fetch it later.")
                    with gr.Row():
                        print_name = gr.Dropdown([*PRINT_PRESETS, "custom"], value="tee", label="Print size",
                                                 info=" · ".join(f"{n} {w}×{h}" for n, (w, h) in PRINT_PRESETS.items()))
                        custom_size = gr.Textbox("2000x2000", label="Custom size (W×H px)", visible=False)
                    with gr.Row():
                        final_steps = Slider(1, 100, FINAL_STEPS, step=1, label="Steps at print size",
                                             info="refining the picture above (without one, a small print is "
                                                  "painted from the photo with the main Steps)")
                        colours = Slider(0, 16, 0, step=1, label="Ink colours (0: full colour)")
                    with gr.Row():
                        transparent = gr.Checkbox(False, label="Transparent background (sticker)")
                        sixteen_bits = gr.Checkbox(False, label="16-bit TIFF")
                    render = gr.Button("Render print", variant="primary", elem_id="render")
                    print_estimate_line = gr.Markdown("", elem_id="print-estimate")
                    print_status = gr.Markdown("", elem_id="print-status")
                    with gr.Row():
                        tee = gr.Image(label="On a tee", type="filepath", interactive=False, elem_id="tee")
                        mug = gr.Image(label="On a mug", type="filepath", interactive=False, elem_id="mug")
                    print_download = gr.DownloadButton("Download print file", visible=False,
                                                       elem_id="print-download")
                    with gr.Row():
                        print_id = gr.Textbox("", label="Print id", placeholder="fetch a print started earlier",
                                              elem_id="print-id", scale=3)
                        fetch = gr.Button("Fetch print", elem_id="fetch", scale=1)

        controls = [components[name] for name in NAMES]
        extras = [blend, second_style, quick_start, shape]
        ui_only = {"api_visibility": "private", "queue": False}  # page conveniences, not API endpoints
        photos.select(_pick(PHOTOS), None, content, **ui_only)
        paintings.select(_pick(PAINTINGS), None, style, **ui_only)
        preset.change(apply_preset, preset, controls, **ui_only)
        components["optimizer"].change(LR_FOR.get, components["optimizer"], components["lr"], **ui_only)
        shape.change(lambda name: name if name in PRINT_PRESETS else gr.skip(), shape, print_name, **ui_only)
        print_name.change(lambda name: gr.Textbox(visible=name == "custom"), print_name, custom_size, **ui_only)
        timing = [content, components["size"], components["steps"], quick_start, shape, components["optimizer"]]
        for trigger in timing:
            trigger.change(estimate_line, timing, estimate, **ui_only)
        # The print's estimate follows its settings and the approved picture, but not every frame of a run.
        print_timing = [content, print_name, custom_size, final_steps, picture, shape]  # the picture: approved
        for event in (content.change, print_name.change, custom_size.change, final_steps.change, shape.change,
                      print_section.expand):
            event(print_estimate, print_timing, print_estimate_line, **ui_only)
        run.click(refuse_second_paint, None, None, trigger_mode="multiple", api_visibility="private",
                  concurrency_limit=None)  # queued: a warning reaches the page only through the queue
        run.click(paint, [content, style, *controls, *extras], [picture, progress_line, plot, download],
                  api_name="paint", show_progress_on=progress_line, concurrency_limit=None  # GATE keeps the line
                  ).then(print_estimate, print_timing, print_estimate_line, **ui_only)
        print_outputs = [picture, print_status, tee, mug, print_download, print_id]
        render.click(render_print, [content, style, *controls, *extras, print_name, custom_size, final_steps, colours,
                                    transparent, sixteen_bits, picture],  # the picture on the page: the approved one
                     print_outputs, api_name="print", show_progress_on=print_status,
                     concurrency_limit=None)  # PRINTS runs one at a time
        render.click(lambda: "**printing**: the print's progress is in the Print section below.", None,
                     progress_line, **ui_only)
        fetch.click(fetch_print, print_id, print_outputs, api_name="fetch_print", concurrency_limit=None)
        # Stop is heard by the runs themselves (not gradio's cancels, which would drop their last update: the
        # picture so far and its download); a closed tab or an API job.cancel() still cancels the event.
        stop_button.click(stop, print_id, None, api_visibility="private", concurrency_limit=None)
        demo.load(open_page, None, [*controls, about_line, print_id], **ui_only).then(
            estimate_line, timing, estimate, **ui_only).then(
            open_print, print_id, print_outputs,
            api_visibility="private")
    return demo


def _pick(names: tuple[str, ...]):
    def pick(selection: gr.SelectData) -> str:
        return str(ASSETS / names[selection.index])

    return pick


demo = build_demo()


def main() -> None:
    global CLUSTER, WORKSHOP
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    logging.getLogger("httpx").setLevel(logging.WARNING)  # gradio's own start-up requests, one line each
    parser = argparse.ArgumentParser(description="Run the Tee Style Studio web app.")
    parser.add_argument("--host", default=None, help="address to listen on (default: $GRADIO_SERVER_NAME or 127.0.0.1)")
    parser.add_argument("--port", type=int, default=None, help="port (default: $GRADIO_SERVER_PORT or 7860)")
    parser.add_argument("--concurrency", type=int, default=None,
                        help="live runs at once (default: $NST_CONCURRENCY, or 1 on a CPU and 2 on a GPU)")
    parser.add_argument("--queue-size", type=int, default=GATE.line,
                        help="people waiting at most (default: $NST_QUEUE_SIZE or 30); more are told the queue is full")
    parser.add_argument("--workshop", type=int, nargs="?", const=8, default=int(os.environ.get("NST_WORKSHOP", "0")),
                        metavar="N", help="workshop mode: paint up to N people's runs of one size and settings "
                                          "as one batch (default N 8; best on a GPU)")
    parser.add_argument("--ray", default=os.environ.get("NST_RAY"), metavar="auto|ADDRESS",
                        help="paint on a Ray cluster's workers (auto: the cluster on this machine, else a new local "
                             "one; default: $NST_RAY, else in this process)")
    args = parser.parse_args()
    server = engine()  # the backbone loaded and this machine measured before the first visitor
    log.info("backbone: %s; %s", server.backbone.description, server.words)
    slots = args.concurrency or int(os.environ.get("NST_CONCURRENCY") or (1 if server.device.type == "cpu" else 2))
    if args.ray:  # workshop batches then paint inside each worker
        CLUSTER = RayCluster(args.ray, weights=os.environ.get("NST_WEIGHTS"), device=os.environ.get("NST_DEVICE", "auto"),
                             workshop=args.workshop)
        slots = CLUSTER.workers * CLUSTER.capacity
        CLUSTER.calibrate(server)
        log.info("painting on a Ray cluster: %d workers, %s per iteration at 512 px", CLUSTER.workers,
                 f"{server.costs.iteration(plan(PRESETS['default'], TYPICAL_PHOTO)[0]):.2f} s")
    elif args.workshop:
        WORKSHOP = Workshop(server.backbone, server.device, max_batch=args.workshop)
        slots = max(slots, args.workshop)  # every member of a batch holds a slot while it paints
    log.info("the default picture: %d px, %d steps, %s", server.default.size, server.default.steps,
             in_words(server.countdown(coarse_start(server.default)).total))
    GATE.configure(slots=slots, line=args.queue_size)
    # Gradio's own queue only passes jobs on (the line above keeps the order and says who waits); its
    # limit is roomier than the line's so a burst hears the line's message, with the number waiting.
    demo.queue(max_size=2 * (args.queue_size + slots), default_concurrency_limit=1)
    demo.launch(server_name=args.host, server_port=args.port, max_threads=max(40, 2 * (slots + args.queue_size)))


if __name__ == "__main__":
    main()
