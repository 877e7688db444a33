"""Tee Style Studio: the Gradio page where a photo is painted in the style of a painting, live."""

from __future__ import annotations

import argparse
import math
import os
import tempfile
import time
import uuid
from pathlib import Path

try:  # ZeroGPU: `spaces` must be imported before anything touches CUDA
    import spaces
except ImportError:  # off a Space, or a Space without ZeroGPU
    spaces = None

import gradio as gr
import pandas as pd
from PIL import Image

from nst_core import PRESETS, DivergenceError, ImageError, StyleConfig, load_backbone, resolve_device, stylize
from studio.background import latest
from nst_core.config import COLOURS, INITS, OPTIMIZERS, POOLINGS, coarse_start
from nst_core.export import PRINT_PRESETS
from studio.gate import Gate, GateError
from nst_core.memory import DoesNotFitError
from nst_core.printing import FINAL_STEPS, export_design, print_config
from studio.workshop import Workshop

ASSETS = Path(__file__).resolve().parent / "assets"
PHOTOS = ("chelsea.png", "astronaut.png", "coffee.png")
PAINTINGS = ("starry_night.jpg", "the_scream.jpg", "shipwreck.jpg")
DEFAULTS = PRESETS["default"]
LR_FOR = {"lbfgs": DEFAULTS.lr, "adam": PRESETS["adam"].lr}
MAX_LIVE_SIZE = 1024  # pixels on the longest side for painting in the browser
STOPPED = "**stopped**: the picture so far stays above (its download button saves it); press Paint to start again."
PREVIEW_SIDE = 1024  # print-size frames are shown this large; the file itself keeps every pixel

DEVICE = resolve_device(os.environ.get("NST_DEVICE", "auto"))
BACKBONE = load_backbone()  # once per process, at start-up
BACKBONE.net.to(DEVICE)
RESULTS = Path(tempfile.gettempdir()) / "tee-style-studio"
RESULT_LIFETIME = 3600  # seconds a result file stays downloadable (gradio's own cache keeps the same hour)
WORKSHOP: Workshop | None = None  # set by --workshop: live runs of one size and settings share batches
# The fair line for live runs: NST_CONCURRENCY runs at once (1 on a CPU, 2 on a GPU), NST_QUEUE_SIZE waiting.
GATE = Gate(slots=int(os.environ.get("NST_CONCURRENCY") or (1 if DEVICE.type == "cpu" else 2)),
            line=int(os.environ.get("NST_QUEUE_SIZE", "30")))


def _naming(component: type, control, payload):
    """`component`'s own preprocessing, with an out-of-range message (from an API call) that names the control."""
    try:
        return component.preprocess(control, payload)
    except gr.Error as error:
        raise gr.Error(f"{control.label}: {error.message}") from None


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


def run_steps(content: str, style: str | list[str], config: StyleConfig):
    """The engine's steps, run where the device is (on ZeroGPU, inside the GPU worker); CPU images out."""
    yield from latest(stylize(content, style, config, backbone=BACKBONE, device=DEVICE))


def live_steps(content: str, styles: list[str], config: StyleConfig, quick_start: bool):
    """A live run's steps: batched with the room's other runs in workshop mode, else a run of its own."""
    if WORKSHOP is not None and len(styles) == 1:
        return latest(WORKSHOP.stylize(content, styles[0], config))
    return run_steps(content, styles, coarse_start(config) if quick_start else config)


def gpu_seconds(content: str, style: str | list[str], config: StyleConfig) -> int:
    """ZeroGPU time to ask for: start-up plus the iterations at each size, with room to spare."""
    sizes = (*config.scales, config.size)
    steps = (*config.scale_steps, config.steps)
    work = sum(count * (side**2 / 1e6) for side, count in zip(sizes, steps))  # megapixel-iterations
    return int(min(300, 15 + work * 0.05))


if spaces is not None and DEVICE.type == "cuda":
    run_steps = spaces.GPU(duration=gpu_seconds)(run_steps)


def make_config(alpha, log_beta, lr, steps, size, optimizer, init, tv, seed, preview_every, style_scale,
                pooling, colour="style", blend=0.0, styles=1) -> StyleConfig:
    """The page's controls as an engine config; a bad value becomes a message on the page."""
    try:
        size = int(size)
        if size > MAX_LIVE_SIZE:
            raise ValueError(f"size must be at most {MAX_LIVE_SIZE} px for painting in the browser "
                             f"(print sizes are in the Print section), got {size}")
        return StyleConfig(
            content_weight=float(alpha), style_weight=10.0 ** float(log_beta), lr=float(lr), steps=int(steps),
            size=size, optimizer=optimizer, init=init, tv_weight=float(tv), seed=int(seed),
            preview_every=int(preview_every), style_scale=float(style_scale), pooling=pooling, colour=colour,
            style_blend=(1.0 - float(blend), float(blend)) if styles == 2 else (),
        )
    except (TypeError, ValueError, OverflowError) as error:
        raise gr.Error(f"Please check the settings: {error}") from None


def _readable(error: Exception, content, style, second_style) -> gr.Error:
    """The engine's message for the page, the uploads' server paths replaced by what they are."""
    message = str(error)
    for path, name in ((content, "the photo"), (style, "the painting"), (second_style, "the second painting")):
        if path:
            message = message.replace(str(path), name)
    return gr.Error(message)


def _inputs(content, style, second_style, controls) -> tuple[str, list[str], StyleConfig]:
    if not content or not style:
        raise gr.Error("Please give both a photo and a painting (upload them or pick from the examples).")
    styles = [style, second_style] if second_style else [style]
    return content, styles, make_config(*controls, styles=len(styles))


def paint(content, style, alpha, log_beta, lr, steps, size, optimizer, init, tv, seed, preview_every,
          style_scale, pooling, colour, blend, second_style=None, quick_start=True, request: gr.Request = None,
          progress=gr.Progress()):
    """Paint `content` in the style of `style`, streaming (picture, status, loss plot, download) updates.

    The run first takes its place in the fair line (GATE) and reports its place until its turn. With
    `quick_start` the first previews are painted at half size, so the picture changes within a
    second or two of its start, and the rest at full size.
    """
    content, styles, config = _inputs(content, style, second_style, (
        alpha, log_beta, lr, steps, size, optimizer, init, tv, seed, preview_every, style_scale, pooling, colour,
        blend))
    try:
        ticket = GATE.join(getattr(request, "session_hash", None) or uuid.uuid4().hex)
    except GateError as error:
        raise gr.Error(str(error)) from None
    history = []
    try:
        while not GATE.wait(ticket, timeout=1.0):
            yield gr.skip(), in_line(ticket), gr.skip(), gr.skip()
        for step in live_steps(content, styles, config, quick_start):
            history += [(step.iteration, name, getattr(step.losses, name)) for name in ("content", "style")]
            left = step.elapsed / step.iteration * (step.total - step.iteration)
            progress((step.iteration, step.total), desc=f"about {left:.0f} s left", unit="iterations")
            plot = pd.DataFrame(history, columns=["iteration", "term", "loss"])
            picture = step.to_pil()
            download = save_result(picture) if step.done else gr.DownloadButton(visible=False)
            yield _at_size(picture, config.size), status(step), plot, download
    except (ImageError, DivergenceError) as error:
        raise _readable(error, content, style, second_style) from None
    finally:
        GATE.leave(ticket)  # stopped, failed, disconnected or done: the next in line goes


def in_line(ticket) -> str:
    """The status line of a run waiting for its turn."""
    ahead, wait = GATE.place(ticket), GATE.estimate(ticket)
    place = "you are next" if ahead == 0 else f"{ahead} {'person' if ahead == 1 else 'people'} ahead of you"
    return f"**waiting in line**: {place}, about {max(1, round(wait / 60))} min"


def render_print(content, style, alpha, log_beta, lr, steps, size, optimizer, init, tv, seed, preview_every,
                 style_scale, pooling, colour, blend, print_name, custom_size, final_steps, colours, transparent,
                 sixteen_bits, second_style=None, progress=gr.Progress()):
    """Render the approved design at print size, coarse to fine, then write the print file and mock-ups."""
    content, styles, base = _inputs(content, style, second_style, (
        alpha, log_beta, lr, steps, size, optimizer, init, tv, seed, preview_every, style_scale, pooling, colour,
        blend))
    try:
        config = print_config(custom_size if print_name == "custom" else print_name, base, int(final_steps))
        result = None
        for result in run_steps(content, styles, config):
            left = result.elapsed / result.iteration * (result.total - result.iteration)
            progress((result.iteration, result.total), desc=f"about {left / 60:.0f} min left", unit="iterations")
            yield _shrunk(result.to_pil()), status(result), None, None, gr.DownloadButton(visible=False)
        prune_results()
        RESULTS.mkdir(parents=True, exist_ok=True)
        suffix = ".tif" if sixteen_bits else ".png"
        files = export_design(result.image, RESULTS / f"tee-print-{uuid.uuid4().hex[:12]}{suffix}", content,
                              bits=16 if sixteen_bits else 8, transparent=bool(transparent),
                              colours=int(colours), mockups=True)
    except (ImageError, DivergenceError, DoesNotFitError, ValueError) as error:
        raise _readable(error, content, style, second_style) from None
    width, height = result.image.shape[-1], result.image.shape[-2]
    download = gr.DownloadButton(f"Download print file ({width}×{height}, {suffix[1:].upper()})",
                                 value=str(files.design), visible=True)
    yield _shrunk(result.to_pil()), status(result), str(files.tee), str(files.mug), download


def _at_size(picture, size: int):
    """A quick sketch's half-size frame enlarged, so the picture on the page keeps its size."""
    if max(picture.size) >= size:
        return picture
    scale = size / max(picture.size)
    return picture.resize((round(picture.width * scale), round(picture.height * scale)), Image.BICUBIC)


def _shrunk(picture):
    """A print-size frame scaled down for the browser."""
    picture.thumbnail((PREVIEW_SIDE, PREVIEW_SIDE))
    return picture


def status(step) -> str:
    losses = step.losses
    state = "done" if step.done else "painting"
    line = (f"**{state}**: iteration {step.iteration} / {step.total} in {step.elapsed:.1f} s · "
            f"content {losses.content:.3g} · style {losses.style:.3g}")
    return line + (f"\n\n⚠️ {step.note}" if step.note else "")


def save_result(picture) -> gr.DownloadButton:
    """The finished picture as a full-resolution PNG behind a download button."""
    prune_results()
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"tee-style-{uuid.uuid4().hex[:12]}.png"
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


def apply_preset(name: str):
    """The controls set to a preset's values."""
    config = PRESETS[name]
    return (config.content_weight, _log10(config.style_weight), config.lr, config.steps, config.size,
            config.optimizer, config.init, config.tv_weight, config.seed, config.preview_every,
            config.style_scale, config.pooling, config.colour)


def _log10(value: float) -> float:
    return round(math.log10(value), 2)


def build_demo() -> gr.Blocks:
    """The page: inputs on the left, the live picture and its progress on the right."""
    with gr.Blocks(title="Tee Style Studio", delete_cache=(3600, 3600)) as demo:
        gr.Markdown("# Tee Style Studio\nPaint a photo in the style of a painting, for tees, mugs and "
                    "stickers. Pick or upload a photo and a painting, then press **Paint**.")
        gr.Markdown(f"Device: `{DEVICE}` · Backbone: {BACKBONE.label}", elem_id="backend")
        with gr.Row():
            with gr.Column(scale=1):
                with gr.Row():
                    content = PictureUpload(str(ASSETS / PHOTOS[0]), type="filepath", label="Photo",
                                       sources=["upload", "clipboard"], height=220, elem_id="content")
                    style = PictureUpload(str(ASSETS / PAINTINGS[0]), type="filepath", label="Painting",
                                     sources=["upload", "clipboard"], height=220, elem_id="style")
                photos = gr.Gallery([str(ASSETS / name) for name in PHOTOS], label="Example photos",
                                    columns=3, height=120, allow_preview=False, buttons=[], elem_id="photos")
                paintings = gr.Gallery([str(ASSETS / name) for name in PAINTINGS], label="Example paintings",
                                       columns=3, height=120, allow_preview=False, buttons=[],
                                       elem_id="paintings")
                preset = gr.Radio(list(PRESETS), value="default", label="Preset",
                                  info="default: finished picture · preview: quick look · seed: the original recipe")
                alpha = Slider(0, 10, DEFAULTS.content_weight, step=0.05, label="Content weight α",
                               info="how much of the photo to keep")
                log_beta = Slider(3, 9, _log10(DEFAULTS.style_weight), step=0.1, label="Style weight log₁₀ β",
                                  info="6 means β = 1e6, the balanced default; 7 paints ten times harder")
                lr = Slider(0.001, 2, DEFAULTS.lr, step=0.001, label="Learning rate",
                            info="L-BFGS: about 1 · Adam: 0.003 to 0.05")
                steps = Slider(10, 3000, DEFAULTS.steps, step=10, label="Steps")
                with gr.Accordion("Advanced", open=False):
                    size = Slider(64, MAX_LIVE_SIZE, DEFAULTS.size, step=16, label="Size (longest side, px)")
                    optimizer = gr.Radio(list(OPTIMIZERS), value=DEFAULTS.optimizer, label="Optimizer")
                    init = gr.Radio(list(INITS), value=DEFAULTS.init, label="Start from")
                    tv = Slider(0, 100, DEFAULTS.tv_weight, step=0.5, label="Smoothing (total variation)")
                    seed = Number(DEFAULTS.seed, precision=0, minimum=0, label="Seed (for noise start)")
                    preview_every = Slider(1, 100, DEFAULTS.preview_every, step=1,
                                           label="Preview every N iterations")
                    style_scale = Slider(0.25, 2, DEFAULTS.style_scale, step=0.05,
                                         label="Style scale (larger: bigger brush strokes)")
                    pooling = gr.Radio(list(POOLINGS), value=DEFAULTS.pooling, label="Pooling")
                    colour = gr.Radio(list(COLOURS), value=DEFAULTS.colour, label="Colours",
                                      info="style: the painting's · luminance / keep: the photo's · "
                                           "histogram: the painting recoloured to the photo's palette")
                    second_style = PictureUpload(None, type="filepath", label="Second painting (optional)",
                                                 sources=["upload", "clipboard"], height=160, elem_id="style2")
                    blend = Slider(0, 1, 0.5, step=0.05, label="Blend (share of the second painting)")
                    quick_start = gr.Checkbox(True, label="Quick first look",
                                              info="a half-size sketch first: a picture in a second or two")
                with gr.Row():
                    run = gr.Button("Paint", variant="primary", elem_id="run")
                    stop = gr.Button("Stop", variant="stop", elem_id="stop")
            with gr.Column(scale=1):
                picture = gr.Image(label="Painting in progress", type="pil", format="png", interactive=False,
                                   buttons=["download", "fullscreen"], height=520, elem_id="result")
                progress_line = gr.Markdown("Press **Paint** to start.", label="Status", elem_id="status")
                download = gr.DownloadButton("Download PNG", visible=False, elem_id="download")
                plot = gr.LinePlot(x="iteration", y="loss", color="term", label="Loss (weighted terms)",
                                   height=220, elem_id="plot")
                with gr.Accordion("Print: render the approved design at print size", open=False, elem_id="print"):
                    gr.Markdown("Paints coarse to fine up to the print size in exact tiles (no seams), then "
                                "writes a 300 dpi file with an sRGB profile and shows it on a tee and a mug. "
                                "A tee front takes a while on a CPU.")
                    with gr.Row():
                        print_name = gr.Dropdown([*PRINT_PRESETS, "custom"], value="tee", label="Print size",
                                                 info=" · ".join(f"{n} {w}×{h}" for n, (w, h) in PRINT_PRESETS.items()))
                        custom_size = gr.Textbox("2000x2000", label="Custom size (W×H px)")
                    with gr.Row():
                        final_steps = Slider(1, 100, FINAL_STEPS, step=1, label="Steps at print size")
                        colours = Slider(0, 16, 0, step=1, label="Ink colours (0: full colour)")
                    with gr.Row():
                        transparent = gr.Checkbox(False, label="Transparent background (sticker)")
                        sixteen_bits = gr.Checkbox(False, label="16-bit TIFF")
                    render = gr.Button("Render print", variant="primary", elem_id="render")
                    print_status = gr.Markdown("", elem_id="print-status")
                    with gr.Row():
                        tee = gr.Image(label="On a tee", type="filepath", interactive=False, elem_id="tee")
                        mug = gr.Image(label="On a mug", type="filepath", interactive=False, elem_id="mug")
                    print_download = gr.DownloadButton("Download print file", visible=False,
                                                       elem_id="print-download")

        controls = [alpha, log_beta, lr, steps, size, optimizer, init, tv, seed, preview_every, style_scale,
                    pooling, colour]
        ui_only = {"api_visibility": "private", "queue": False}  # page conveniences, not API endpoints
        photos.select(_pick(PHOTOS), None, content, **ui_only)
        paintings.select(_pick(PAINTINGS), None, style, **ui_only)
        preset.change(apply_preset, preset, controls, **ui_only)
        optimizer.change(LR_FOR.get, optimizer, lr, **ui_only)
        painting = run.click(paint, [content, style, *controls, blend, second_style, quick_start],
                             [picture, progress_line, plot, download], api_name="paint",
                             show_progress_on=progress_line, concurrency_limit=None)  # GATE keeps the line
        printing = render.click(render_print, [content, style, *controls, blend, print_name, custom_size,
                                               final_steps, colours, transparent, sixteen_bits, second_style],
                                [picture, print_status, tee, mug, print_download], api_name="print",
                                show_progress_on=print_status, concurrency_limit=1)  # one print at a time
        stop.click(lambda: STOPPED, None, progress_line, cancels=[painting, printing], **ui_only)
    return demo


def _pick(names: tuple[str, ...]):
    def pick(selection: gr.SelectData) -> str:
        return str(ASSETS / names[selection.index])

    return pick


demo = build_demo()


def main() -> None:
    global WORKSHOP
    print(f"backbone: {BACKBONE.description}; device {DEVICE}")  # the full story, for whoever runs the server
    parser = argparse.ArgumentParser(description="Run the Tee Style Studio web app.")
    parser.add_argument("--host", default=None, help="address to listen on (default: $GRADIO_SERVER_NAME or 127.0.0.1)")
    parser.add_argument("--port", type=int, default=None, help="port (default: $GRADIO_SERVER_PORT or 7860)")
    parser.add_argument("--concurrency", type=int, default=GATE.slots,
                        help="live runs at once (default: $NST_CONCURRENCY, or 1 on a CPU and 2 on a GPU)")
    parser.add_argument("--queue-size", type=int, default=GATE.line,
                        help="people waiting at most (default: $NST_QUEUE_SIZE or 30); more are told the queue is full")
    parser.add_argument("--workshop", type=int, nargs="?", const=8, default=int(os.environ.get("NST_WORKSHOP", "0")),
                        metavar="N", help="workshop mode: paint up to N people's runs of one size and settings "
                                          "as one batch (default N 8; best on a GPU)")
    args = parser.parse_args()
    slots = args.concurrency
    if args.workshop:
        WORKSHOP = Workshop(BACKBONE, DEVICE, max_batch=args.workshop)
        slots = max(slots, args.workshop)  # every member of a batch holds a slot while it paints
    GATE.configure(slots=slots, line=args.queue_size)
    # Gradio's own queue only passes jobs on (the line above keeps the order and says who waits); its
    # limit is roomier than the line's so a burst hears the line's message, with the number waiting.
    demo.queue(max_size=2 * (args.queue_size + slots), default_concurrency_limit=1)
    demo.launch(server_name=args.host, server_port=args.port, max_threads=max(40, 2 * (slots + args.queue_size)))


if __name__ == "__main__":
    main()
