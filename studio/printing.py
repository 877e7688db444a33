"""The print's handlers: the estimate before Render print, the print job and its watchers, fetching a
print by its id or link."""

from __future__ import annotations

import gradio as gr
from PIL import Image

from nst_core import ImageError
from nst_core.export import print_size
from nst_core.images import open_image
from nst_core.memory import DoesNotFitError
from nst_core.printing import export_design, print_config

from .controls import EXTRAS, NAMES, PRINT_INPUTS, SHAPES, StyleConfig, _inputs, _readable, refusal, taking
from .costs import in_words
from .jobs import Job
from .painting import HEARTBEAT, status
from .room import PRINTS, beside_a_print, execute, result_name, sharing
from .server import engine

PREVIEW_SIDE = 1024  # print-size frames are shown this large; the file itself keeps every pixel


def _print_config(values: dict, base: StyleConfig) -> tuple[StyleConfig, object]:
    name = values["print_name"]
    size = values["custom_size"] if name == "custom" else name
    approved = open_image(values["approved"]) if values.get("approved") else None
    return print_config(size, base, int(values["final_steps"]), start_side=max(approved.size) if approved else 0), \
        approved


def print_estimate(content, print_name, custom_size, final_steps, approved, shape) -> str:
    """Before Render print: how long it will take, from the approved picture or from the photo."""
    if not content:
        return "Choose a photo first."
    try:
        values = {"print_name": print_name, "custom_size": custom_size, "final_steps": final_steps,
                  "approved": approved}
        config, _ = _print_config(values, engine().default.replace(aspect=SHAPES[shape or "photo"][1]))
        seconds = engine().countdown(config, open_image(content).size).total
    except (ValueError, TypeError, ImageError, KeyError):
        return ""
    start = "refining the picture above" if approved else "painting from the photo (no approved picture yet)"
    beside, why = beside_a_print()
    return f"Takes {in_words(sharing(seconds, beside))} on this server, {start}" + (f" ({why})" if why else "")


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
    beside, _ = beside_a_print()
    countdown.total = sharing(countdown.total, beside)
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

    job = PRINTS.start(f"{settings['print_name']} {width}×{height}", countdown.total, work, countdown)
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
        if job.state == "waiting":
            line = f"waiting for the print before it ({in_words(job.estimate)} once it starts)"
        elif step is None:
            line = f"**starting**: the print's first picture comes in a moment; all of it takes {in_words(job.estimate)}"
        else:
            line = status(step, job.left, job.countdown)
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
