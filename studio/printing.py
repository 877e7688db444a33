"""The print's handlers: the estimate and the print area before Render print, the print job and its
watchers, fetching a print by its id, and reopening one by its link as it was asked for."""

from __future__ import annotations

import dataclasses
import statistics

import gradio as gr
from PIL import Image

from nst_core import ImageError
from nst_core.export import PRINT_PRESETS, content_alpha, print_size
from nst_core.images import crop_to_aspect, open_image
from nst_core.memory import DoesNotFitError
from nst_core.printing import Placement, design_mask, export_design, place_design, print_area, print_config

from .controls import EXTRAS, NAMES, PRINT_INPUTS, SHAPES, StyleConfig, _inputs, _readable, refusal, taking
from .costs import Scale, in_words
from .jobs import RESTARTED, Job
from .painting import HEARTBEAT, status
from .regions import check_regions
from .room import PRINTS, beside_a_print, execute, result_name, sharing
from .server import TYPICAL_PHOTO, engine

PREVIEW_SIDE = 1024  # print-size frames are shown this large; the file itself keeps every pixel
AREA_SIDE = 320  # the print area's picture: enough to see where the design lands, small enough for a phone
PICTURES = ("content", "style", "second_style", "regions", "approved")  # a print's files: copied into its job
# A print's own settings, kept with its job and given back to their boxes, in this order, when its link is opened.
KEPT = ("print_name", "custom_size", "final_steps", "colours", "transparent", "sixteen_bits", "fit")
# What open_print gives back after the print's own outputs: its uploads and KEPT, the Print section, the main line.
REOPENED = ("content", "style", "second_style", *KEPT, "print_section", "status")
STATES = {"waiting": "waiting for the print before it", "painting": "painting now", "done": "done",
          "failed": "not made", "stopped": "stopped", "lost": "lost when the server restarted"}


def _plan(values: dict, base: StyleConfig, photo: tuple[int, int]) -> tuple[StyleConfig, Image.Image | None,
                                                                             Placement, float]:
    """The print's config, the approved picture it refines (if any), where the design lands in the print, and
    the design's aspect: the approved picture's, else the chosen shape's, else the photo's. With "fit" the
    design is painted in its own shape inside the print; with "fill", at the print's, its photo cropped."""
    name = values["print_name"]
    size = print_size(values["custom_size"] if name == "custom" else name)
    approved = open_image(values["approved"]) if values.get("approved") else None
    width, height = approved.size if approved else photo
    aspect = width / height if approved or not base.aspect else base.aspect
    placement = place_design(aspect, size, values.get("fit") or "fit", top_aligned=name == "tee")
    config = print_config(placement.design, base, int(values["final_steps"]),
                          start_side=max(approved.size) if approved else 0)
    return config, approved, placement, aspect


CORRECTED_BY = 5  # the newest prints painted here whose times correct the next print's estimate


def print_correction() -> float:
    """How far the newest finished prints took from the cost model's estimate of them now, alone (a print
    beside live runs counts at the pace it was expected to share): setting up and writing a print file cost
    what the model of live runs does not see."""
    ratios = [job.took / job.slower / engine().costs.run([Scale(*scale) for scale in job.scales])
              for job in PRINTS.finished(CORRECTED_BY)]
    return min(3.0, max(1 / 3, statistics.median(ratios))) if ratios else 1.0


def print_seconds(config: StyleConfig, photo: tuple[int, int]) -> tuple[float, list]:
    """Seconds a print of `config` takes alone on this server (the cost model's, corrected by the prints that
    ran), and its scales as a job records them."""
    countdown = engine().countdown(config, photo)
    return countdown.total * print_correction(), _recorded(countdown)


def _recorded(countdown) -> list:
    """A countdown's scales as a print job keeps them (JSON)."""
    return [list(dataclasses.astuple(scale)) for scale in countdown.scales]


def print_estimate(content, print_name, custom_size, final_steps, approved, shape, fit="fit") -> str:
    """Before Render print: how long it will take, from the approved picture or from the photo, and how the
    design meets the print area when their shapes differ."""
    if not content:
        return "Choose a photo first."
    try:
        values = {"print_name": print_name, "custom_size": custom_size, "final_steps": final_steps,
                  "approved": approved, "fit": fit}
        photo = open_image(content).size
        config, _, placement, aspect = _plan(values, engine().default.replace(aspect=SHAPES[shape or "photo"][1]),
                                             photo)
        seconds, _ = print_seconds(config, photo)
    except (ValueError, TypeError, ImageError, KeyError):
        return ""
    start = "refining the picture above" if approved else "painting from the photo (no approved picture yet)"
    beside, why = beside_a_print()
    return (f"Takes {in_words(sharing(seconds, beside))} on this server, {start}" + (f" ({why})" if why else "")
            + _fitting(placement, aspect, fit, print_name))


def print_times() -> str:
    """How long each print size takes on this server from the photo, in a sentence for the API's callers."""
    times = []
    for name in PRINT_PRESETS:
        config, *_ = _plan({**PRINT_INPUTS, "print_name": name}, engine().default, TYPICAL_PHOTO)
        times.append(f"{name} {in_words(print_seconds(config, TYPICAL_PHOTO)[0])}")
    return (f"On this server, from a {TYPICAL_PHOTO[0]}×{TYPICAL_PHOTO[1]} photo with nothing else painting: "
            + ", ".join(times) + f" (print_name; {PRINT_INPUTS['print_name']} when left out).")


def _fitting(placement: Placement, aspect: float, fit: str, name: str) -> str:
    """How a design of another shape than the print meets it, in words ("" when the shapes agree)."""
    fitted = place_design(aspect, placement.size, "fit", top_aligned=name == "tee")
    if not fitted.padded:
        return ""
    area = "the print" if name == "custom" else f"the {name}"
    wider = aspect > placement.size[0] / placement.size[1]
    if fit == "fill":
        return (f"\n\nThe design's {'left and right' if wider else 'top and bottom'} are cropped to fill {area} "
                "(choose \"Fit the whole design\" to keep all of it).")
    where = ("below it" if fitted.box[1] == 0 else "above and below it") if wider else "on its left and right"
    width, height = fitted.design
    return (f"\n\nThe whole design fits in {area}: {width}×{height} px of its {placement.size[0]}×"
            f"{placement.size[1]}, the rest {where} left transparent.")


def print_area_preview(picture, content, print_name, custom_size, fit, shape, transparent) -> Image.Image | None:
    """Before Render print: the picture above (before there is one, the photo in the design's shape) where it
    lands in the print area, as the print will be; its transparent parts over a checkerboard."""
    if not (picture or content):
        return None
    try:
        design = open_image(picture or content)
        if not picture and SHAPES[shape or "photo"][1]:
            design = crop_to_aspect(design, SHAPES[shape or "photo"][1])
        design.thumbnail((2 * AREA_SIDE, 2 * AREA_SIDE))
        alpha = content_alpha(picture) if picture else None  # the parts its regions left out
        if alpha is None and transparent and content:
            alpha = content_alpha(content)  # the sticker's cut-out, before there is a picture
        if alpha is not None:
            design.putalpha(design_mask(alpha, design.size))
        size = print_size(custom_size if print_name == "custom" else print_name)
        return print_area(design, size, fit or "fit", top_aligned=print_name == "tee", side=AREA_SIDE)
    except (ValueError, TypeError, KeyError, ImageError):  # a half-typed custom size: no picture until it reads
        return None


@taking("content", "style", *NAMES, *EXTRAS, *PRINT_INPUTS)
def render_print(*values):
    """Render the approved picture at print size (coarse to fine from it, against the full-size photo) as a
    job that survives the page or the call, then its print file (PNG, or 16-bit TIFF) and tee and mug
    mock-ups; streams (preview, status line, tee, mug, print file, job id) until the print ends. With its job
    id, fetch_print gets the print for a day after it ends.

    Takes minutes on a GPU and up to about an hour for a tee print on a 2-core CPU (the server that runs it
    says how long each size takes there).
    """
    settings = dict(zip(("content", "style", *NAMES, *EXTRAS, *PRINT_INPUTS), values))
    yield from watch(start_print(settings))


def start_print(settings: dict) -> Job:
    """A print job for the page's settings (its pictures by path), queued behind the prints before it. The job
    keeps copies of its pictures and every setting, so that its link shows it again as it was asked for, and a
    server restarted while it painted paints it again (`resume_print`)."""
    settings = {**EXTRAS, **PRINT_INPUTS, **settings}  # a caller may leave the print's own settings out
    title, countdown, work, scales, alone = _prepared(settings)
    kept = {name: value for name, value in settings.items() if name not in PICTURES}
    return PRINTS.start(title, countdown.total, work, countdown, settings=kept,
                        uploads={"content": settings["content"],
                                 "styles": [settings["style"], settings.get("second_style")],
                                 "approved": settings.get("approved"), "regions": settings.get("regions")},
                        scales=scales, slower=countdown.total / alone)


def resume_print(job: Job):
    """The work of a print that was waiting or painting when the server stopped, from its copies: it starts
    again from its approved design. None for a job that kept too little to paint again (an older one)."""
    content, styles = job.uploaded("content"), job.uploaded("styles")
    if not (content and styles and set(NAMES) <= set(job.settings)):
        return None
    approved, regions = job.uploaded("approved"), job.uploaded("regions")
    settings = {**job.settings, "content": str(content[0]), "style": str(styles[0]),
                "second_style": str(styles[1]) if len(styles) > 1 else None,
                "approved": str(approved[0]) if approved else None, "regions": str(regions[0]) if regions else None}
    _, job.countdown, work, _, _ = _prepared(settings)
    return work


def _prepared(settings: dict):
    """A print's title, countdown, work (for PrintJobs), scales and seconds alone, from its settings; a bad
    picture or setting is refused now, not an hour later."""
    content, styles, base = _inputs(settings)
    try:
        photo, *_ = (open_image(image) for image in (content, *styles))  # a bad file is refused now, not in an hour
        config, approved, placement, _ = _plan(settings, base, photo.size)
    except (ImageError, DoesNotFitError, ValueError) as error:
        raise _readable(error, content, styles[0], settings.get("second_style"), settings.get("approved")) from None
    costlier = check_regions(settings["regions"], content, styles)
    countdown = engine().countdown(config, photo.size)  # one plan: its total, corrected, and its scales
    alone, scales = countdown.total * print_correction(), _recorded(countdown)
    beside, _ = beside_a_print()
    countdown.total = sharing(alone * costlier, beside)
    width, height = placement.size

    def work(job: Job):
        result = None
        for result in execute(content, styles, config, start=approved, regions=settings["regions"]):
            yield result, countdown.update(result)
        suffix = ".tif" if settings["sixteen_bits"] else ".png"
        files = export_design(result.image, job.folder / result_name(content, styles[0], f"-{width}x{height}")
                              .replace(".png", suffix), content, bits=16 if settings["sixteen_bits"] else 8,
                              transparent=bool(settings["transparent"]), colours=int(settings["colours"]),
                              mockups=True, placement=placement, alpha=result.alpha)
        shown = job.folder / "picture.png"  # the design in its own shape, for the page's picture
        _shrunk(result.to_pil()).save(shown)
        job.files = {"design": files.design.name, "tee": files.tee.name, "mug": files.mug.name,
                     "picture": shown.name}

    return f"{settings['print_name']} {width}×{height}", countdown, work, scales, alone


def cancel_print_job(print_id: str) -> None:
    """The Print section's Cancel: the print with this id stops at its next update (its line says so)."""
    PRINTS.cancel(print_id)


def print_ended(print_line: str) -> str:
    """The main status line once a print's updates end: it no longer points at a print that is not painting."""
    if "**stopped**" in (print_line or ""):
        return "The print was stopped. Press **Paint** for a new picture, or **Render print** again."
    return "The print has ended: its file, or what went wrong, is in the Print section below."


def _link(job: Job) -> str:
    """The print's link, to click or copy: the page itself with `?print=ID`."""
    return f"[this print's link](?print={job.id}) (or its id) brings it back later"


def _restarted(job: Job) -> str:
    """For a print a server restart interrupted and started again: a line that says so, and why."""
    return f"\n\n*Restarted: {job.message}.*" if job.message == RESTARTED else ""


def watch(job: Job):
    """A print job's updates for the page until it ends; leaving (a closed tab) leaves the job painting."""
    heading = f"Print **{job.id}** · {_link(job)}{_restarted(job)}"
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
        yield preview, f"{heading}\n\n{line}", gr.skip(), gr.skip(), gr.skip(), job.id
    yield from _progress(job)


def fetch_print(print_id: str):
    """A print job's files, or where it stands: (preview, status line, tee, mug, print file, job id), streamed
    until the print ends. An id this server does not know is refused (the Fetch print button and the API); a
    print that ended without a file is said in its status line.

    Args:
        print_id: the print's job id, as render_print (the Render print button) gave it
    """
    job = PRINTS.get(print_id)
    if job is None:
        raise refusal(_unknown(print_id))
    yield from _progress(job)


def _progress(job: Job, reopened: bool = False):
    """fetch_print's updates for a known job; `reopened`: its uploads are back on the page (open_print)."""
    if not job.ended:
        yield from watch(job)
        return
    if job.state != "done":
        approved = job.uploaded("approved") if reopened else []  # the picture Render print starts from
        yield (str(approved[0]) if approved else gr.skip()), _ended(job, reopened), None, None, \
            gr.DownloadButton(visible=False), job.id
        return
    design = job.path("design")
    preview = Image.open(job.path("picture") or design)  # the design in its own shape (older jobs: the print)
    preview.thumbnail((PREVIEW_SIDE, PREVIEW_SIDE))
    download = gr.DownloadButton(f"Download the print file ({job.title}, {design.suffix[1:].upper()})",
                                 value=str(design), visible=True)
    took = f" in {in_words(job.took, about=False)} (estimated {in_words(job.estimate)})" if job.took else ""
    yield preview.convert("RGB"), f"Print **{job.id}** · **done**{took}: {job.title} · {_link(job)}{_restarted(job)}", \
        str(job.path("tee")), str(job.path("mug")), download, job.id


def _ended(job: Job, reopened: bool) -> str:
    """A print that ended without its file, in a sentence: what happened, and what to do now."""
    back = "; your photo and painting are back in their boxes" if reopened and job.uploads else ""
    what = f"Print **{job.id}** ({job.title})"
    if job.state == "lost":
        return (f"{what} was painting when the server restarted, so it was lost: press **Render print** to make "
                f"it again{back}.")
    if job.state == "stopped":
        return f"{what} was stopped before it was finished: press **Render print** to make it again{back}."
    because = f" ({job.message})" if job.message else ""
    return f"{what} could not be made{because}: press **Render print** to try again{back}."


def _unknown(print_id) -> str:
    shown = "".join(character for character in str(print_id) if character.isalnum())[:16]  # it came in a link
    return f"No print with the id {shown!r}: prints are kept for a day after they end."


def _restored(job: Job) -> list:
    """The page's boxes as the print was asked for: its photo, paintings and print settings (left as they
    are for a job from before jobs kept them)."""
    content, styles = job.uploaded("content"), [str(path) for path in job.uploaded("styles")]
    if not content:
        return [gr.skip()] * (3 + len(KEPT))
    return [str(content[0]), styles[0] if styles else gr.skip(), styles[1] if len(styles) > 1 else None,
            *(job.settings.get(name, gr.skip()) for name in KEPT)]


def open_print(print_id: str):
    """The print a link names (`/?print=ID`) as it was asked for: its photo, paintings and print settings back
    in their boxes, the Print section open and the main line saying so, then where the print stands (as
    fetch_print, but an unknown id is said in the print's status line, not as an error)."""
    if not print_id:  # a generator that yields nothing would empty every box it names
        yield (gr.skip(),) * (6 + len(REOPENED))
        return
    job = PRINTS.get(print_id)
    section = gr.Accordion(open=True)
    if job is None:
        line = ("The link names a print this server no longer has (see the **Print** section); press **Paint** "
                "to start.")
        yield gr.skip(), _unknown(print_id), *[gr.skip()] * (4 + len(REOPENED) - 2), section, line
        return
    line = f"Print **{job.id}** reopened: {job.title}, {STATES[job.state]}; it is in the **Print** section below."
    reopened = (*_restored(job), section, line)
    for index, update in enumerate(_progress(job, reopened=True)):
        yield (*update, *(reopened if index == 0 else [gr.skip()] * len(reopened)))


def _shrunk(picture):
    """A print-size frame scaled down for the browser."""
    picture.thumbnail((PREVIEW_SIDE, PREVIEW_SIDE))
    return picture
